//! The `wasix-rt` command-line tool.

mod cli;

fn main() {
    cli::exit(cli::main());
}
