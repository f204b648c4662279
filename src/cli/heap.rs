//! `ksbridge heap <TARGET>`: the class histogram (`GC.class_histogram`),
//! top N by bytes, or `--diff INTERVAL`: what grew between two samples.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;

use crate::console::histogram;

use super::console::with_session;
use super::target::TargetArgs;
use crate::settings::parse_duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,

    /// How many classes to print.
    #[arg(long, default_value_t = 25)]
    pub top: usize,

    /// Take two histograms this far apart and print what grew, e.g. `10s`.
    #[arg(long, value_name = "INTERVAL", value_parser = parse_duration)]
    pub diff: Option<Duration>,

    /// Count every object, reachable or not, without the full GC the JVM runs first by default (`-all`).
    #[arg(long)]
    pub all: bool,

    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (all, diff, top, json) = (args.all, args.diff, args.top, args.json);
    let r = with_session(&args.target, move |s| async move {
        let a = s.histogram(all).await?;
        let b = match diff {
            Some(d) => {
                tokio::time::sleep(d).await;
                Some(s.histogram(all).await?)
            }
            None => None,
        };
        Ok((a, b))
    })?;
    let (a, b) = match r {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let mut out = std::io::stdout().lock();
    match (b, diff) {
        (Some(b), Some(d)) => {
            let grew = histogram::diff(&a, &b);
            if json {
                let rows: Vec<_> = grew.iter().take(top).collect();
                serde_json::to_writer_pretty(
                    &mut out,
                    &json!({"intervalMs": d.as_millis() as u64, "grew": rows}),
                )?;
                writeln!(out)?;
            } else {
                histogram::write_diff(&mut out, &grew, top, d.as_secs_f64())?;
            }
        }
        _ => {
            if json {
                let rows: Vec<_> = a.rows.iter().take(top).collect();
                serde_json::to_writer_pretty(
                    &mut out,
                    &json!({"rows": rows,
                    "totalInstances": a.total_instances, "totalBytes": a.total_bytes}),
                )?;
                writeln!(out)?;
            } else {
                histogram::write_top(&mut out, &a, top)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
