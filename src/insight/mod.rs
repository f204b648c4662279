//! What `KafkaStreams.localThreadsMetadata()`, a state listener, a restore
//! listener and an uncaught exception handler would tell, rebuilt from the
//! beans of running clients. Pure: `(instance label, Snapshot)` pairs in,
//! [`App`] views out (one per application id, joined across instances);
//! [`health`] judges them, [`screen`] draws them.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::jmx::{Bean, Snapshot};
use crate::streams::level;

pub mod health;
pub mod interceptors;
pub mod page;
pub mod restore;
pub mod screen;
pub mod states;
pub mod stuck;

/// One application id, joined over every instance that runs it.
#[derive(Debug, Clone, Serialize)]
pub struct App {
    pub application_id: String,
    pub instances: Vec<Instance>,
}

/// One `KafkaStreams` client (there is usually one per JVM).
#[derive(Debug, Clone, Serialize)]
pub struct Instance {
    /// Where it was read (`pid:123`, a URL, a capture file).
    pub source: String,
    pub client_id: String,
    pub version: Option<String>,
    /// `KafkaStreams.State` name (`RUNNING`, `REBALANCING`, ...).
    pub state: Option<String>,
    pub alive_threads: Option<f64>,
    /// Stream threads that died since the client started (2.8+).
    pub failed_threads: Option<f64>,
    pub recording_level: String,
    pub threads: Vec<Thread>,
    /// Sum of the stream threads' process-rate (records/s).
    pub process_rate: Option<f64>,
    /// Largest record-e2e-latency-avg / -max over processor nodes, seconds.
    pub e2e_latency_avg: Option<f64>,
    pub e2e_latency_max: Option<f64>,
    /// Tasks still restoring (records remaining > 0).
    pub restoring: Vec<Restore>,
    /// Where `restoring` comes from; `None` when the read shows no source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_source: Option<restore::RestoreSource>,
    /// The current or last restore of the client (`task` null) and of each
    /// task, when something followed the app over time (`status --watch`,
    /// serve's state poller for `/apps`, `top`); empty after one read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub last_restores: Vec<restore::Phase>,
    /// Time of the snapshot, ms since the epoch (0 for captures without one).
    pub taken_at_ms: u64,
    /// Per topic, what ksbridge's interceptors in this client recorded (when
    /// the app runs them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interceptors: Vec<interceptors::TopicFlow>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreadKind {
    Stream,
    Global,
    StateUpdater,
}

/// One thread with its tasks, like `ThreadMetadata`.
#[derive(Debug, Clone, Serialize)]
pub struct Thread {
    /// `StreamThread-1`, `GlobalStreamThread`, `StateUpdater-1`.
    pub name: String,
    pub kind: ThreadKind,
    /// The thread's state: Kafka's own (4.0+ `state`), or inferred.
    pub state: Option<String>,
    /// True when `state` is inferred (before 4.0 a thread's state is no metric:
    /// a stream thread whose beans exist in a RUNNING client is RUNNING).
    pub state_inferred: bool,
    pub active_tasks: Vec<String>,
    pub standby_tasks: Vec<String>,
    pub consumer_client_id: Option<String>,
    pub restore_consumer_client_id: Option<String>,
    pub producer_client_id: Option<String>,
    pub process_rate: Option<f64>,
    pub poll_rate: Option<f64>,
    pub commit_rate: Option<f64>,
    pub process_ratio: Option<f64>,
    /// Average latencies, seconds.
    pub process_latency_avg: Option<f64>,
    pub commit_latency_avg: Option<f64>,
    pub poll_latency_avg: Option<f64>,
    /// thread-start-time, ms since the epoch.
    pub start_time_ms: Option<f64>,
}

/// One task still restoring its stores, like `StateRestoreListener` sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Restore {
    /// The thread restoring it (with the restore consumer's lag as the
    /// source, the thread owning that consumer).
    pub thread: String,
    pub task: String,
    /// Records still to restore (Kafka's gauge, clamped at 0: some versions
    /// read negative briefly while batches and the restore start race; or
    /// the restore consumer's lag summed over the task's changelog partitions).
    pub remaining: f64,
    /// Records restored so far (`restore-total`, DEBUG), when recorded.
    pub restored: Option<f64>,
    /// Records per second, from the task (DEBUG) or its thread's share of the
    /// state updater's `restore-records-rate`.
    pub rate: Option<f64>,
    /// remaining / rate, when the rate is positive.
    pub eta_seconds: Option<f64>,
    /// The stores restoring, when the source names them (the restore
    /// consumer's changelog partitions do).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stores: Vec<String>,
    pub source: restore::RestoreSource,
}

