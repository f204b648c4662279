//! `ksbridge lag`: flags in; the `kafka-consumer-groups --describe` table
//! (plus LAG-SECONDS, STATUS, TREND) or JSON on stdout; exit code
//! `EXIT_CHECK_FAILED` under `--check` when a selected group is not OK.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use regex::Regex;

use crate::lag::{
    self, Collector, CollectorSettings, Isolation, LagError, LagReport, Selection, Status,
};

use super::{EXIT_CANNOT_ATTACH, EXIT_CHECK_FAILED, EXIT_NOT_FOUND};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kafka brokers, host:port[,host:port...].
    #[arg(long = "bootstrap-server", env = "KSBRIDGE_BOOTSTRAP_SERVER")]
    pub bootstrap_server: String,
    /// A properties file of librdkafka settings (TLS, SASL, ...), `key=value` per line.
    #[arg(long = "command-config", value_name = "FILE")]
    pub command_config: Option<std::path::PathBuf>,
    /// One librdkafka setting, `key=value` (repeatable; wins over --command-config).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub settings: Vec<String>,
    /// A group to describe (repeatable).
    #[arg(long = "group")]
    pub groups: Vec<String>,
    /// Describe every group of the cluster.
    #[arg(long = "all-groups")]
    pub all_groups: bool,
    /// Describe every group whose id matches this regular expression.
    #[arg(long = "group.match", value_name = "REGEX")]
    pub group_match: Option<String>,
    /// Describe only the selected groups of shard I of N (0 <= I < N; by
    /// Kafka's murmur2 hash of the group id, see docs/scaling.md).
    #[arg(long = "lag.shard", value_name = "I/N")]
    pub shard: Option<lag::Shard>,
    /// Print JSON (the whole report) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Re-print every --interval until interrupted (status and trend build up over the window).
    #[arg(long)]
    pub watch: bool,
    /// Exit with code 6 when any selected group is not OK (or does not exist).
    #[arg(long)]
    pub check: bool,
    /// Time between samples (--watch, --samples): 500ms, 5s, 2m, 1h.
    #[arg(long, default_value = "5s", value_parser = crate::settings::parse_duration)]
    pub interval: Duration,
    /// Samples taken before printing once (status and trend need more than one).
    #[arg(long, default_value_t = 1)]
    pub samples: usize,
    /// Observations in the status window.
    #[arg(long, default_value_t = 10)]
    pub window: usize,
    /// Isolation level assumed for groups not named in --read-committed.
    #[arg(long, default_value = "read_uncommitted")]
    pub isolation: Isolation,
    /// A group that reads committed data only (exactly-once apps; repeatable).
    #[arg(long = "read-committed", value_name = "GROUP")]
    pub read_committed: Vec<String>,
    /// Benchmark baseline: fetch committed offsets with one librdkafka client per group.
    #[arg(long = "bench.client-per-group", hide = true)]
    pub client_per_group: bool,
    /// Timeout of each request to the brokers.
    #[arg(long, default_value = "10s", value_parser = crate::settings::parse_duration)]
    pub timeout: Duration,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.groups.is_empty() && !args.all_groups && args.group_match.is_none() {
        anyhow::bail!("say which groups: --group G, --all-groups or --group.match REGEX");
    }
    let selection = Selection {
        groups: args.groups.iter().cloned().collect::<BTreeSet<_>>(),
        all: args.all_groups,
        pattern: match &args.group_match {
            Some(p) => Some(Regex::new(p).with_context(|| format!("--group.match {p}"))?),
            None => None,
        },
        shard: args.shard,
    };
    let cs = CollectorSettings {
        window: args.window,
        // One-shot answers wait for their record reads as long as for any request.
        peek_budget: args.timeout,
        default_isolation: args.isolation,
        isolation: args
            .read_committed
            .iter()
            .map(|g| (g.clone(), Isolation::ReadCommitted))
            .collect(),
        client_per_group: args.client_per_group,
        ..CollectorSettings::default()
    };
    let config = lag::client_config(&args.bootstrap_server, &client_settings(&args)?);
    let mut collector = Collector::new(config, args.timeout, cs)?;
    if args.watch {
        return watch(&args, &mut collector, &selection);
    }
    let mut report = None;
    for i in 0..args.samples.max(1) {
        if i > 0 {
            std::thread::sleep(args.interval);
        }
        match cycle(&mut collector, &selection) {
            Ok(r) => report = Some(r),
            Err(code) => return Ok(code),
        }
    }
    let Some(report) = report else {
        return Ok(ExitCode::FAILURE);
    };
    print_report(&report, args.json)?;
    Ok(verdict(&report, args.check))
}

