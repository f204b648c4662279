//! The `ksbridge status` screen: one application's instances, threads, tasks,
//! restore progress and warnings in plain words. Input: an [`App`], its
//! [`Health`] and optional per-topic input lag; output: text.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use super::health::Health;
use super::interceptors::{percentiles_text, TopicFlow};
use super::{hidden_by_level, App, Instance, Restore, ThreadKind};

/// Input lag of one topic (summed over partitions), when a broker was given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicLag {
    pub topic: String,
    pub lag: Option<i64>,
    pub lag_seconds: Option<f64>,
    /// Worst partition status (OK, WARN, STALL, STOP, REWIND, ERR).
    pub status: String,
    /// Trend over the lag window (falling, rising, flat, ...).
    pub trend: String,
}

/// Largest restore backlog seen per (client, task): the 100% of a progress
/// bar when Kafka does not record `restore-total` (watch mode fills it).
pub type RestoreTotals = BTreeMap<(String, String), f64>;

fn rate(v: Option<f64>) -> String {
    match v {
        Some(x) if x >= 100.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.1}"),
        None => "-".into(),
    }
}

fn secs(v: Option<f64>) -> String {
    match v {
        Some(x) if x >= 1.0 => format!("{x:.1}s"),
        Some(x) => format!("{:.0}ms", x * 1e3),
        None => "-".into(),
    }
}

/// `1h02m`, `3m05s`, `12s`.
pub fn duration(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

fn bar(done: f64, total: f64) -> String {
    const W: usize = 20;
    let f = if total > 0.0 {
        (done / total).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let n = (f * W as f64).round() as usize;
    format!(
        "[{}{}] {:>3.0}%",
        "#".repeat(n),
        ".".repeat(W - n),
        f * 100.0
    )
}

fn restore_line(r: &Restore, client_id: &str, totals: &RestoreTotals) -> String {
    let total = r
        .restored
        .map(|done| done + r.remaining)
        .or_else(|| {
            totals
                .get(&(client_id.to_string(), r.task.clone()))
                .copied()
        })
        .filter(|t| *t >= r.remaining);
    let progress = match total {
        Some(t) => format!("{} ", bar(t - r.remaining, t)),
        None => String::new(),
    };
    let eta = match r.eta_seconds {
        Some(e) => format!("ETA {}", duration(e)),
        None => "ETA unknown (no restore rate yet)".into(),
    };
    format!(
        "    task {:<8} {:<16} {progress}{:.0} records left, {} rec/s, {eta}",
        r.task,
        r.thread,
        r.remaining,
        rate(r.rate)
    )
}

fn instance(out: &mut String, i: &Instance, totals: &RestoreTotals) {
    let state = i.state.as_deref().unwrap_or("UNKNOWN");
    let _ = writeln!(out, "instance {}  client {}", i.source, i.client_id);
    let up = i
        .threads
        .iter()
        .filter(|t| t.kind == ThreadKind::Stream)
        .filter_map(|t| t.start_time_ms)
        .reduce(f64::min)
        .filter(|_| i.taken_at_ms > 0)
        .map(|start| {
            format!(
                ", stream threads up {}",
                duration((i.taken_at_ms as f64 - start) / 1e3)
            )
        })
        .unwrap_or_default();
    let count = |v: Option<f64>| v.map(|x| format!("{x:.0}")).unwrap_or_else(|| "?".into());
    let _ = writeln!(
        out,
        "  state {state}  threads {} alive, {} failed{up}",
        count(i.alive_threads),
        count(i.failed_threads)
    );
    let _ = writeln!(
        out,
        "  processing {} rec/s  e2e latency avg {} max {}",
        rate(i.process_rate),
        secs(i.e2e_latency_avg),
        secs(i.e2e_latency_max)
    );
    let _ = writeln!(
        out,
        "  {:<20} {:<12} {:<22} {:<10} {:>7} {:>7} {:>8} {:>6} {:>9}",
        "THREAD",
        "STATE",
        "ACTIVE TASKS",
        "STANDBY",
        "PROC/S",
        "POLL/S",
        "COMMIT/S",
        "RATIO",
        "PROC-LAT"
    );
    let mut inferred = false;
    for t in &i.threads {
        let mut st = t.state.clone().unwrap_or_else(|| "-".into());
        if t.state_inferred && t.state.is_some() {
            st.push('*');
            inferred = true;
        }
        let tasks = |v: &[String]| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.join(",")
            }
        };
        let ratio = t
            .process_ratio
            .map(|r| format!("{:.0}%", r * 100.0))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "  {:<20} {:<12} {:<22} {:<10} {:>7} {:>7} {:>8} {:>6} {:>9}",
            t.name,
            st,
            tasks(&t.active_tasks),
            tasks(&t.standby_tasks),
            rate(t.process_rate),
            rate(t.poll_rate),
            rate(t.commit_rate),
            ratio,
            secs(t.process_latency_avg)
        );
    }
    if inferred {
        out.push_str("  (* inferred: before Kafka 4.0 a thread's state is not a metric)\n");
    }
    let clients: Vec<String> = i
        .threads
        .iter()
        .flat_map(|t| {
            [
                &t.consumer_client_id,
                &t.restore_consumer_client_id,
                &t.producer_client_id,
            ]
        })
        .flatten()
        .map(|c| {
            c.strip_prefix(&format!("{}-", i.client_id))
                .unwrap_or(c)
                .to_string()
        })
        .collect();
    if !clients.is_empty() {
        let _ = writeln!(out, "  embedded clients: {}", clients.join(", "));
    }
    if !i.restoring.is_empty() {
        out.push_str("  restoring:\n");
        for r in &i.restoring {
            let _ = writeln!(out, "{}", restore_line(r, &i.client_id, totals));
        }
    }
    interceptor_lines(out, &i.interceptors);
}

