//! The model behind `ksbridge top`: one [`AppRow`] per Kafka Streams client
//! from each JVM source's latest snapshot, with rates from the previous one
//! (CPU, GC share, per-thread CPU), how long each state has lasted, and the
//! drill-in detail (threads, tasks, stores, warnings). Pure: input snapshots
//! and source status; output rows, sorted and filtered.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::jmx::Snapshot;
use crate::streams::thread_cpu;

/// A stream thread in the drill-in view.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadRow {
    pub thread: String,
    pub state: String,
    pub tasks: Vec<String>,
    /// Share of one core over the last interval.
    pub cpu: Option<f64>,
    pub process_rate: Option<f64>,
}

/// A state store in the drill-in view (latencies in ns; DEBUG level only).
#[derive(Debug, Clone, PartialEq)]
pub struct StoreRow {
    pub store: String,
    pub task: String,
    pub kind: String,
    pub put_latency_ns: Option<f64>,
    pub get_latency_ns: Option<f64>,
}

/// One Kafka Streams client in one JVM.
#[derive(Debug, Clone, PartialEq)]
pub struct AppRow {
    pub target: String,
    pub application_id: String,
    pub client_id: String,
    /// `KafkaStreams.State`, or `GONE` / `UNREACHABLE` when the JVM is.
    pub state: String,
    pub state_for: Duration,
    pub threads_alive: Option<f64>,
    pub threads_failed: Option<f64>,
    pub process_rate: Option<f64>,
    pub e2e_latency_ms: Option<f64>,
    pub restore_remaining: Option<f64>,
    pub heap_used: Option<f64>,
    pub heap_max: Option<f64>,
    pub gc_share: Option<f64>,
    /// Cores used by the process over the last interval.
    pub cpu: Option<f64>,
    pub threads: Vec<ThreadRow>,
    pub stores: Vec<StoreRow>,
    pub warnings: Vec<String>,
    /// The last error reading this JVM (also while its last rows are shown).
    pub error: Option<String>,
}

/// Columns `top` sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    App,
    State,
    Rate,
    Latency,
    Heap,
    Cpu,
}

impl SortBy {
    pub fn next(self) -> SortBy {
        match self {
            SortBy::App => SortBy::State,
            SortBy::State => SortBy::Rate,
            SortBy::Rate => SortBy::Latency,
            SortBy::Latency => SortBy::Heap,
            SortBy::Heap => SortBy::Cpu,
            SortBy::Cpu => SortBy::App,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortBy::App => "app",
            SortBy::State => "state",
            SortBy::Rate => "rate",
            SortBy::Latency => "e2e latency",
            SortBy::Heap => "heap",
            SortBy::Cpu => "cpu",
        }
    }
}

/// What the previous sample of a JVM was, for rates.
#[derive(Debug, Clone, Default)]
struct Prev {
    uptime_ms: f64,
    gc_ms: f64,
    cpu_ns: f64,
    threads_ns: HashMap<String, f64>,
}

/// Everything `top` remembers between refreshes.
#[derive(Debug, Default)]
pub struct Top {
    rows: BTreeMap<String, Vec<AppRow>>,
    prev: HashMap<String, Prev>,
    /// (target, client id) -> (state, since).
    states: HashMap<(String, String), (String, Instant)>,
}

fn attr(snap: &Snapshot, name: &str, a: &str) -> Option<f64> {
    snap.find(name)?.f64(a).filter(|v| v.is_finite())
}

fn sum_of(snap: &Snapshot, ty: &str, a: &str, owned: impl Fn(&str) -> bool) -> Option<f64> {
    let vals: Vec<f64> = snap
        .of_type("kafka.streams", ty)
        .filter(|b| b.name.get("thread-id").is_some_and(&owned))
        .filter_map(|b| b.f64(a).filter(|v| v.is_finite()))
        .collect();
    (!vals.is_empty()).then(|| vals.iter().sum())
}

fn max_of(snap: &Snapshot, ty: &str, a: &str, owned: impl Fn(&str) -> bool) -> Option<f64> {
    snap.of_type("kafka.streams", ty)
        .filter(|b| b.name.get("thread-id").is_some_and(&owned))
        .filter_map(|b| b.f64(a).filter(|v| v.is_finite()))
        .reduce(f64::max)
}

