//! The model behind `ksbridge top`: one [`AppRow`] per Kafka Streams client
//! from each JVM source's latest snapshot, with rates from the previous one
//! (CPU, GC share, per-thread CPU), how long each state has lasted, threads
//! alive against configured, restore progress, the input lag of its group
//! from a lag report, and the drill-in detail (threads, tasks, stores,
//! interceptors, warnings). Pure: input snapshots, lag reports, command
//! lines and source status; output rows, sorted and filtered.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::insight::interceptors::TopicFlow;
use crate::insight::restore::{History, Phase, Progress};
use crate::insight::screen::TopicLag;
use crate::insight::Restore;
use crate::jmx::Snapshot;
use crate::lag::LagReport;
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

/// Where the configured number of stream threads came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfiguredFrom {
    /// `top --threads N`.
    Flag,
    /// `num.stream.threads` on the JVM's command line or in a properties
    /// file named there.
    CommandLine,
    /// The most stream threads seen alive (`alive-stream-threads`) since
    /// `top` started watching the JVM.
    Seen,
}

impl ConfiguredFrom {
    pub fn describe(self) -> &'static str {
        match self {
            ConfiguredFrom::Flag => "--threads",
            ConfiguredFrom::CommandLine => "num.stream.threads on the command line",
            ConfiguredFrom::Seen => "most stream threads seen alive",
        }
    }
}

/// The input lag of an app's consumer group (its application id).
#[derive(Debug, Clone, PartialEq)]
pub struct InputLag {
    /// Records still to read, summed over partitions.
    pub lag: Option<i64>,
    pub lag_seconds: Option<f64>,
    /// Least-squares slope of the lag, records per second.
    pub slope: Option<f64>,
    /// Group status (OK, WARN, STALL, STOP, ...).
    pub status: String,
    pub topics: Vec<TopicLag>,
}

impl InputLag {
    /// `rising`, `falling`, `flat`, or `-` before there are two samples.
    pub fn trend(&self) -> &'static str {
        trend_word(self.slope)
    }
}

/// The word for a lag slope (records/s): moves under half a record a second are flat.
pub fn trend_word(slope: Option<f64>) -> &'static str {
    match slope {
        Some(s) if s > 0.5 => "rising",
        Some(s) if s < -0.5 => "falling",
        Some(_) => "flat",
        None => "-",
    }
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
    /// `num.stream.threads` as far as it can be told, and from where.
    pub threads_configured: Option<(u32, ConfiguredFrom)>,
    pub process_rate: Option<f64>,
    pub e2e_latency_ms: Option<f64>,
    pub restore_remaining: Option<f64>,
    /// Share of the restore done (0..1): restored over the largest backlog
    /// seen since it began; `None` when nothing is restoring.
    pub restore_progress: Option<f64>,
    /// Tasks still restoring, with rate and ETA.
    pub restoring: Vec<Restore>,
    /// The current or last restore of the client and of each task, as
    /// followed by this `top` (began, ended, took).
    pub last_restores: Vec<Phase>,
    /// Filled by [`Top::rows`] from the last lag report, when there is one.
    pub input_lag: Option<InputLag>,
    /// What ksbridge's interceptors in the app recorded, per topic.
    pub interceptors: Vec<TopicFlow>,
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
    Lag,
}

impl SortBy {
    pub fn next(self) -> SortBy {
        match self {
            SortBy::App => SortBy::State,
            SortBy::State => SortBy::Rate,
            SortBy::Rate => SortBy::Latency,
            SortBy::Latency => SortBy::Heap,
            SortBy::Heap => SortBy::Cpu,
            SortBy::Cpu => SortBy::Lag,
            SortBy::Lag => SortBy::App,
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
            SortBy::Lag => "input lag",
        }
    }
}

/// Now, ms since the epoch (restore start and end are wall-clock times).
fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
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
    /// `--threads`: the configured stream threads of every app.
    expected_threads: Option<u32>,
    /// Per target: `num.stream.threads` from its command line.
    declared_threads: HashMap<String, u32>,
    /// (target, client id) -> most stream threads seen.
    seen_threads: HashMap<(String, String), f64>,
    /// (target, client id) -> largest restore backlog since the restore began.
    restore_backlog: HashMap<(String, String), f64>,
    /// Restores followed over the refreshes, per client and task.
    restore_history: History,
    /// Group -> input lag, from the last lag report.
    lag: HashMap<String, InputLag>,
    /// Why the last lag refresh failed, when it did.
    lag_error: Option<String>,
}

