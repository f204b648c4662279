//! The `ksbridge` binary: parse flags, set up logging, dispatch to a subcommand.

use std::process::ExitCode;

fn main() -> ExitCode {
    ksbridge::jvm::limit_malloc_arenas();
    let cli = match ksbridge::cli::parse(std::env::args_os().collect()) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    // `top` owns the terminal: its errors show in its rows, not as log lines.
    let filter = if cli.command.owns_terminal() {
        Some("off")
    } else {
        cli.log_level.as_deref()
    };
    ksbridge::cli::init_tracing(filter);
    match ksbridge::cli::run(cli) {
        Ok(code) => code,
        // A closed stdout (`ksbridge mbeans .. | head`) is not an error.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ksbridge: {e:#}");
            ExitCode::from(ksbridge::cli::EXIT_FAILURE)
        }
    }
}
