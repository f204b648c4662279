//! `ksbridge invoke <TARGET> <OBJECTNAME> <OPERATION> [ARGS...]`: JConsole's
//! Operations tab. Arguments are converted from strings by the operation's
//! declared signature; the result is printed (strings bare, the rest as JSON).

use std::io::Write;
use std::process::ExitCode;

use crate::console::operations::result_text;

use super::console::with_session;
use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,

    /// The bean's ObjectName.
    pub object_name: String,

    /// The operation: its name, or `name(int,java.lang.String)` when it is overloaded.
    /// `ksbridge mbeans TARGET NAME --ops` lists them.
    pub operation: String,

    /// Arguments in the declared order (arrays as comma-separated lists).
    #[arg(allow_negative_numbers = true)]
    pub args: Vec<String>,

    /// Print {"operation", "returnType", "resultClass", "result"}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (name, op, values) = (
        args.object_name.clone(),
        args.operation.clone(),
        args.args.clone(),
    );
    let r = with_session(&args.target, move |s| async move {
        s.invoke(&name, &op, &values).await
    })?;
    let res = match r {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &res)?;
        writeln!(out)?;
    } else if res.return_type != "void" {
        writeln!(out, "{}", result_text(&res.result))?;
    }
    Ok(ExitCode::SUCCESS)
}