/// `num.stream.threads` from a JVM's command line: `num.stream.threads=N`
/// inside any argument (`-Dnum.stream.threads=4`, `--num.stream.threads=4`,
/// `--set num.stream.threads=4`), `--num.stream.threads 4` as two
/// arguments, or a line of a `.properties` file named by an argument, read
/// with `read` (the caller resolves the path against the process). The
/// last one found wins, as later settings usually do.
pub fn num_stream_threads(args: &[String], read: impl Fn(&str) -> Option<String>) -> Option<u32> {
    const KEY: &str = "num.stream.threads";
    let value = |v: &str| v.trim().parse::<u32>().ok().filter(|n| *n > 0);
    let mut found = None;
    for (i, a) in args.iter().enumerate() {
        if let Some(at) = a.find(KEY) {
            let rest = &a[at + KEY.len()..];
            let v = match rest.strip_prefix(['=', ':']) {
                Some(v) => value(v),
                None if rest.is_empty() => args.get(i + 1).and_then(|n| value(n)),
                None => None,
            };
            if v.is_some() {
                found = v;
            }
        } else if a.ends_with(".properties") {
            let Some(text) = read(a) else {
                continue;
            };
            for line in text.lines() {
                let l = line.trim();
                let Some(rest) = l.strip_prefix(KEY) else {
                    continue;
                };
                let rest = rest.trim_start();
                if let Some(v) = rest.strip_prefix(['=', ':']).and_then(value) {
                    found = Some(v);
                }
            }
        }
    }
    found
}

