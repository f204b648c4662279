//! `ksbridge heapdump <TARGET> <FILE>`: `HotSpotDiagnostic.dumpHeap`. The
//! target JVM writes the file, on its own host and with its own user's
//! rights; an existing path is refused.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::jvm::Target;

use super::console::with_session;
use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Where the target writes the dump (must end in .hprof; relative paths
    /// are taken from ksbridge's working directory for a local pid).
    pub file: PathBuf,

    /// Dump every object, not only reachable ones (no full GC first).
    #[arg(long)]
    pub all: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let local = matches!(args.target.resolve()?, Some(Target::Pid(_)));
    let mut file = args.file.clone();
    if file.extension().and_then(|e| e.to_str()) != Some("hprof") {
        anyhow::bail!("{}: a heap dump file must end in .hprof", file.display());
    }
    if file.is_relative() {
        if !local {
            anyhow::bail!(
                "{}: give an absolute path: a remote target writes it on its own host",
                file.display()
            );
        }
        file = std::env::current_dir()?.join(file);
    }
    // The target refuses an existing file too; for a local pid say so before asking it.
    if local && file.exists() {
        eprintln!("ksbridge: {} exists; not overwriting it", file.display());
        return Ok(ExitCode::from(super::EXIT_FAILURE));
    }
    let path = file.to_string_lossy().to_string();
    let live = !args.all;
    let r = with_session(&args.target, move |s| async move {
        s.dump_heap(&path, live).await
    })?;
    if let Err(code) = r {
        return Ok(code);
    }
    println!(
        "heap dump written by the target JVM to {} on the target's host{}",
        file.display(),
        if local { "" } else { " (not this machine)" }
    );
    Ok(ExitCode::SUCCESS)
}
