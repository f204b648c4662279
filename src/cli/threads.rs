//! `ksbridge threads <TARGET>`: the thread dump (`jstack`) with deadlocks
//! first, or `--top N`: the busiest threads over an interval from two
//! samples of per-thread CPU time. Kafka Streams threads carry their app and tasks.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::console::threads;

use super::console::with_session;
use super::target::TargetArgs;
use crate::settings::parse_duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,

    /// List the N busiest threads over --interval instead of the dump.
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,

    /// Time between the two CPU samples of --top.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub interval: Duration,

    /// Print JSON (the dump, or the --top rows).
    #[arg(long)]
    pub json: bool,
}

/// Exit code when the dump shows a deadlock (so scripts can alert on it).
pub const EXIT_DEADLOCK: u8 = super::EXIT_CHECK_FAILED;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let json = args.json;
    if let Some(n) = args.top {
        let interval = args.interval;
        let r = with_session(&args.target, move |s| async move {
            let a = s.thread_cpu().await?;
            let t0 = Instant::now();
            tokio::time::sleep(interval).await;
            let b = s.thread_cpu().await?;
            let wall_ms = t0.elapsed().as_secs_f64() * 1000.0;
            let idx = s.streams().await.unwrap_or_default();
            Ok((
                a.enabled && b.enabled,
                threads::top(&a, &b, wall_ms, n, &idx),
                wall_ms,
            ))
        })?;
        let (enabled, rows, wall_ms) = match r {
            Ok(x) => x,
            Err(code) => return Ok(code),
        };
        if !enabled {
            eprintln!("ksbridge: the target has thread CPU time measurement disabled (-XX:-ThreadCPUTime or ThreadMXBean.setThreadCpuTimeEnabled(false))");
            return Ok(ExitCode::from(super::EXIT_READ_FAILED));
        }
        let mut out = std::io::stdout().lock();
        if json {
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        } else {
            threads::write_top(&mut out, &rows, wall_ms)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let r = with_session(&args.target, |s| async move {
        let mut dump = s.threads().await?;
        let idx = s.streams().await.unwrap_or_default();
        threads::label(&mut dump, &idx);
        Ok(dump)
    })?;
    let dump = match r {
        Ok(d) => d,
        Err(code) => return Ok(code),
    };
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &dump)?;
        writeln!(out)?;
    } else {
        threads::write_dump(&mut out, &dump)?;
    }
    Ok(if dump.deadlocked.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_DEADLOCK)
    })
}