/// The input lag of each group in a report.
pub fn input_lags(report: &LagReport) -> HashMap<String, InputLag> {
    let mut out = HashMap::new();
    for g in &report.groups {
        let mut topics: BTreeMap<String, TopicLag> = BTreeMap::new();
        let mut slopes: BTreeMap<String, Option<f64>> = BTreeMap::new();
        for p in &g.partitions {
            let t = topics.entry(p.topic.clone()).or_insert_with(|| TopicLag {
                topic: p.topic.clone(),
                lag: None,
                lag_seconds: None,
                status: crate::lag::Status::Ok.to_string(),
                trend: String::new(),
            });
            if let Some(l) = p.lag {
                t.lag = Some(t.lag.unwrap_or(0) + l);
            }
            if let Some(x) = p.lag_seconds {
                t.lag_seconds = Some(t.lag_seconds.map_or(x, |y: f64| y.max(x)));
            }
            if p.status != crate::lag::Status::Ok {
                t.status = p.status.to_string();
            }
            if let Some(s) = p.trend.records_per_second {
                let e = slopes.entry(p.topic.clone()).or_insert(None);
                *e = Some(e.unwrap_or(0.0) + s);
            }
        }
        for (topic, t) in topics.iter_mut() {
            t.trend = trend_word(slopes.get(topic).copied().flatten()).to_string();
        }
        out.insert(
            g.group.clone(),
            InputLag {
                lag: g.lag,
                lag_seconds: g.lag_seconds,
                slope: g.trend.records_per_second,
                status: g.status.to_string(),
                topics: topics.into_values().collect(),
            },
        );
    }
    out
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

    /// `--threads N`: every app is configured with N stream threads.
    pub fn expect_threads(&mut self, n: Option<u32>) {
        self.expected_threads = n;
    }

    /// `num.stream.threads` read from a target's command line.
    pub fn declare_threads(&mut self, target: &str, n: u32) {
        self.declared_threads.insert(target.to_string(), n);
    }

    /// The latest lag report (or why there is none).
    pub fn set_lag(&mut self, report: Option<&LagReport>, error: Option<String>) {
        if let Some(r) = report {
            self.lag = input_lags(r);
        }
        self.lag_error = error;
    }

    /// Why the input lag is unknown, when it is.
    pub fn lag_error(&self) -> Option<&str> {
        self.lag_error.as_deref()
    }

    /// Every application id shown (the groups whose lag to measure).
    pub fn application_ids(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .rows
            .values()
            .flatten()
            .map(|r| r.application_id.clone())
            .filter(|a| !a.is_empty())
            .collect();
        v.sort();
        v.dedup();
        v
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
                threads_configured: None,
                process_rate: None,
                e2e_latency_ms: None,
                restore_remaining: None,
                restore_progress: None,
                restoring: Vec::new(),
                last_restores: Vec::new(),
                input_lag: None,
                interceptors: Vec::new(),
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
        self.declared_threads.remove(target);
        self.seen_threads.retain(|(t, _), _| t != target);
        self.restore_backlog.retain(|(t, _), _| t != target);
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
                    self.states.insert(key.clone(), (state.clone(), now));
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
            let mut view = crate::insight::instance(target, snap, &app.client_id);
            // The tasks' restore metric, or before 3.5 the restore consumers' lag.
            let restore_remaining = view
                .restore_source
                .map(|_| view.restoring.iter().map(|r| r.remaining).sum::<f64>());
            self.restore_history.observe(
                wall_ms(),
                &app.application_id,
                &app.client_id,
                &Progress {
                    tasks: view.restoring.clone(),
                    source: view.restore_source,
                },
            );
            self.restore_history
                .fill_rates(&app.client_id, &mut view.restoring);
            let restore_progress = match restore_remaining {
                Some(r) if r > 0.0 => {
                    let backlog = self.restore_backlog.entry(key.clone()).or_insert(r);
                    *backlog = backlog.max(r);
                    Some((*backlog - r) / *backlog)
                }
                _ => {
                    self.restore_backlog.remove(&key);
                    None
                }
            };
            let alive = metric("alive-stream-threads");
            // Not the highest `StreamThread-N`: a replaced thread's successor
            // takes the next index while the dying one still holds its own.
            // Before 2.8 (no alive-stream-threads), the stream threads with beans.
            let now_alive = alive.unwrap_or_else(|| {
                let mut ids: Vec<&str> = snap
                    .of_type("kafka.streams", "stream-thread-metrics")
                    .filter_map(|b| b.name.get("thread-id"))
                    .filter(|t| t.starts_with(&prefix) && t.contains("-StreamThread-"))
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                ids.len() as f64
            });
            let seen = self.seen_threads.entry(key.clone()).or_insert(0.0);
            *seen = seen.max(now_alive);
            let threads_configured = match (
                self.expected_threads,
                self.declared_threads.get(target),
                *seen,
            ) {
                (Some(n), _, _) => Some((n, ConfiguredFrom::Flag)),
                (None, Some(n), _) => Some((*n, ConfiguredFrom::CommandLine)),
                (None, None, s) if s > 0.0 => Some((s as u32, ConfiguredFrom::Seen)),
                _ => None,
            };
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
            if let (Some(a), Some((c, from))) = (alive, threads_configured) {
                if a < f64::from(c) {
                    warnings.push(format!(
                        "{a:.0} of {c} stream threads alive (configured: {})",
                        from.describe()
                    ));
                }
            }
            let failed_sends: f64 = view.interceptors.iter().map(|f| f.failed_total()).sum();
            if failed_sends > 0.0 {
                warnings.push(format!("{failed_sends:.0} sends failed (interceptors)"));
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
                threads_alive: alive,
                threads_failed: failed,
                threads_configured,
                process_rate: sum_of(snap, "stream-thread-metrics", "process-rate", owned),
                e2e_latency_ms: max_of(
                    snap,
                    "stream-processor-node-metrics",
                    "record-e2e-latency-avg",
                    owned,
                ),
                restore_remaining,
                restore_progress,
                restoring: view.restoring,
                last_restores: self.restore_history.phases(&app.client_id),
                input_lag: None,
                interceptors: view.interceptors,
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
            .map(|mut r| {
                r.input_lag = self.lag.get(&r.application_id).cloned();
                r
            })
            .collect();
        let num = |v: Option<f64>| v.unwrap_or(f64::NEG_INFINITY);
        let lag = |r: &AppRow| num(r.input_lag.as_ref().and_then(|l| l.lag).map(|l| l as f64));
        out.sort_by(|a, b| {
            let by = match sort {
                SortBy::App => a.application_id.cmp(&b.application_id),
                SortBy::State => a.state.cmp(&b.state),
                SortBy::Rate => num(b.process_rate).total_cmp(&num(a.process_rate)),
                SortBy::Latency => num(b.e2e_latency_ms).total_cmp(&num(a.e2e_latency_ms)),
                SortBy::Heap => num(b.heap_used).total_cmp(&num(a.heap_used)),
                SortBy::Cpu => num(b.cpu).total_cmp(&num(a.cpu)),
                SortBy::Lag => lag(b).total_cmp(&lag(a)),
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
    fn num_stream_threads_from_arguments_and_properties_files() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let none = |_: &str| None;
        assert_eq!(
            num_stream_threads(&args(&["java", "-Dnum.stream.threads=4", "App"]), none),
            Some(4)
        );
        assert_eq!(
            num_stream_threads(&args(&["java", "App", "--num.stream.threads", "3"]), none),
            Some(3)
        );
        assert_eq!(
            num_stream_threads(
                &args(&["java", "App", "--set", "num.stream.threads=2"]),
                none
            ),
            Some(2)
        );
        let file = |p: &str| {
            (p == "conf/app.properties")
                .then(|| "# comment\nnum.stream.threads = 6\nnum.stream.threadsx=9\n".to_string())
        };
        assert_eq!(
            num_stream_threads(&args(&["java", "App", "conf/app.properties"]), file),
            Some(6)
        );
        // Hostile or absent values are no answer.
        assert_eq!(
            num_stream_threads(
                &args(&[
                    "java",
                    "-Dnum.stream.threads=-1",
                    "--num.stream.threads",
                    "x",
                    "y.properties"
                ]),
                none
            ),
            None
        );
        assert_eq!(num_stream_threads(&args(&["java", "App"]), none), None);
    }

    #[test]
    fn configured_threads_flag_command_line_then_most_seen() {
        let mut t = Top::new();
        t.update("pid:1", &snap(1000, 0, "RUNNING"));
        let r = &t.rows(SortBy::App, "")[0];
        // One alive: configured 1, from what was seen.
        assert_eq!(r.threads_configured, Some((1, ConfiguredFrom::Seen)));
        t.declare_threads("pid:1", 2);
        t.update("pid:1", &snap(2000, 0, "RUNNING"));
        let r = &t.rows(SortBy::App, "")[0];
        assert_eq!(r.threads_configured, Some((2, ConfiguredFrom::CommandLine)));
        assert!(r
            .warnings
            .iter()
            .any(|w| w.starts_with("1 of 2 stream threads alive")));
        t.expect_threads(Some(1));
        t.update("pid:1", &snap(3000, 0, "RUNNING"));
        let r = &t.rows(SortBy::App, "")[0];
        assert_eq!(r.threads_configured, Some((1, ConfiguredFrom::Flag)));
        assert!(!r
            .warnings
            .iter()
            .any(|w| w.contains("stream threads alive")));
    }

    #[test]
    fn restore_progress_against_the_largest_backlog_seen() {
        let restoring = |left: i64| {
            let mut s = snap(1000, 0, "REBALANCING");
            s.beans.push(bean(
                "kafka.streams:type=stream-task-metrics,thread-id=app-1-StreamThread-1,task-id=0_0",
                &[("restore-remaining-records-total", Value::Long(left))],
            ));
            s
        };
        let mut t = Top::new();
        t.update("pid:1", &restoring(1000));
        assert_eq!(t.rows(SortBy::App, "")[0].restore_progress, Some(0.0));
        t.update("pid:1", &restoring(250));
        let r = &t.rows(SortBy::App, "")[0];
        assert_eq!(r.restore_progress, Some(0.75));
        assert_eq!(r.restoring.len(), 1);
        t.update("pid:1", &restoring(0));
        assert_eq!(t.rows(SortBy::App, "")[0].restore_progress, None);
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
