//! `ksbridge dcmd <TARGET> [COMMAND] [ARGS...]`: any diagnostic command the
//! target's DiagnosticCommand MBean offers (what `jcmd` runs, over JMX);
//! without a command, the list of them.

use std::io::Write;
use std::process::ExitCode;

use super::console::with_session;
use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,

    /// e.g. `Thread.print`, `VM.flags`, `VM.system_properties`, `GC.heap_info`.
    pub command: Option<String>,

    /// The command's own arguments, e.g. `-all` or `name=rec1`.
    #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
    pub args: Vec<String>,

    /// With no command: print the list as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some(command) = args.command.clone() else {
        let r = with_session(&args.target, |s| async move { s.dcmds().await })?;
        let list = match r {
            Ok(l) => l,
            Err(code) => return Ok(code),
        };
        let mut out = std::io::stdout().lock();
        if args.json {
            serde_json::to_writer_pretty(&mut out, &list)?;
            writeln!(out)?;
        } else {
            let w = list.iter().map(|d| d.name.len()).max().unwrap_or(0);
            for d in &list {
                let desc = d.description.as_deref().unwrap_or("");
                let first = desc.split(". ").next().unwrap_or("");
                writeln!(out, "{:w$}  {}", d.name, first.trim_end_matches('.'))?;
            }
        }
        return Ok(ExitCode::SUCCESS);
    };
    let values = args.args.clone();
    let r = with_session(&args.target, move |s| async move {
        s.dcmd(&command, &values).await
    })?;
    match r {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            write!(out, "{text}")?;
            if !text.ends_with('\n') {
                writeln!(out)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(code) => Ok(code),
    }
}
