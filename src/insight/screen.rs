//! The `ksbridge status` screen: one application's instances, threads, tasks,
//! restore progress (and, when followed over time, when the last restore began
//! and ended) and warnings in plain words. Input: an [`App`], its
//! [`Health`] and optional per-topic input lag; output: text.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use super::health::Health;
use super::interceptors::{percentiles_text, TopicFlow};
use super::restore::RestoreSource;
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

/// `21:03:05 UTC` (time of day; restores are read about now).
pub fn clock(ms: u64) -> String {
    let s = (ms / 1000) % 86_400;
    format!("{:02}:{:02}:{:02} UTC", s / 3600, (s % 3600) / 60, s % 60)
}

fn restore_line(r: &Restore, i: &Instance, totals: &RestoreTotals) -> String {
    let total = r
        .restored
        .map(|done| done + r.remaining)
        .or_else(|| {
            totals
                .get(&(i.client_id.to_string(), r.task.clone()))
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
    let mut line = format!(
        "    task {:<8} {:<16} {progress}{:.0} records left, {} rec/s, {eta}",
        r.task,
        r.thread,
        r.remaining,
        rate(r.rate)
    );
    let began = i
        .last_restores
        .iter()
        .find(|p| p.task.as_deref() == Some(r.task.as_str()) && p.ended_ms.is_none());
    if let Some(p) = began {
        let _ = write!(line, ", since {}", clock(p.began_ms));
        if i.taken_at_ms >= p.began_ms {
            let _ = write!(
                line,
                " ({})",
                duration((i.taken_at_ms - p.began_ms) as f64 / 1e3)
            );
        }
    }
    if !r.stores.is_empty() {
        let _ = write!(line, ", stores {}", r.stores.join(", "));
    }
    line
}

/// The current or last restore of the client and of each task (when
/// something followed the app: `--watch`, serve's state poller).
fn restore_history(out: &mut String, i: &Instance) {
    if i.last_restores.is_empty() {
        if !i.restoring.is_empty() {
            out.push_str("  (when a restore began and ended is followed by `status --watch` and serve's /apps page)\n");
        }
        return;
    }
    let _ = writeln!(
        out,
        "  restores:   {:<12} {:<12} {:>7} {:>8}  STORES",
        "BEGAN", "ENDED", "TOOK", "RECORDS"
    );
    for p in &i.last_restores {
        let who = match &p.task {
            Some(t) => format!("task {t}"),
            None => "all tasks".to_string(),
        };
        let (ended, took) = match (p.ended_ms, p.duration_seconds) {
            (Some(e), Some(d)) => (clock(e).trim_end_matches(" UTC").to_string(), secs(Some(d))),
            _ => ("restoring".to_string(), "-".to_string()),
        };
        let _ = writeln!(
            out,
            "    {:<9} {:<12} {:<12} {:>7} {:>8.0}  {}",
            who,
            clock(p.began_ms).trim_end_matches(" UTC"),
            ended,
            took,
            p.records,
            if p.stores.is_empty() {
                "-".to_string()
            } else {
                p.stores.join(", ")
            }
        );
    }
    out.push_str("    (times UTC; a restore is seen from the first read with records left to the first with none)\n");
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
        match i.restore_source {
            Some(src @ RestoreSource::RestoreConsumerLag) => {
                let _ = writeln!(out, "  restoring ({}):", src.describe());
            }
            _ => out.push_str("  restoring:\n"),
        }
        for r in &i.restoring {
            let _ = writeln!(out, "{}", restore_line(r, i, totals));
        }
    }
    restore_history(out, i);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insight::health::{judge, Expect};
    use crate::insight::restore::{progress, History};
    use crate::jmx::Snapshot;

    /// A Kafka Streams 3.4 client restoring `lag` records of one changelog
    /// partition (no task restore metric: the restore consumer's lag).
    fn client(lag: i64) -> Snapshot {
        let c = "app-1";
        Snapshot::from_capture_json(&format!(
            r#"[{{"name":"kafka.streams:type=stream-metrics,client-id={c}","attributes":{{
                "application-id":{{"type":"java.lang.String","value":"app"}},
                "state":{{"type":"java.lang.String","value":"REBALANCING"}},
                "topology-description":{{"type":"java.lang.String","value":"Topologies:\n   Sub-topology: 0\n    Source: s (topics: [in])\n      --> p\n    Processor: p (stores: [totals])\n      --> none\n      <-- s\n"}}}}}},
              {{"name":"kafka.streams:type=stream-task-metrics,thread-id={c}-StreamThread-1,task-id=0_1","attributes":{{
                "active-process-ratio":{{"type":"java.lang.Double","value":0.0}}}}}},
              {{"name":"kafka.consumer:type=consumer-fetch-manager-metrics,client-id={c}-StreamThread-1-restore-consumer","attributes":{{
                "records-consumed-rate":{{"type":"java.lang.Double","value":50.0}}}}}},
              {{"name":"kafka.consumer:type=consumer-fetch-manager-metrics,client-id={c}-StreamThread-1-restore-consumer,topic=app-totals-changelog,partition=1","attributes":{{
                "records-lag":{{"type":"java.lang.Double","value":{lag}}}}}}}]"#
        ))
        .unwrap()
    }

    fn screen(snap: &Snapshot, history: &History, at_ms: u64) -> String {
        let mut app = crate::insight::apps(&[("pid:1".to_string(), snap.clone())]).remove(0);
        app.instances[0].taken_at_ms = at_ms;
        app.instances[0].last_restores = history.phases("app-1");
        let h = judge(&app, &Expect::default());
        render(&app, &h, None, &RestoreTotals::new())
    }

    #[test]
    fn restore_from_the_consumer_lag_with_its_start_and_end() {
        let mut h = History::default();
        let t0 = 1_700_000_000_000;
        let restoring = client(500);
        h.observe(t0, "app", "app-1", &progress(&restoring, "app-1"));
        let s = screen(&restoring, &h, t0 + 4_000);
        assert!(
            s.contains("restoring (from the restore consumer's lag: no restore-remaining-records-total before Kafka Streams 3.5):"),
            "{s}"
        );
        let line = s.lines().find(|l| l.contains("task 0_1 ")).unwrap();
        assert!(
            line.contains("500 records left, 50.0 rec/s, ETA 10s, since")
                && line.ends_with("(4s), stores totals"),
            "{line}"
        );
        let began = clock(t0);
        assert!(line.contains(&began), "{line}");
        let row = s
            .lines()
            .find(|l| l.trim_start().starts_with("all tasks"))
            .unwrap();
        assert!(
            row.contains(began.trim_end_matches(" UTC")) && row.contains("restoring"),
            "{row}"
        );

        let done = client(0);
        h.observe(t0 + 12_500, "app", "app-1", &progress(&done, "app-1"));
        h.observe(t0 + 12_800, "app", "app-1", &progress(&done, "app-1"));
        let s = screen(&done, &h, t0 + 13_000);
        assert!(!s.contains("restoring ("), "{s}");
        let row = s
            .lines()
            .find(|l| l.trim_start().starts_with("task 0_1"))
            .unwrap();
        let words: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(&words[4..], ["12.5s", "500", "totals"], "{row}");
        assert_eq!(
            words[3],
            clock(t0 + 12_500).trim_end_matches(" UTC"),
            "{row}"
        );
    }

    #[test]
    fn one_read_says_where_start_and_end_are_followed() {
        let s = screen(&client(500), &History::default(), 0);
        assert!(s.contains("followed by `status --watch`"), "{s}");
        assert!(!s.contains("restores:"), "{s}");
        assert!(!screen(&client(0), &History::default(), 0).contains("followed by"));
    }
}
