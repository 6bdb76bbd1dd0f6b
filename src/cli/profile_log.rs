//! `wasix-rt profile-log FILE`: the per-call table from a trace log.

use super::EXIT_ERROR;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ProfileLogArgs {
    /// A log written by `RUST_LOG=trace wasix-rt run ... 2> FILE` (`-` reads stdin).
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

pub fn run(args: ProfileLogArgs) -> i32 {
    let text = if args.file.as_os_str() == "-" {
        let mut s = String::new();
        if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut s) {
            eprintln!("error: reading stdin: {e}");
            return EXIT_ERROR;
        }
        s
    } else {
        match std::fs::read(&args.file) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                eprintln!("error: {}: {e}", args.file.display());
                return EXIT_ERROR;
            }
        }
    };
    let profile = wasix_rt::profile::from_trace_log(&text);
    if profile.calls.is_empty() {
        eprintln!(
            "error: no span-close lines (run with RUST_LOG=trace) in {}",
            args.file.display()
        );
        return EXIT_ERROR;
    }
    print!("{}", wasix_rt::profile::render_calls(&profile));
    0
}
