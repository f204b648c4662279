//! The `ksbridge` binary: parse flags, set up logging, dispatch to a subcommand.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = ksbridge::cli::Cli::parse();
    ksbridge::cli::init_tracing(cli.log_level.as_deref());
    match ksbridge::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ksbridge: {e:#}");
            ExitCode::from(ksbridge::cli::EXIT_FAILURE)
        }
    }
}
