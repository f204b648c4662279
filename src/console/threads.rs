//! The Threads tab and `jstack`: a [`ThreadDump`] with locks and deadlocks,
//! per-thread CPU samples and the busiest threads between two of them
//! ([`top`]). Input: a [`Session`] and a [`StreamsIndex`]; output: dumps,
//! [`Busy`] rows and their text rendering.

use std::collections::HashMap;
use std::io::Write;

use serde::{Deserialize, Serialize};

use super::streams::{StreamsIndex, StreamsThread};
use super::{ConsoleError, Session};
use crate::jvm::ConsoleOp;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadDump {
    pub sampled_at_ms: i64,
    pub cpu_enabled: bool,
    /// Ids of deadlocked threads (monitors and ownable synchronizers).
    pub deadlocked: Vec<i64>,
    pub threads: Vec<ThreadInfo>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadInfo {
    pub id: i64,
    pub name: String,
    pub state: String,
    pub daemon: Option<bool>,
    pub priority: Option<i64>,
    pub cpu_ns: Option<i64>,
    pub blocked_count: i64,
    pub blocked_time_ms: i64,
    pub waited_count: i64,
    pub waited_time_ms: i64,
    pub in_native: bool,
    pub suspended: bool,
    pub lock: Option<Lock>,
    pub lock_owner_id: i64,
    pub lock_owner_name: Option<String>,
    pub stack: Vec<Frame>,
    pub locked_monitors: Vec<Monitor>,
    pub locked_synchronizers: Vec<Lock>,
    /// Filled in by ksbridge when the thread belongs to Kafka Streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams: Option<StreamsThread>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Lock {
    pub class: String,
    /// Identity hash code, hex.
    pub identity: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Monitor {
    pub class: String,
    pub identity: String,
    /// Stack depth (frame index) where it was locked.
    pub depth: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Frame {
    pub class: String,
    pub method: String,
    pub file: Option<String>,
    pub line: i64,
    pub native: bool,
}

impl std::fmt::Display for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let place = if self.native {
            "Native Method".to_string()
        } else {
            match (&self.file, self.line) {
                (Some(file), l) if l >= 0 => format!("{file}:{l}"),
                (Some(file), _) => file.clone(),
                (None, _) => "Unknown Source".into(),
            }
        };
        write!(f, "{}.{}({place})", self.class, self.method)
    }
}

/// One per-thread CPU sample.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuSample {
    pub sampled_at_ms: i64,
    /// False when the JVM has thread CPU time measurement off or unsupported.
    pub enabled: bool,
    pub threads: Vec<ThreadCpu>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadCpu {
    pub id: i64,
    pub name: String,
    pub state: String,
    pub cpu_ns: Option<i64>,
}

/// A thread's CPU use between two samples.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Busy {
    pub id: i64,
    pub name: String,
    pub state: String,
    pub cpu_ms: f64,
    /// Share of one core over the interval (1.0 = one core busy all the time).
    pub cpu_share: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streams: Option<StreamsThread>,
}

impl Session {
    pub async fn threads(&self) -> Result<ThreadDump, ConsoleError> {
        self.call(ConsoleOp::Threads, Vec::new()).await
    }

    pub async fn thread_cpu(&self) -> Result<CpuSample, ConsoleError> {
        self.call(ConsoleOp::ThreadCpu, Vec::new()).await
    }
}

/// One sample of the Kafka Streams threads' CPU time as snapshot beans for
/// the `thread_cpu` metric group (empty when the JVM has thread CPU time
/// disabled). Used by the JMX source on its own connection, inside its
/// single-flight refresh.
pub async fn streams_cpu_beans(
    jvm: &crate::jvm::Jvm,
    conn: crate::jvm::ConnectionId,
    deadline: std::time::Duration,
) -> Result<Vec<crate::jmx::Bean>, ConsoleError> {
    let filter = crate::streams::thread_cpu::THREAD_NAMES.to_string();
    let text = jvm
        .console(conn, ConsoleOp::ThreadCpu, vec![filter], deadline)
        .await?;
    let sample: CpuSample = super::decode(
        &format!("connection {}", conn.0),
        ConsoleOp::ThreadCpu,
        &text,
    )?;
    if !sample.enabled {
        return Ok(Vec::new());
    }
    Ok(crate::streams::thread_cpu::beans(
        sample
            .threads
            .iter()
            .filter_map(|t| Some((t.name.as_str(), t.cpu_ns?))),
    ))
}

