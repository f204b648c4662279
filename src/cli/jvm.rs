//! `ksbridge jvm <TARGET>`: VisualVM's Overview and Monitor tabs in one
//! shot (two samples an interval apart for CPU and GC rates), `--json`, and
//! `--watch` for a line per interval.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;

use crate::console::overview::{self, Overview};
use crate::console::streams::StreamsApp;
use crate::console::{ConsoleError, Session};

use super::console::with_session;
use super::target::TargetArgs;
use crate::settings::parse_duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Print JSON: {"overview", "rates", "streams"}.
    #[arg(long)]
    pub json: bool,

    /// Print every system property (default: a selection).
    #[arg(long)]
    pub properties: bool,

    /// Time between the two samples that give CPU and GC rates (`0s`: one sample, no rates).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,

    /// Keep sampling every interval and print one line (or JSON object) per sample.
    #[arg(long)]
    pub watch: bool,

    /// With --watch: stop after this many samples (default: until interrupted).
    #[arg(long)]
    pub count: Option<u64>,
}

async fn streams_apps(s: &Session) -> Vec<StreamsApp> {
    // A JVM without Kafka Streams, or one whose beans fail to read, has no apps to show.
    s.streams().await.map(|i| i.apps).unwrap_or_default()
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let interval = args.interval;
    let json = args.json;
    let all = args.properties;
    if args.watch {
        let count = args.count;
        let r = with_session(&args.target, move |s| async move {
            watch(&s, interval, count, json).await
        })?;
        return Ok(r.err().unwrap_or(ExitCode::SUCCESS));
    }
    let r = with_session(&args.target, move |s| async move {
        let first = s.overview().await?;
        let (last, rates) = if interval.is_zero() {
            (first, None)
        } else {
            tokio::time::sleep(interval).await;
            let second = s.overview().await?;
            let rates = second.rates_since(&first);
            (second, Some(rates))
        };
        Ok((last, rates, streams_apps(&s).await))
    })?;
    let (o, rates, apps) = match r {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(
            &mut out,
            &json!({"overview": o, "rates": rates, "streams": apps,
                "gcShareSinceStart": o.gc_share_since_start(), "cpuCoresSinceStart": o.cpu_cores_since_start()}),
        )?;
        writeln!(out)?;
    } else {
        overview::write_text(&mut out, &o, rates.as_ref(), &apps, all)?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn watch(
    s: &Session,
    interval: Duration,
    count: Option<u64>,
    json: bool,
) -> Result<(), ConsoleError> {
    let interval = interval.max(Duration::from_millis(100));
    let mut prev: Overview = s.overview().await?;
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
        let now = s.overview().await?;
        let r = now.rates_since(&prev);
        let line = if json {
            json!({"uptimeMs": now.runtime.uptime_ms, "heapUsed": now.memory.heap.used,
                "heapMax": now.memory.heap.max, "rates": r, "threads": now.threads.live})
            .to_string()
        } else {
            overview::watch_line(&now, &r)
        };
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
            return Ok(()); // stdout closed (`| head`)
        }
        prev = now;
        n += 1;
        if count.is_some_and(|c| n >= c) {
            return Ok(());
        }
    }
}
