//! `ksbridge mbeans <TARGET> [PATTERN]`: the JConsole MBeans tab as text or JSON.

use std::io::Write;
use std::process::ExitCode;

use crate::jmx::Snapshot;

use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,

    /// ObjectName pattern, e.g. 'kafka.streams:*' or 'kafka.streams:type=stream-metrics,*'.
    #[arg(default_value = "*:*")]
    pub pattern: String,

    /// Print a JSON array of {"name", "attributes": {attr: {"type", "value"}}}.
    #[arg(long)]
    pub json: bool,

    /// List each bean's operations with their signatures instead of its attributes.
    #[arg(long)]
    pub ops: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.ops {
        return super::console::run_ops(&args.target, &args.pattern, args.json);
    }
    let result = match args.target.read_once(vec![args.pattern.clone()])? {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    for p in &result.problems {
        eprintln!("ksbridge: {}: {}", p.bean, p.error);
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &result.snapshot.to_json())?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &result.snapshot)?;
    }
    if result.snapshot.beans.is_empty() {
        eprintln!("ksbridge: no MBean matches {}", args.pattern);
        return Ok(ExitCode::from(super::EXIT_NOT_FOUND));
    }
    Ok(ExitCode::SUCCESS)
}

/// One block per bean: its name, then `attribute  type  value` lines.
pub fn write_text(out: &mut impl Write, snap: &Snapshot) -> std::io::Result<()> {
    for b in &snap.beans {
        writeln!(out, "{}", b.name)?;
        let w = b.attributes.iter().map(|a| a.name.len()).max().unwrap_or(0);
        let tw = b
            .attributes
            .iter()
            .map(|a| a.value.java_class().unwrap_or("null").len())
            .max()
            .unwrap_or(0);
        for a in &b.attributes {
            let ty = a.value.java_class().unwrap_or("null");
            let v = a.value.display().replace('\n', "\\n");
            writeln!(out, "  {:w$}  {:tw$}  {}", a.name, ty, v)?;
        }
        writeln!(out)?;
    }
    Ok(())
}