impl App {
    pub fn state_summary(&self) -> String {
        let mut states: Vec<&str> = self
            .instances
            .iter()
            .map(|i| i.state.as_deref().unwrap_or("UNKNOWN"))
            .collect();
        states.dedup();
        states.join("/")
    }
}

/// Attributes of every bean of one type, merged per value of `key` (4.0+
/// splits one thread's or client's metrics over beans with and without a
/// `process-id` tag).
fn merged<'a>(snap: &'a Snapshot, ty: &'a str, key: &str) -> BTreeMap<String, Vec<&'a Bean>> {
    let mut out: BTreeMap<String, Vec<&Bean>> = BTreeMap::new();
    for b in snap.of_type("kafka.streams", ty) {
        if let Some(k) = b.name.get(key) {
            out.entry(k.to_string()).or_default().push(b);
        }
    }
    out
}

fn num(beans: &[&Bean], attr: &str) -> Option<f64> {
    beans
        .iter()
        .find_map(|b| b.f64(attr))
        .filter(|v| v.is_finite())
}

fn text(beans: &[&Bean], attr: &str) -> Option<String> {
    beans.iter().find_map(|b| b.text(attr)).map(str::to_string)
}

/// Builds one [`App`] per application id from the instances read.
pub fn apps(reads: &[(String, Snapshot)]) -> Vec<App> {
    let mut out: Vec<App> = Vec::new();
    for (source, snap) in reads {
        for c in crate::streams::apps(snap) {
            let inst = instance(source, snap, &c.client_id);
            match out
                .iter_mut()
                .find(|a| a.application_id == c.application_id)
            {
                Some(a) => a.instances.push(inst),
                None => out.push(App {
                    application_id: c.application_id,
                    instances: vec![inst],
                }),
            }
        }
    }
    out
}

/// The view of one client in one snapshot.
pub fn instance(source: &str, snap: &Snapshot, client_id: &str) -> Instance {
    let clients = merged(snap, "stream-metrics", "client-id");
    let cb: Vec<&Bean> = clients.get(client_id).cloned().unwrap_or_default();
    let state = text(&cb, "state");
    let (lvl, _) = level::recording_level(snap);
    let prefix = format!("{client_id}-");
    let mut threads = Vec::new();
    for (id, beans) in merged(snap, "stream-thread-metrics", "thread-id") {
        let Some(name) = id.strip_prefix(&prefix) else {
            continue;
        };
        threads.push(thread(snap, &id, name, &beans, state.as_deref()));
    }
    for id in merged(snap, "stream-state-updater-metrics", "thread-id").into_keys() {
        let Some(name) = id.strip_prefix(&prefix) else {
            continue;
        };
        let restore_consumer = format!("{id}-restore-consumer");
        threads.push(Thread {
            name: name.to_string(),
            kind: ThreadKind::StateUpdater,
            state: None,
            state_inferred: false,
            active_tasks: Vec::new(),
            standby_tasks: Vec::new(),
            consumer_client_id: None,
            restore_consumer_client_id: has_client(snap, &restore_consumer)
                .then_some(restore_consumer),
            producer_client_id: None,
            process_rate: None,
            poll_rate: None,
            commit_rate: None,
            process_ratio: None,
            process_latency_avg: None,
            commit_latency_avg: None,
            poll_latency_avg: None,
            start_time_ms: None,
        });
    }
    // The global thread has no thread bean before 4.x releases that add one:
    // its task and consumer beans show it exists.
    let global_id = format!("{client_id}-GlobalStreamThread");
    let global_seen = snap
        .beans
        .iter()
        .any(|b| b.name.get("thread-id") == Some(global_id.as_str()))
        || has_client(snap, &format!("{client_id}-global-consumer"));
    if global_seen && !threads.iter().any(|t| t.kind == ThreadKind::Global) {
        let mut g = thread(
            snap,
            &global_id,
            "GlobalStreamThread",
            &[],
            state.as_deref(),
        );
        let gc = format!("{client_id}-global-consumer");
        g.consumer_client_id = has_client(snap, &gc).then_some(gc);
        threads.push(g);
    }
    threads.sort_by_key(|t| (t.kind, sort_key(&t.name)));
    let process_rate = threads
        .iter()
        .filter_map(|t| t.process_rate)
        .reduce(|a, b| a + b);
    let (e2e_avg, e2e_max) = e2e(snap, &prefix);
    let progress = restore::progress(snap, client_id);
    Instance {
        source: source.to_string(),
        client_id: client_id.to_string(),
        version: text(&cb, "version"),
        state,
        alive_threads: num(&cb, "alive-stream-threads"),
        failed_threads: num(&cb, "failed-stream-threads"),
        recording_level: lvl.as_str().to_string(),
        restoring: progress.restoring(),
        restore_source: progress.source,
        last_restores: Vec::new(),
        threads,
        process_rate,
        e2e_latency_avg: e2e_avg,
        e2e_latency_max: e2e_max,
        taken_at_ms: snap.taken_at_ms,
        interceptors: interceptors::for_client(snap, client_id),
    }
}

