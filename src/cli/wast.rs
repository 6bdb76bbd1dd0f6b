//! `wasix-rt wast`: run spec test scripts.

use super::EXIT_ERROR;
use clap::Args;
use std::path::PathBuf;
use wasix_rt::Engine;

#[derive(Debug, Args)]
pub struct WastArgs {
    /// The .wast scripts to run, in order.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Print at most N failure messages per script (0 prints them all).
    #[arg(long, value_name = "N", default_value_t = 20)]
    max_failures: usize,
}

/// Runs every script, prints one line per script and a totals line; returns the exit status.
pub fn run(args: WastArgs) -> i32 {
    let engine = Engine::default();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut unreadable = false;
    for file in &args.files {
        match wasix_rt::wast::run_wast_file_with(&engine, file) {
            Ok(report) => {
                println!("{}", report.summary_line());
                let shown = if args.max_failures == 0 {
                    report.failures.len()
                } else {
                    args.max_failures.min(report.failures.len())
                };
                for failure in &report.failures[..shown] {
                    println!("  {failure}");
                }
                if shown < report.failures.len() {
                    println!("  ... and {} more", report.failures.len() - shown);
                }
                passed += report.passed;
                failed += report.failed;
                skipped += report.skipped;
            }
            Err(e) => {
                println!("FAIL {}: cannot run script", file.display());
                eprintln!("error: {e}");
                unreadable = true;
            }
        }
    }
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 || unreadable {
        EXIT_ERROR
    } else {
        0
    }
}