impl Top {
    pub fn new() -> Top {
        Top::default()
    }

    /// A JVM that could not be read this time: its rows stay, marked.
    pub fn failed(&mut self, target: &str, error: String, gone: bool) {
        let now = Instant::now();
        let rows = self.rows.entry(target.to_string()).or_default();
        if rows.is_empty() {
            rows.push(AppRow {
                target: target.to_string(),
                application_id: String::new(),
                client_id: String::new(),
                state: String::new(),
                state_for: Duration::ZERO,
                threads_alive: None,
                threads_failed: None,
                process_rate: None,
                e2e_latency_ms: None,
                restore_remaining: None,
                heap_used: None,
                heap_max: None,
                gc_share: None,
                cpu: None,
                threads: Vec::new(),
                stores: Vec::new(),
                warnings: Vec::new(),
                error: None,
            });
        }
        let state = if gone { "GONE" } else { "UNREACHABLE" };
        for r in rows.iter_mut() {
            let key = (target.to_string(), r.client_id.clone());
            let since = match self.states.get(&key) {
                Some((s, since)) if s == state => *since,
                _ => {
                    self.states.insert(key, (state.to_string(), now));
                    now
                }
            };
            r.state = state.to_string();
            r.state_for = since.elapsed();
            r.error = Some(error.clone());
            r.cpu = None;
            r.process_rate = None;
        }
    }

    /// Forgets a JVM (dropped from the watch list).
    pub fn remove(&mut self, target: &str) {
        self.rows.remove(target);
        self.prev.remove(target);
        self.states.retain(|(t, _), _| t != target);
    }