/// `StreamThread-10` after `StreamThread-9`.
fn sort_key(name: &str) -> (String, u64) {
    let digits = name.trim_start_matches(|c: char| !c.is_ascii_digit());
    let head = &name[..name.len() - digits.len()];
    (head.to_string(), digits.parse().unwrap_or(0))
}

fn has_client(snap: &Snapshot, client_id: &str) -> bool {
    snap.beans.iter().any(|b| {
        matches!(b.name.domain(), "kafka.consumer" | "kafka.producer")
            && b.name.get("client-id") == Some(client_id)
    })
}

fn thread(snap: &Snapshot, id: &str, name: &str, beans: &[&Bean], client: Option<&str>) -> Thread {
    let global = name.ends_with("GlobalStreamThread");
    let own = text(beans, "state");
    let state_inferred = own.is_none();
    let state = own.or_else(|| match client {
        // Before 4.0: the thread's beans exist, so the thread is alive; in a
        // RUNNING client an alive thread is RUNNING.
        Some("RUNNING") => Some("RUNNING".to_string()),
        _ => None,
    });
    let (mut active, mut standby) = (Vec::new(), Vec::new());
    for b in snap.of_type("kafka.streams", "stream-task-metrics") {
        if b.name.get("thread-id") != Some(id) {
            continue;
        }
        let Some(task) = b.name.get("task-id") else {
            continue;
        };
        if task == "-1_-1" {
            continue;
        }
        let is_standby = (b.get("update-total").is_some() || b.get("update-rate").is_some())
            && b.get("restore-remaining-records-total").is_none();
        let list = if is_standby {
            &mut standby
        } else {
            &mut active
        };
        if !list.iter().any(|t| t == task) {
            list.push(task.to_string());
        }
    }
    active.sort();
    standby.sort();
    let client_of = |suffix: &str| {
        let c = format!("{id}-{suffix}");
        has_client(snap, &c).then_some(c)
    };
    let ms = |v: Option<f64>| v.map(|x| x / 1e3);
    Thread {
        name: name.to_string(),
        kind: if global {
            ThreadKind::Global
        } else {
            ThreadKind::Stream
        },
        state,
        state_inferred,
        active_tasks: active,
        standby_tasks: standby,
        consumer_client_id: if global { None } else { client_of("consumer") },
        restore_consumer_client_id: client_of("restore-consumer"),
        producer_client_id: client_of("producer"),
        process_rate: num(beans, "process-rate"),
        poll_rate: num(beans, "poll-rate"),
        commit_rate: num(beans, "commit-rate"),
        process_ratio: num(beans, "process-ratio"),
        process_latency_avg: ms(num(beans, "process-latency-avg")),
        commit_latency_avg: ms(num(beans, "commit-latency-avg")),
        poll_latency_avg: ms(num(beans, "poll-latency-avg")),
        start_time_ms: num(beans, "thread-start-time"),
    }
}

/// Largest record e2e latency avg and max over the client's processor nodes.
fn e2e(snap: &Snapshot, prefix: &str) -> (Option<f64>, Option<f64>) {
    let mut avg: Option<f64> = None;
    let mut max: Option<f64> = None;
    for b in snap.of_type("kafka.streams", "stream-processor-node-metrics") {
        if !b
            .name
            .get("thread-id")
            .is_some_and(|t| t.starts_with(prefix))
        {
            continue;
        }
        let pick = |cur: Option<f64>, v: Option<f64>| match (cur, v.filter(|x| x.is_finite())) {
            (Some(c), Some(x)) => Some(c.max(x)),
            (None, x) => x,
            (c, None) => c,
        };
        avg = pick(avg, b.f64("record-e2e-latency-avg").map(|v| v / 1e3));
        max = pick(max, b.f64("record-e2e-latency-max").map(|v| v / 1e3));
    }
    (avg, max)
}

/// Metric groups the recording level leaves empty (shown as a hint).
pub fn hidden_by_level(level: &str) -> &'static str {
    match level {
        "INFO" => "DEBUG/TRACE metrics (task process/restore rates, store latencies, RocksDB statistics, record cache) are not recorded",
        "DEBUG" => "TRACE metrics (store record e2e latency) are not recorded",
        _ => "",
    }
}