/// librdkafka settings: `--command-config` then `-X` (later wins).
fn client_settings(args: &Args) -> anyhow::Result<Vec<(String, String)>> {
    let mut settings = Vec::new();
    if let Some(path) = &args.command_config {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        settings = lag::parse_properties(&text).map_err(|line| {
            anyhow::anyhow!("{}:{line}: not a key=value setting", path.display())
        })?;
    }
    for kv in &args.settings {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("-X {kv}: expected key=value"))?;
        settings.push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok(settings)
}

/// One cycle, or the exit code of its failure (printed).
fn cycle(c: &mut Collector, selection: &Selection) -> Result<LagReport, ExitCode> {
    c.cycle(selection).map_err(|e| {
        eprintln!("ksbridge: {e}");
        match e {
            LagError::Metadata { .. } | LagError::Client { .. } => {
                ExitCode::from(EXIT_CANNOT_ATTACH)
            }
            _ => ExitCode::from(super::EXIT_READ_FAILED),
        }
    })
}

/// `--watch`: a report every interval until interrupted (or, with
/// `--check`, until the brokers cannot be read).
fn watch(
    args: &Args,
    collector: &mut Collector,
    selection: &Selection,
) -> anyhow::Result<ExitCode> {
    loop {
        let started = std::time::Instant::now();
        match cycle(collector, selection) {
            Ok(r) => {
                if !args.json {
                    println!(
                        "\n# every {:?}; window {} samples; taken at {} ms",
                        args.interval, args.window, r.taken_at_ms
                    );
                }
                print_report(&r, args.json)?
            }
            // Without --check, keep watching: the brokers may come back.
            Err(code) if args.check => return Ok(code),
            Err(_) => {}
        }
        std::thread::sleep(args.interval.saturating_sub(started.elapsed()));
    }
}

/// The exit code of a one-shot report: missing groups, and `--check`.
fn verdict(report: &LagReport, check: bool) -> ExitCode {
    for g in &report.missing {
        eprintln!("Consumer group '{g}' does not exist.");
    }
    if report.groups.is_empty() && !report.missing.is_empty() {
        return ExitCode::from(EXIT_NOT_FOUND);
    }
    if check && (!report.missing.is_empty() || report.groups.iter().any(|g| g.status != Status::Ok))
    {
        return ExitCode::from(EXIT_CHECK_FAILED);
    }
    ExitCode::SUCCESS
}

fn print_report(report: &LagReport, json: bool) -> anyhow::Result<()> {
    // Block-buffered: stdout is line-buffered, and the pretty JSON of
    // 100,000 partitions is millions of lines (a write each: seconds).
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    if json {
        serde_json::to_writer_pretty(&mut out, report)?;
        writeln!(out)?;
    } else {
        out.write_all(table(report).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// Trend as text: `-12.5/s eta 40s`, `+3.0/s`, or `-`.
pub fn trend_text(t: &lag::Trend) -> String {
    match t.records_per_second {
        None => "-".into(),
        Some(s) => {
            let mut x = format!("{s:+.1}/s");
            if let Some(eta) = t.seconds_to_zero {
                let _ = write!(x, " eta {eta:.0}s");
            }
            x
        }
    }
}

/// The `kafka-consumer-groups --describe` table plus LAG-SECONDS, STATUS, TREND.
// Long on purpose: the columns of one table, in the order they print.
pub fn table(report: &LagReport) -> String {
    let header = [
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
        "LAG-SECONDS",
        "STATUS",
        "TREND",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for g in &report.groups {
        if let Some(e) = &g.error {
            rows.push(vec![
                g.group.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                g.status.to_string(),
                e.clone(),
            ]);
            continue;
        }
        for p in &g.partitions {
            let mut lag = opt(p.lag);
            if p.truncated {
                lag.push('*');
            }
            rows.push(vec![
                g.group.clone(),
                p.topic.clone(),
                p.partition.to_string(),
                opt(p.committed),
                opt(p.end),
                lag,
                opt(p.consumer_id.as_deref()),
                opt(p.host.as_deref()),
                opt(p.client_id.as_deref()),
                opt(p.lag_seconds.map(|s| format!("{s:.1}"))),
                p.status.to_string(),
                trend_text(&p.trend),
            ]);
        }
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let mut s = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$} ", w = w);
            }
        }
        s.push_str(l.trim_end());
        s.push('\n');
    };
    line(header.to_vec());
    for r in &rows {
        line(r.iter().map(|c| c.as_str()).collect());
    }
    if report
        .groups
        .iter()
        .any(|g| g.partitions.iter().any(|p| p.truncated))
    {
        s.push_str("* committed offset below the log start (deleted by retention): lag counted from the log start\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trend_texts() {
        assert_eq!(trend_text(&lag::Trend::default()), "-");
        let t = lag::Trend {
            records_per_second: Some(-12.5),
            seconds_to_zero: Some(40.0),
        };
        assert_eq!(trend_text(&t), "-12.5/s eta 40s");
    }
}
