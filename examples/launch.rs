//! Runs a WASI or WASIX program the way `wasix-rt run` does, through the library's launcher:
//!
//!     cargo run --release --example launch -- prog.wasm [ARGS...]
//!
//! The current directory is mounted where it is (a WASIX program starts there); the exit
//! status is the program's own, 3 for a trap, 128 + N for a signal N.

use wasix_rt::launcher::{imports_wasix, Program};
use wasix_rt::wasi::WasiCtxBuilder;
use wasix_rt::{Engine, Module};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(file) = args.first() else {
        eprintln!("usage: launch FILE.wasm [ARGS...]");
        std::process::exit(2);
    };
    let engine = Engine::default();
    let module = Module::from_file(&engine, file)?;
    let cwd = std::env::current_dir()?;
    let ctx = WasiCtxBuilder::new()
        .args(args.iter().cloned())
        .wasix(imports_wasix(&module))
        .preopen_dir(&cwd, cwd.to_string_lossy())
        .build()?;
    let mut program = Program::new(&module, ctx)?;
    let exit = program.run()?;
    program.finish();
    if let Some(message) = &exit.message {
        eprintln!("error: {message}");
    }
    std::process::exit(exit.status);
}