/// The busiest threads from `a` to `b`, most CPU first, at most `n`;
/// `wall_ms` is the interval between the samples.
pub fn top(
    a: &CpuSample,
    b: &CpuSample,
    wall_ms: f64,
    n: usize,
    streams: &StreamsIndex,
) -> Vec<Busy> {
    let before: HashMap<i64, i64> = a
        .threads
        .iter()
        .filter_map(|t| Some((t.id, t.cpu_ns?)))
        .collect();
    let mut rows: Vec<Busy> = b
        .threads
        .iter()
        .filter_map(|t| {
            let now = t.cpu_ns?;
            // A thread born between the samples used all its CPU in the interval.
            let delta = (now - before.get(&t.id).copied().unwrap_or(0)).max(0);
            let cpu_ms = delta as f64 / 1e6;
            Some(Busy {
                id: t.id,
                name: t.name.clone(),
                state: t.state.clone(),
                cpu_ms,
                cpu_share: if wall_ms > 0.0 { cpu_ms / wall_ms } else { 0.0 },
                streams: streams.thread(&t.name),
            })
        })
        .collect();
    rows.sort_by(|x, y| y.cpu_ms.total_cmp(&x.cpu_ms).then(x.id.cmp(&y.id)));
    rows.truncate(n);
    rows
}

/// Labels the Kafka Streams threads of a dump.
pub fn label(dump: &mut ThreadDump, streams: &StreamsIndex) {
    for t in &mut dump.threads {
        t.streams = streams.thread(&t.name);
    }
}

fn header(t: &ThreadInfo) -> String {
    let mut h = format!("\"{}\" #{}", t.name, t.id);
    if t.daemon == Some(true) {
        h.push_str(" daemon");
    }
    if let Some(p) = t.priority {
        h.push_str(&format!(" prio={p}"));
    }
    if let Some(ns) = t.cpu_ns {
        h.push_str(&format!(" cpu={:.2}ms", ns as f64 / 1e6));
    }
    if t.in_native {
        h.push_str(" (in native)");
    }
    if let Some(s) = &t.streams {
        h.push_str(&format!(
            " [kafka-streams app={} tasks={}]",
            s.application_id,
            if s.tasks.is_empty() {
                "-".to_string()
            } else {
                s.tasks.join(",")
            }
        ));
    }
    h
}

fn lock_text(l: &Lock) -> String {
    format!("<0x{}> (a {})", l.identity, l.class)
}

/// One thread as `jstack` prints it: header, state, frames with the locks
/// waited on and held at each frame, then the ownable synchronizers.
fn write_thread(out: &mut impl Write, t: &ThreadInfo) -> std::io::Result<()> {
    writeln!(out, "{}", header(t))?;
    writeln!(out, "   java.lang.Thread.State: {}", t.state)?;
    for (i, f) in t.stack.iter().enumerate() {
        writeln!(out, "\tat {f}")?;
        if i == 0 {
            if let Some(l) = &t.lock {
                let verb = match t.state.as_str() {
                    "BLOCKED" => "waiting to lock",
                    "WAITING" | "TIMED_WAITING" => "parking to wait for / waiting on",
                    _ => "waiting on",
                };
                let owner = t
                    .lock_owner_name
                    .as_ref()
                    .map(|n| format!(" owned by \"{n}\" #{}", t.lock_owner_id))
                    .unwrap_or_default();
                writeln!(out, "\t- {verb} {}{owner}", lock_text(l))?;
            }
        }
        for m in t.locked_monitors.iter().filter(|m| m.depth == i as i64) {
            writeln!(out, "\t- locked <0x{}> (a {})", m.identity, m.class)?;
        }
    }
    if !t.locked_synchronizers.is_empty() {
        writeln!(out, "\n   Locked ownable synchronizers:")?;
        for l in &t.locked_synchronizers {
            writeln!(out, "\t- {}", lock_text(l))?;
        }
    }
    writeln!(out)
}