    /// Updates a JVM's rows from its latest snapshot. One function because
    /// every figure of the row is a small lookup in the same snapshot.
    pub fn update(&mut self, target: &str, snap: &Snapshot) {
        let now = Instant::now();
        let uptime = attr(snap, "java.lang:type=Runtime", "Uptime");
        let gc_ms: Option<f64> = {
            let v: Vec<f64> = snap
                .of_type("java.lang", "GarbageCollector")
                .filter_map(|b| b.f64("CollectionTime"))
                .collect();
            (!v.is_empty()).then(|| v.iter().sum())
        };
        let cpu_ns = attr(snap, "java.lang:type=OperatingSystem", "ProcessCpuTime");
        let threads_ns: HashMap<String, f64> = snap
            .of_type(thread_cpu::BEANS.domain, thread_cpu::BEANS.ty)
            .filter_map(|b| {
                Some((
                    b.name.get("thread-id")?.to_string(),
                    b.f64(thread_cpu::ATTRIBUTE)?,
                ))
            })
            .collect();
        let prev = self.prev.get(target).cloned();
        let interval_ms = match (&prev, uptime) {
            (Some(p), Some(u)) if u > p.uptime_ms => Some(u - p.uptime_ms),
            _ => None,
        };
        let gc_share = match (&prev, gc_ms, interval_ms) {
            (Some(p), Some(g), Some(i)) => Some(((g - p.gc_ms) / i).clamp(0.0, 1.0)),
            _ => None,
        };
        let cpu = match (&prev, cpu_ns, interval_ms) {
            (Some(p), Some(c), Some(i)) => Some(((c - p.cpu_ns) / 1e6 / i).max(0.0)),
            _ => None,
        };
        let thread_cpu_share = |name: &str| -> Option<f64> {
            let (p, i) = (prev.as_ref()?, interval_ms?);
            let before = p.threads_ns.get(name)?;
            Some(((threads_ns.get(name)? - before) / 1e6 / i).max(0.0))
        };
        let heap_used = attr(snap, "java.lang:type=Memory", "HeapMemoryUsage.used");
        let heap_max =
            attr(snap, "java.lang:type=Memory", "HeapMemoryUsage.max").filter(|m| *m > 0.0);

        let mut rows = Vec::new();
        for app in crate::streams::apps(snap) {
            let prefix = format!("{}-", app.client_id);
            let owned = |t: &str| t.starts_with(&prefix);
            let metric = |a: &str| {
                snap.of_type("kafka.streams", "stream-metrics")
                    .filter(|b| b.name.get("client-id") == Some(app.client_id.as_str()))
                    .find_map(|b| b.f64(a).filter(|v| v.is_finite()))
            };
            let state = app.state.clone().unwrap_or_else(|| "UNKNOWN".into());
            let key = (target.to_string(), app.client_id.clone());
            let since = match self.states.get(&key) {
                Some((s, since)) if *s == state => *since,
                _ => {
                    self.states.insert(key, (state.clone(), now));
                    now
                }
            };
            let mut tasks: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for b in snap.of_type("kafka.streams", "stream-task-metrics") {
                if let (Some(t), Some(task)) = (b.name.get("thread-id"), b.name.get("task-id")) {
                    if owned(t) {
                        tasks
                            .entry(t.to_string())
                            .or_default()
                            .push(task.to_string());
                    }
                }
            }
            // Kafka 4.0+ may split a thread's metrics over two beans (with and
            // without `process-id`): one row per thread, each figure from the
            // bean that has it.
            let mut threads: Vec<ThreadRow> = Vec::new();
            for b in snap.of_type("kafka.streams", "stream-thread-metrics") {
                let Some(t) = b.name.get("thread-id").filter(|t| owned(t)) else {
                    continue;
                };
                let name = &t[prefix.len()..];
                let i = match threads.iter().position(|r| r.thread == name) {
                    Some(i) => i,
                    None => {
                        threads.push(ThreadRow {
                            thread: name.to_string(),
                            state: "-".into(),
                            tasks: tasks.get(t).cloned().unwrap_or_default(),
                            cpu: thread_cpu_share(t),
                            process_rate: None,
                        });
                        threads.len() - 1
                    }
                };
                let row = &mut threads[i];
                if let Some(s) = b.text("state") {
                    row.state = s.to_string();
                }
                if let Some(r) = b.f64("process-rate").filter(|v| v.is_finite()) {
                    row.process_rate = Some(r);
                }
            }
            let stores: Vec<StoreRow> = snap
                .of_type("kafka.streams", "stream-state-metrics")
                .filter(|b| b.name.get("thread-id").is_some_and(owned))
                .filter_map(|b| {
                    let (kind, store) = b
                        .name
                        .properties()
                        .find(|(k, _)| k.ends_with("-state-id"))?;
                    Some(StoreRow {
                        store: store.to_string(),
                        task: b.name.get("task-id").unwrap_or("-").to_string(),
                        kind: kind.trim_end_matches("-state-id").to_string(),
                        put_latency_ns: b.f64("put-latency-avg").filter(|v| v.is_finite()),
                        get_latency_ns: b.f64("get-latency-avg").filter(|v| v.is_finite()),
                    })
                })
                .collect();
            let restore_remaining = sum_of(
                snap,
                "stream-task-metrics",
                "restore-remaining-records-total",
                owned,
            );
            let mut warnings = Vec::new();
            if state != "RUNNING" {
                warnings.push(format!("state is {state}"));
            }
            let failed = metric("failed-stream-threads");
            if failed.is_some_and(|f| f > 0.0) {
                warnings.push(format!("{} stream threads failed", failed.unwrap_or(0.0)));
            }
            if restore_remaining.is_some_and(|r| r > 0.0) {
                warnings.push("restoring state".into());
            }
            if !stores.is_empty() && stores.iter().all(|s| s.put_latency_ns.is_none()) {
                warnings.push("store latencies need metrics.recording.level=DEBUG".into());
            }
            if threads_ns.is_empty() && !threads.is_empty() {
                warnings.push("no thread CPU time (disabled in the JVM, or not read yet)".into());
            }
            rows.push(AppRow {
                target: target.to_string(),
                application_id: app.application_id.clone(),
                client_id: app.client_id.clone(),
                state,
                state_for: since.elapsed(),
                threads_alive: metric("alive-stream-threads"),
                threads_failed: failed,
                process_rate: sum_of(snap, "stream-thread-metrics", "process-rate", owned),
                e2e_latency_ms: max_of(
                    snap,
                    "stream-processor-node-metrics",
                    "record-e2e-latency-avg",
                    owned,
                ),
                restore_remaining,
                heap_used,
                heap_max,
                gc_share,
                cpu,
                threads,
                stores,
                warnings,
                error: None,
            });
        }
        self.rows.insert(target.to_string(), rows);
        if let (Some(u), Some(g), Some(c)) = (uptime, gc_ms, cpu_ns) {
            self.prev.insert(
                target.to_string(),
                Prev {
                    uptime_ms: u,
                    gc_ms: g,
                    cpu_ns: c,
                    threads_ns,
                },
            );
        }
    }

