//! `wasix-rt validate FILE`: whether wasix-rt accepts a module (or an artifact) without
//! compiling or running it.

use super::EXIT_ERROR;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The module (.wasm or .wat) or compiled artifact (.cwasm) to check.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

/// Exit 0 and `FILE: valid` on stdout when the module is valid WebAssembly that uses only the
/// proposals wasix-rt implements (an artifact: when this wasix-rt loads it, its checksum
/// included); else exit 1 and one line on stderr: the byte offset of the problem, and the
/// proposal's name when the module needs one wasix-rt does not implement.
pub fn run(args: ValidateArgs) -> i32 {
    let file = args.file.display();
    let result = std::fs::read(&args.file)
        .map_err(|e| e.to_string())
        .and_then(|bytes| {
            if wasix_rt::cache::is_artifact(&bytes) {
                let a = wasix_rt::cache::describe(&bytes)?;
                return match super::inspect::loads(&args.file, &a) {
                    None => Ok(()),
                    Some(why) => Err(why),
                };
            }
            let wasm = wasix_rt::to_binary(&bytes).map_err(|e| e.to_string())?;
            wasix_rt::module::validate(&wasm).map_err(|e| e.to_string())
        });
    match result {
        Ok(()) => {
            println!("{file}: valid");
            0
        }
        Err(e) => {
            eprintln!("error: {file}: {e}");
            EXIT_ERROR
        }
    }
}