/// The deadlock report: each deadlocked thread, the lock it waits for and who holds it.
pub fn write_deadlocks(out: &mut impl Write, dump: &ThreadDump) -> std::io::Result<()> {
    if dump.deadlocked.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "DEADLOCK: {} threads are deadlocked",
        dump.deadlocked.len()
    )?;
    for id in &dump.deadlocked {
        let Some(t) = dump.threads.iter().find(|t| t.id == *id) else {
            continue;
        };
        let waits = t.lock.as_ref().map(lock_text).unwrap_or_else(|| "?".into());
        let held: Vec<String> = t
            .locked_monitors
            .iter()
            .map(|m| format!("<0x{}> (a {})", m.identity, m.class))
            .chain(t.locked_synchronizers.iter().map(lock_text))
            .collect();
        writeln!(
            out,
            "  \"{}\" #{} waits for {waits} held by \"{}\" #{}; holds {}",
            t.name,
            t.id,
            t.lock_owner_name.as_deref().unwrap_or("?"),
            t.lock_owner_id,
            if held.is_empty() {
                "nothing".into()
            } else {
                held.join(", ")
            }
        )?;
    }
    writeln!(out)?;
    for id in &dump.deadlocked {
        if let Some(t) = dump.threads.iter().find(|t| t.id == *id) {
            write_thread(out, t)?;
        }
    }
    writeln!(out, "---- all threads ----\n")
}

/// The whole dump, deadlocks first.
pub fn write_dump(out: &mut impl Write, dump: &ThreadDump) -> std::io::Result<()> {
    write_deadlocks(out, dump)?;
    for t in &dump.threads {
        write_thread(out, t)?;
    }
    Ok(())
}

/// The `--top` table.
pub fn write_top(out: &mut impl Write, rows: &[Busy], wall_ms: f64) -> std::io::Result<()> {
    writeln!(
        out,
        "busiest threads over {:.1}s (CPU share of one core)",
        wall_ms / 1000.0
    )?;
    writeln!(
        out,
        "{:>6}  {:>9}  {:>7}  {:<14}  {:<50}  kafka streams",
        "ID", "CPU ms", "CPU", "STATE", "THREAD"
    )?;
    for r in rows {
        let ks = r
            .streams
            .as_ref()
            .map(|s| {
                format!(
                    "app={} tasks={}",
                    s.application_id,
                    if s.tasks.is_empty() {
                        "-".to_string()
                    } else {
                        s.tasks.join(",")
                    }
                )
            })
            .unwrap_or_default();
        writeln!(
            out,
            "{:>6}  {:>9.1}  {:>6.1}%  {:<14}  {:<50}  {ks}",
            r.id,
            r.cpu_ms,
            r.cpu_share * 100.0,
            r.state,
            r.name
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: i64, threads: &[(i64, &str, i64)]) -> CpuSample {
        CpuSample {
            sampled_at_ms: at,
            enabled: true,
            threads: threads
                .iter()
                .map(|(id, n, c)| ThreadCpu {
                    id: *id,
                    name: n.to_string(),
                    state: "RUNNABLE".into(),
                    cpu_ns: Some(*c),
                })
                .collect(),
        }
    }

    #[test]
    fn top_orders_by_cpu_delta() {
        let a = sample(0, &[(1, "main", 5_000_000_000), (2, "busy", 1_000_000)]);
        let b = sample(
            1000,
            &[
                (1, "main", 5_010_000_000),
                (2, "busy", 901_000_000),
                (3, "new", 50_000_000),
            ],
        );
        let rows = top(&a, &b, 1000.0, 2, &StreamsIndex::default());
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].name, "busy");
        assert!((rows[0].cpu_share - 0.9).abs() < 1e-9);
        assert_eq!(rows[1].name, "new");
    }
}