    /// The rows matching `filter` (a substring of application id, client id,
    /// state or target), sorted.
    pub fn rows(&self, sort: SortBy, filter: &str) -> Vec<AppRow> {
        let f = filter.to_lowercase();
        let mut out: Vec<AppRow> = self
            .rows
            .values()
            .flatten()
            .filter(|r| {
                f.is_empty()
                    || [&r.application_id, &r.client_id, &r.state, &r.target]
                        .iter()
                        .any(|s| s.to_lowercase().contains(&f))
            })
            .cloned()
            .collect();
        let num = |v: Option<f64>| v.unwrap_or(f64::NEG_INFINITY);
        out.sort_by(|a, b| {
            let by = match sort {
                SortBy::App => a.application_id.cmp(&b.application_id),
                SortBy::State => a.state.cmp(&b.state),
                SortBy::Rate => num(b.process_rate).total_cmp(&num(a.process_rate)),
                SortBy::Latency => num(b.e2e_latency_ms).total_cmp(&num(a.e2e_latency_ms)),
                SortBy::Heap => num(b.heap_used).total_cmp(&num(a.heap_used)),
                SortBy::Cpu => num(b.cpu).total_cmp(&num(a.cpu)),
            };
            by.then_with(|| a.target.cmp(&b.target))
                .then_with(|| a.client_id.cmp(&b.client_id))
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jmx::{Attribute, Bean, ObjectName, Value};

    fn bean(name: &str, attrs: &[(&str, Value)]) -> Bean {
        Bean {
            name: ObjectName::parse(name).unwrap(),
            class_name: "x".into(),
            attributes: attrs
                .iter()
                .map(|(k, value)| Attribute {
                    name: (*k).into(),
                    value: value.clone(),
                })
                .collect(),
        }
    }

    fn snap(uptime: i64, cpu: i64, state: &str) -> Snapshot {
        Snapshot::new(
            0,
            vec![
                bean(
                    "kafka.streams:type=stream-metrics,client-id=app-1",
                    &[
                        ("application-id", Value::String("app".into())),
                        ("state", Value::String(state.into())),
                        ("alive-stream-threads", Value::Integer(1)),
                    ],
                ),
                bean(
                    "kafka.streams:type=stream-thread-metrics,thread-id=app-1-StreamThread-1",
                    &[("process-rate", Value::Double(12.5))],
                ),
                bean("java.lang:type=Runtime", &[("Uptime", Value::Long(uptime))]),
                bean(
                    "java.lang:type=OperatingSystem",
                    &[("ProcessCpuTime", Value::Long(cpu))],
                ),
                bean(
                    "java.lang:type=GarbageCollector,name=G1",
                    &[("CollectionTime", Value::Long(uptime / 10))],
                ),
            ],
        )
    }

    #[test]
    fn rows_with_rates_and_gone_marking() {
        let mut t = Top::new();
        t.update("pid:1", &snap(1000, 0, "RUNNING"));
        t.update("pid:1", &snap(2000, 500_000_000, "RUNNING"));
        let rows = t.rows(SortBy::App, "");
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(r.application_id, "app");
        assert_eq!(r.process_rate, Some(12.5));
        assert!((r.cpu.unwrap() - 0.5).abs() < 1e-9);
        assert!((r.gc_share.unwrap() - 0.1).abs() < 1e-9);
        assert_eq!(r.threads[0].thread, "StreamThread-1");
        t.failed("pid:1", "process exited".into(), true);
        assert_eq!(t.rows(SortBy::App, "")[0].state, "GONE");
        assert!(t.rows(SortBy::App, "nomatch").is_empty());
    }
}