fn count(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.0}")).unwrap_or_else(|| "-".into())
}

/// The interceptors' per-topic table (nothing without interceptors).
fn interceptor_lines(out: &mut String, flows: &[TopicFlow]) {
    if flows.is_empty() {
        return;
    }
    out.push_str("  interceptors (SEND-ACK and RECORD AGE: p50/p99; COMMITTED: sum of the partitions' committed offsets):\n");
    let w = flows
        .iter()
        .map(|f| f.topic.len())
        .max()
        .unwrap_or(0)
        .max(5);
    let _ = writeln!(
        out,
        "    {:<w$} {:>8} {:>8} {:>6} {:>13} {:>9} {:>13} {:>7} {:>10}",
        "TOPIC",
        "SENT",
        "ACKED",
        "FAILED",
        "SEND-ACK",
        "CONSUMED",
        "RECORD AGE",
        "COMMITS",
        "COMMITTED"
    );
    for f in flows {
        let committed = if f.committed.is_empty() {
            "-".to_string()
        } else {
            f.committed.values().sum::<i64>().to_string()
        };
        let failed = if f.failed.is_empty() {
            count(f.sent.map(|_| 0.0))
        } else {
            count(Some(f.failed_total()))
        };
        let _ = writeln!(
            out,
            "    {:<w$} {:>8} {:>8} {:>6} {:>13} {:>9} {:>13} {:>7} {:>10}",
            f.topic,
            count(f.sent),
            count(f.acked),
            failed,
            percentiles_text(f.send_ack_latency.as_ref()),
            count(f.consumed),
            percentiles_text(f.record_age.as_ref()),
            count(f.commits),
            committed
        );
        for (class, n) in &f.failed {
            let _ = writeln!(out, "      failed {n:.0} x {class}");
        }
    }
}

/// The whole screen.
pub fn render(
    app: &App,
    health: &Health,
    lag: Option<&[TopicLag]>,
    totals: &RestoreTotals,
) -> String {
    let mut out = String::new();
    let versions: Vec<&str> = {
        let mut v: Vec<&str> = app
            .instances
            .iter()
            .filter_map(|i| i.version.as_deref())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let levels: Vec<&str> = {
        let mut v: Vec<&str> = app
            .instances
            .iter()
            .map(|i| i.recording_level.as_str())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let _ = writeln!(
        out,
        "{}  {}  ({} instance{}, Kafka Streams {}, state {}, recording level {})",
        app.application_id,
        health.status.as_str().to_uppercase(),
        app.instances.len(),
        if app.instances.len() == 1 { "" } else { "s" },
        if versions.is_empty() {
            "?".to_string()
        } else {
            versions.join("/")
        },
        app.state_summary(),
        levels.join("/")
    );
    for l in &levels {
        let hidden = hidden_by_level(l);
        if !hidden.is_empty() {
            let _ = writeln!(out, "  note: at {l}, {hidden}");
        }
    }
    for i in &app.instances {
        out.push('\n');
        instance(&mut out, i, totals);
    }
    if let Some(lag) = lag {
        out.push_str("\ninput lag (committed offsets of group ");
        out.push_str(&app.application_id);
        out.push_str("):\n");
        if lag.is_empty() {
            out.push_str("  no committed offsets yet\n");
        }
        for t in lag {
            let _ = writeln!(
                out,
                "  {:<40} {:>10} records {:>8}  {:<6} {}",
                t.topic,
                t.lag.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
                secs(t.lag_seconds),
                t.status,
                t.trend
            );
        }
    }
    out.push('\n');
    if health.reasons.is_empty() {
        out.push_str("no warnings\n");
    } else {
        out.push_str("warnings:\n");
        for r in &health.reasons {
            let _ = writeln!(out, "  [{}] {}", r.status.as_str(), r.text);
        }
    }
    out
}
