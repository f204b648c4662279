//! Restore progress like a `StateRestoreListener` sees it, from the best
//! source the Kafka Streams version offers: the tasks'
//! `restore-remaining-records-total` (3.5+), else the restore consumer's
//! `records-lag` per changelog partition (any version), attributed to tasks
//! and stores through the client's topology. [`History`] follows restores
//! over successive reads (start, end, duration per client and per task).
//! Pure: a snapshot in, [`Progress`] out; observations in, [`Phase`]s out.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::jmx::{Bean, Snapshot};
use crate::topology;

use super::Restore;

/// The help of `kafka_streams_restore_eta_seconds` (the health group and,
/// before Kafka Streams 3.5, the state poller write it).
pub const ETA_HELP: &str = "Seconds until a restoring task is done at its current restore rate (the task's, else its share of the state updater's; before 3.5, the rate at which its restore consumer's lag fell as the state poller saw it).";

/// Where the records left to restore come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoreSource {
    /// The tasks' `restore-remaining-records-total` (Kafka Streams 3.5+).
    TaskMetric,
    /// The restore consumer's `records-lag` per changelog partition (before
    /// 3.5, where the task metric does not exist).
    RestoreConsumerLag,
}

impl RestoreSource {
    /// The value of the `source` label.
    pub fn as_str(self) -> &'static str {
        match self {
            RestoreSource::TaskMetric => "task_metric",
            RestoreSource::RestoreConsumerLag => "restore_consumer_lag",
        }
    }

    /// For people.
    pub fn describe(self) -> &'static str {
        match self {
            RestoreSource::TaskMetric => "from the tasks' restore-remaining-records-total",
            RestoreSource::RestoreConsumerLag => {
                "from the restore consumer's lag: no restore-remaining-records-total before Kafka Streams 3.5"
            }
        }
    }
}

/// What one read says about a client's restores.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Every task the source covers, restoring or not (remaining 0).
    pub tasks: Vec<Restore>,
    /// `None` when the read shows neither source (no task beans with the
    /// metric, no restore consumer).
    pub source: Option<RestoreSource>,
}

impl Progress {
    /// The tasks with records left.
    pub fn restoring(&self) -> Vec<Restore> {
        self.tasks
            .iter()
            .filter(|r| r.remaining > 0.0)
            .cloned()
            .collect()
    }

    pub fn remaining(&self) -> f64 {
        self.tasks.iter().map(|r| r.remaining).sum()
    }
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// Kafka's gauge, clamped at 0: some versions read negative briefly while
/// batches and the restore start race.
fn clamp(v: f64) -> f64 {
    if v.is_finite() {
        v.max(0.0)
    } else {
        0.0
    }
}

fn owned_by(b: &Bean, prefix: &str) -> bool {
    b.name
        .get("thread-id")
        .is_some_and(|t| t.starts_with(prefix))
}

/// The restore progress of client `client_id` in one snapshot.
pub fn progress(snap: &Snapshot, client_id: &str) -> Progress {
    let prefix = format!("{client_id}-");
    let has_task_metric = snap
        .of_type("kafka.streams", "stream-task-metrics")
        .any(|b| owned_by(b, &prefix) && b.get("restore-remaining-records-total").is_some());
    if has_task_metric {
        return Progress {
            tasks: from_task_metric(snap, &prefix),
            source: Some(RestoreSource::TaskMetric),
        };
    }
    let consumers = restore_consumers(snap, &prefix);
    if consumers.is_empty() {
        return Progress::default();
    }
    Progress {
        tasks: from_consumer_lag(snap, client_id, &prefix, &consumers),
        source: Some(RestoreSource::RestoreConsumerLag),
    }
}

/// Whether a read of the app should include the restore consumers'
/// fetch beans: no task shows `restore-remaining-records-total` (before
/// Kafka Streams 3.5, or no task yet).
pub fn needs_consumer_lag(snap: &Snapshot) -> bool {
    !snap
        .of_type("kafka.streams", "stream-task-metrics")
        .any(|b| b.get("restore-remaining-records-total").is_some())
}

/// The state updater's `restore-records-rate` summed over the client's
/// updater threads (3.5+).
fn updater_rate(snap: &Snapshot, prefix: &str) -> f64 {
    snap.of_type("kafka.streams", "stream-state-updater-metrics")
        .filter(|b| owned_by(b, prefix))
        .filter_map(|b| finite(b.f64("restore-records-rate")))
        .sum()
}

/// Tasks with `restore-remaining-records-total` (3.5+); the rate is the
/// task's `restore-rate` (DEBUG) or its share of the state updater's.
fn from_task_metric(snap: &Snapshot, prefix: &str) -> Vec<Restore> {
    let mut out = Vec::new();
    for b in snap.of_type("kafka.streams", "stream-task-metrics") {
        let (Some(thread), Some(task)) = (b.name.get("thread-id"), b.name.get("task-id")) else {
            continue;
        };
        let Some(rest) = thread.strip_prefix(prefix) else {
            continue;
        };
        let Some(remaining) = b.f64("restore-remaining-records-total") else {
            continue;
        };
        out.push(Restore {
            thread: rest.to_string(),
            task: task.to_string(),
            remaining: clamp(remaining),
            restored: finite(b.f64("restore-total")).filter(|v| *v > 0.0),
            rate: finite(b.f64("restore-rate")).filter(|v| *v > 0.0),
            eta_seconds: None,
            stores: Vec::new(),
            source: RestoreSource::TaskMetric,
        });
    }
    share_rate(&mut out, updater_rate(snap, prefix));
    out
}

/// Gives restoring tasks without a rate of their own an even share of
/// `shared`, then computes every ETA (remaining / rate).
fn share_rate(tasks: &mut [Restore], shared: f64) {
    let n = tasks
        .iter()
        .filter(|r| r.remaining > 0.0 && r.rate.is_none())
        .count() as f64;
    for r in tasks.iter_mut().filter(|r| r.remaining > 0.0) {
        if r.rate.is_none() && shared > 0.0 && n > 0.0 {
            r.rate = Some(shared / n);
        }
        r.eta_seconds = r.rate.filter(|v| *v > 0.0).map(|v| r.remaining / v);
    }
}

/// One restore consumer of the client: `<client>-<thread>-restore-consumer`.
struct RestoreConsumer<'a> {
    thread: &'a str,
    /// `records-consumed-rate` of the whole consumer.
    rate: Option<f64>,
    /// (topic tag, partition, records-lag; None before the first fetch or
    /// after the partition stopped being fetched).
    partitions: Vec<(&'a str, u32, Option<f64>)>,
}

fn restore_consumers<'a>(snap: &'a Snapshot, prefix: &str) -> Vec<RestoreConsumer<'a>> {
    let mut out: Vec<RestoreConsumer> = Vec::new();
    for b in snap.of_type("kafka.consumer", "consumer-fetch-manager-metrics") {
        let Some(thread) = b
            .name
            .get("client-id")
            .and_then(|c| c.strip_prefix(prefix))
            .and_then(|c| c.strip_suffix("-restore-consumer"))
        else {
            continue;
        };
        let i = match out.iter().position(|c| c.thread == thread) {
            Some(i) => i,
            None => {
                out.push(RestoreConsumer {
                    thread,
                    rate: None,
                    partitions: Vec::new(),
                });
                out.len() - 1
            }
        };
        let c = &mut out[i];
        match (b.name.get("topic"), b.name.get("partition")) {
            (Some(topic), Some(p)) => {
                if let Ok(p) = p.parse::<u32>() {
                    c.partitions
                        .push((topic, p, finite(b.f64("records-lag")).map(clamp)));
                }
            }
            (None, None) => c.rate = finite(b.f64("records-consumed-rate")),
            _ => {}
        }
    }
    out
}

/// Per changelog topic (as the consumer's `topic` tag spells it: `.` becomes
/// `_`), the task id prefix of its sub-topology and its store, from the
/// client's `topology-description`.
fn changelogs(snap: &Snapshot, client_id: &str) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    let client = || {
        snap.of_type("kafka.streams", "stream-metrics")
            .filter(|b| b.name.get("client-id") == Some(client_id))
    };
    let app = client().find_map(|b| b.text("application-id"));
    let text = client().find_map(|b| b.text("topology-description"));
    let (Some(app), Some(text)) = (app, text) else {
        return out;
    };
    let description = topology::parse(text);
    for s in description.subtopologies.iter().filter(|s| !s.global) {
        for store in s.stores() {
            let topic =
                topology::internal_topic(app, s.topology.as_deref(), &format!("{store}-changelog"));
            out.insert(topic.replace('.', "_"), (s.task_prefix(), store));
        }
    }
    out
}

/// Tasks from the restore consumers' lag. A partition of a `-changelog`
/// topic maps to a task through the topology (changelog topic ->
/// sub-topology, partition = the task's); without one, to the client's only
/// active task with that partition (`?_<partition>` when no task bean was
/// read). Standby tasks (told apart only at DEBUG,
/// by their `update-*` metrics, or by having no task bean of an active task)
/// are left out: their lag is catching up, not restoring.
fn from_consumer_lag(
    snap: &Snapshot,
    client_id: &str,
    prefix: &str,
    consumers: &[RestoreConsumer],
) -> Vec<Restore> {
    // Parsing the topology costs more than the rest: only with partitions to map.
    let index = if consumers.iter().any(|c| !c.partitions.is_empty()) {
        changelogs(snap, client_id)
    } else {
        BTreeMap::new()
    };
    let mut active: BTreeSet<&str> = BTreeSet::new();
    let mut standby: BTreeSet<&str> = BTreeSet::new();
    let mut own_rate: BTreeMap<&str, f64> = BTreeMap::new();
    for b in snap.of_type("kafka.streams", "stream-task-metrics") {
        let Some(task) = b.name.get("task-id").filter(|_| owned_by(b, prefix)) else {
            continue;
        };
        if (b.get("update-total").is_some() || b.get("update-rate").is_some())
            && b.get("active-process-ratio").is_none()
        {
            standby.insert(task);
        } else {
            active.insert(task);
        }
        if let Some(r) = finite(b.f64("restore-rate")).filter(|v| *v > 0.0) {
            own_rate.insert(task, r);
        }
    }
    let app_prefix = snap
        .of_type("kafka.streams", "stream-metrics")
        .filter(|b| b.name.get("client-id") == Some(client_id))
        .find_map(|b| b.text("application-id"))
        .map(|a| format!("{}-", a.replace('.', "_")));
    let mut out: Vec<Restore> = Vec::new();
    for c in consumers {
        let first = out.len();
        for &(topic, partition, lag) in &c.partitions {
            // Only `-changelog` topics: a source topic used as a changelog
            // ends its restore at the committed offset, below the end its lag
            // is measured against, so its lag would never fall to 0.
            if !topic.ends_with("-changelog") {
                continue;
            }
            let (task, store) = match index.get(topic) {
                Some((sub, store)) => (format!("{sub}_{partition}"), store.clone()),
                None => {
                    let store = app_prefix
                        .as_deref()
                        .and_then(|p| topic.strip_prefix(p))
                        .unwrap_or(topic);
                    let store = store.strip_suffix("-changelog").unwrap_or(store);
                    let suffix = format!("_{partition}");
                    let mut candidates = active.iter().filter(|t| t.ends_with(&suffix));
                    let task = match (candidates.next(), candidates.next()) {
                        (Some(t), None) => t.to_string(),
                        _ => format!("?{suffix}"),
                    };
                    (task, store.to_string())
                }
            };
            // A standby's changelog is caught up, not restored: left out when
            // the task is known to be a standby, or unknown among active ones.
            let unknown = !active.is_empty() && !active.contains(task.as_str());
            if standby.contains(task.as_str()) || unknown {
                continue;
            }
            let lag = lag.unwrap_or(0.0);
            match out[first..].iter_mut().find(|r| r.task == task) {
                Some(r) => {
                    r.remaining += lag;
                    if !r.stores.contains(&store) {
                        r.stores.push(store);
                        r.stores.sort();
                    }
                }
                None => out.push(Restore {
                    thread: c.thread.to_string(),
                    task: task.clone(),
                    remaining: lag,
                    restored: None,
                    rate: own_rate.get(task.as_str()).copied(),
                    eta_seconds: None,
                    stores: vec![store],
                    source: RestoreSource::RestoreConsumerLag,
                }),
            }
        }
        // The consumer's fetch rate is the restore rate of its tasks.
        share_rate(&mut out[first..], c.rate.unwrap_or(0.0));
    }
    out.sort_by(|a, b| (&a.thread, &a.task).cmp(&(&b.thread, &b.task)));
    out
}

/// One restore phase as a `StateRestoreListener` would report it: it begins
/// at the first read that sees records left and ends at the first read that
/// sees none, once the next read confirms it (the restore consumer's lag of a
/// task's next changelog partition shows only once that partition is being
/// read, so one read between two partitions can see none left). Start and
/// end are exact to one read interval; a restore shorter than one interval
/// is not seen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Track {
    /// Records left at the last read.
    pub remaining: f64,
    /// When the current or last restore began, ms since the epoch.
    pub start_ms: Option<u64>,
    /// When the last restore ended (None while one runs).
    pub end_ms: Option<u64>,
    /// The largest backlog seen during the current or last restore.
    pub peak: f64,
    /// Restores seen to their end.
    pub finished: u64,
    /// The stores restored, when the source names them.
    pub stores: Vec<String>,
    /// The thread restoring it (tasks).
    pub thread: String,
    /// Where the records left came from.
    pub source: Option<RestoreSource>,
    running: bool,
    /// The first read that saw none left, while the next has not confirmed it.
    zero_since: Option<u64>,
    /// Records restored in the current restore, from the decreases seen.
    restored: f64,
    last_ms: u64,
}

impl Track {
    pub fn observe(&mut self, at_ms: u64, remaining: f64) {
        if remaining > 0.0 {
            if !self.running {
                self.running = true;
                self.start_ms = Some(at_ms);
                self.end_ms = None;
                self.peak = 0.0;
                self.restored = 0.0;
            } else if self.remaining > remaining {
                self.restored += self.remaining - remaining;
            }
            self.zero_since = None;
            self.peak = self.peak.max(remaining);
        } else if self.running {
            self.restored += self.remaining;
            match self.zero_since {
                None => self.zero_since = Some(at_ms),
                Some(z) => {
                    self.end_ms = Some(z);
                    self.finished += 1;
                    self.running = false;
                    self.zero_since = None;
                }
            }
        }
        self.remaining = remaining;
        self.last_ms = at_ms;
    }

    /// Whether a restore runs (or its end awaits confirmation).
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Seconds the last finished restore took.
    pub fn duration_seconds(&self) -> Option<f64> {
        match (self.start_ms, self.end_ms) {
            (Some(s), Some(e)) => Some(e.saturating_sub(s) as f64 / 1e3),
            _ => None,
        }
    }

    /// Records per second restored so far in the running restore (the
    /// decreases of the records left over the time since it began).
    pub fn rate(&self) -> Option<f64> {
        let start = self.start_ms.filter(|_| self.running)?;
        let secs = self.last_ms.saturating_sub(start) as f64 / 1e3;
        (secs > 0.0 && self.restored > 0.0).then(|| self.restored / secs)
    }
}

/// The current or last restore of a client or one of its tasks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    /// The task; `None` for the client as a whole (any task restoring).
    pub task: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stores: Vec<String>,
    /// When it began, ms since the epoch.
    pub began_ms: u64,
    /// When it ended, ms since the epoch; `None` while it runs.
    pub ended_ms: Option<u64>,
    /// How long it took, once ended.
    pub duration_seconds: Option<f64>,
    /// The largest backlog seen (records).
    pub records: f64,
    /// Restores of it seen from start to end.
    pub finished: u64,
}

impl Phase {
    fn of(task: Option<&str>, t: &Track) -> Option<Phase> {
        Some(Phase {
            task: task.map(str::to_string),
            stores: t.stores.clone(),
            began_ms: t.start_ms?,
            ended_ms: t.end_ms,
            duration_seconds: t.duration_seconds(),
            records: t.peak,
            finished: t.finished,
        })
    }
}

/// Restores followed over successive reads, per (application id, client)
/// and per (client, task).
#[derive(Debug, Clone, Default)]
pub struct History {
    pub clients: BTreeMap<(String, String), Track>,
    pub tasks: BTreeMap<(String, String), Track>,
}

impl History {
    /// Feeds one read of a client (nothing when the read shows no source).
    pub fn observe(&mut self, at_ms: u64, application_id: &str, client_id: &str, p: &Progress) {
        if p.source.is_none() {
            return;
        }
        self.clients
            .entry((application_id.to_string(), client_id.to_string()))
            .or_default()
            .observe(at_ms, p.remaining());
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for r in &p.tasks {
            if !seen.insert(r.task.as_str()) {
                continue;
            }
            let remaining: f64 = p
                .tasks
                .iter()
                .filter(|o| o.task == r.task)
                .map(|o| o.remaining)
                .sum();
            let t = self
                .tasks
                .entry((client_id.to_string(), r.task.clone()))
                .or_default();
            t.observe(at_ms, remaining);
            if !r.stores.is_empty() {
                t.stores = r.stores.clone();
            }
            t.thread = r.thread.clone();
            t.source = Some(r.source);
        }
        // A task no longer covered (moved away, closed) is no longer restoring here.
        for ((c, task), t) in self.tasks.iter_mut() {
            if c == client_id && !seen.contains(task.as_str()) && t.running {
                t.observe(at_ms, 0.0);
            }
        }
    }

    /// Records per second the client's running restore has restored so far:
    /// what its tasks' records left fell by (a task that finished counts
    /// whole) over the time since it began. Per client rather than per task:
    /// before 3.5 a restore consumer reads its partitions one after the
    /// other, so a task's own lag shows only while it is being read.
    pub fn client_rate(&self, client_id: &str) -> Option<f64> {
        let c = self
            .clients
            .iter()
            .find(|((_, c), t)| c == client_id && t.running)?
            .1;
        let start = c.start_ms?;
        let secs = c.last_ms.saturating_sub(start) as f64 / 1e3;
        let restored: f64 = self
            .tasks
            .iter()
            .filter(|((c, _), t)| c == client_id && t.start_ms.is_some_and(|s| s >= start))
            .map(|(_, t)| t.restored)
            .sum();
        (secs > 0.0 && restored > 0.0).then(|| restored / secs)
    }

    /// Gives restoring tasks without a rate of their own an even share of
    /// the client's rate seen over the reads so far (Kafka Streams before
    /// 3.5 records none at INFO), and so an ETA.
    pub fn fill_rates(&self, client_id: &str, restoring: &mut [Restore]) {
        let Some(rate) = self.client_rate(client_id) else {
            return;
        };
        share_rate(restoring, rate);
    }

    /// The client's current or last restore (first), then each task's.
    pub fn phases(&self, client_id: &str) -> Vec<Phase> {
        let client = self
            .clients
            .iter()
            .filter(|((_, c), _)| c == client_id)
            .filter_map(|(_, t)| Phase::of(None, t));
        let tasks = self
            .tasks
            .iter()
            .filter(|((c, _), _)| c == client_id)
            .filter_map(|((_, task), t)| Phase::of(Some(task), t));
        client.chain(tasks).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_phases() {
        let mut r = Track::default();
        r.observe(1_000, 0.0);
        assert_eq!(r.start_ms, None);
        r.observe(1_500, 400.0);
        r.observe(2_000, 900.0);
        r.observe(2_500, 100.0);
        assert_eq!((r.start_ms, r.end_ms, r.peak), (Some(1_500), None, 900.0));
        // 900 -> 100: 800 restored in 1 s since the start.
        assert_eq!(r.rate(), Some(800.0));
        // One read with none left is not yet the end (the next partition may
        // not show yet); a second one confirms it, dated at the first.
        r.observe(3_500, 0.0);
        assert_eq!((r.end_ms, r.finished), (None, 0));
        r.observe(3_700, 20.0);
        r.observe(4_000, 0.0);
        r.observe(4_500, 0.0);
        assert_eq!(
            (r.start_ms, r.end_ms, r.finished),
            (Some(1_500), Some(4_000), 1)
        );
        assert_eq!(r.duration_seconds(), Some(2.5));
        assert_eq!(r.rate(), None);
        r.observe(5_000, 0.0);
        assert_eq!(r.finished, 1);
        r.observe(5_500, 10.0);
        assert_eq!((r.start_ms, r.end_ms, r.peak), (Some(5_500), None, 10.0));
    }

    const CLIENT: &str = "app.x-1234";

    /// A pre-3.5 client: tasks without the restore metric, a restore
    /// consumer per stream thread with per-partition lag.
    fn old_client(lags: &[(&str, u32, Option<i64>)], rate: f64) -> Snapshot {
        let topo = "Topologies:\\n   Sub-topology: 0\\n    Source: src (topics: [in])\\n      --> agg\\n    Processor: agg (stores: [totals])\\n      --> none\\n      <-- src\\n\\n  Sub-topology: 1\\n    Source: src2 (topics: [in2])\\n      --> cnt\\n    Processor: cnt (stores: [counts, other.store])\\n      --> none\\n      <-- src2\\n";
        let mut beans = vec![format!(
            r#"{{"name":"kafka.streams:type=stream-metrics,client-id={CLIENT}","attributes":{{
              "application-id":{{"type":"java.lang.String","value":"app.x"}},
              "state":{{"type":"java.lang.String","value":"REBALANCING"}},
              "topology-description":{{"type":"java.lang.String","value":"{topo}"}}}}}}"#
        )];
        for task in ["0_0", "0_1", "1_0"] {
            beans.push(format!(
                r#"{{"name":"kafka.streams:type=stream-task-metrics,thread-id={CLIENT}-StreamThread-1,task-id={task}","attributes":{{
                  "active-process-ratio":{{"type":"java.lang.Double","value":0.0}}}}}}"#
            ));
        }
        let rc = format!("{CLIENT}-StreamThread-1-restore-consumer");
        beans.push(format!(
            r#"{{"name":"kafka.consumer:type=consumer-fetch-manager-metrics,client-id={rc}","attributes":{{
              "records-consumed-rate":{{"type":"java.lang.Double","value":{rate}}}}}}}"#
        ));
        for (topic, p, lag) in lags {
            let attrs = match lag {
                Some(l) => format!(
                    r#""records-lag":{{"type":"java.lang.Double","value":{l}}},"preferred-read-replica":{{"type":"java.lang.Integer","value":-1}}"#
                ),
                None => r#""preferred-read-replica":{"type":"java.lang.Integer","value":-1}"#
                    .to_string(),
            };
            beans.push(format!(
                r#"{{"name":"kafka.consumer:type=consumer-fetch-manager-metrics,client-id={rc},topic={topic},partition={p}","attributes":{{{attrs}}}}}"#
            ));
        }
        Snapshot::from_capture_json(&format!("[{}]", beans.join(","))).unwrap()
    }

    #[test]
    fn restore_consumer_lag_maps_partitions_to_tasks_and_stores() {
        let snap = old_client(
            &[
                ("app_x-totals-changelog", 0, Some(300)),
                ("app_x-totals-changelog", 1, Some(0)),
                ("app_x-counts-changelog", 0, Some(100)),
                ("app_x-other_store-changelog", 0, None),
            ],
            200.0,
        );
        let p = progress(&snap, CLIENT);
        assert_eq!(p.source, Some(RestoreSource::RestoreConsumerLag));
        let got: Vec<(&str, f64, Vec<&str>)> = p
            .tasks
            .iter()
            .map(|r| {
                (
                    r.task.as_str(),
                    r.remaining,
                    r.stores.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("0_0", 300.0, vec!["totals"]),
                ("0_1", 0.0, vec!["totals"]),
                ("1_0", 100.0, vec!["counts", "other.store"]),
            ]
        );
        // The consumer's 200 rec/s shared by the two restoring tasks.
        let r = &p.tasks[0];
        assert_eq!((r.rate, r.eta_seconds), (Some(100.0), Some(3.0)));
        assert_eq!(p.tasks[1].eta_seconds, None);
        assert_eq!(p.restoring().len(), 2);
    }

    fn no_topology(snap: &mut Snapshot) {
        for b in &mut snap.beans {
            b.attributes.retain(|a| a.name != "topology-description");
        }
    }

    #[test]
    fn without_a_topology_the_only_task_of_the_partition_is_taken() {
        let mut snap = old_client(&[("app_x-totals-changelog", 1, Some(5))], 0.0);
        no_topology(&mut snap);
        let p = progress(&snap, CLIENT);
        assert_eq!(p.tasks[0].task, "0_1");
        assert_eq!(p.tasks[0].stores, ["totals"]);
        assert_eq!(p.tasks[0].eta_seconds, None);
        // Partition 0 has two active tasks (0_0, 1_0): not guessed, left out.
        let mut snap = old_client(&[("app_x-totals-changelog", 0, Some(5))], 0.0);
        no_topology(&mut snap);
        let p = progress(&snap, CLIENT);
        assert_eq!(p.source, Some(RestoreSource::RestoreConsumerLag));
        assert!(p.tasks.is_empty(), "{p:?}");
        // A source topic read as a changelog is not counted (its lag never ends).
        let snap = old_client(&[("in", 0, Some(5))], 0.0);
        assert!(progress(&snap, CLIENT).tasks.is_empty());
    }

    #[test]
    fn the_task_metric_wins_and_no_source_is_none() {
        let snap = Snapshot::from_capture_json(&format!(
            r#"[{{"name":"kafka.streams:type=stream-task-metrics,thread-id={CLIENT}-StreamThread-1,task-id=0_0","attributes":{{
              "restore-remaining-records-total":{{"type":"java.lang.Double","value":-3.0}}}}}},
              {{"name":"kafka.consumer:type=consumer-fetch-manager-metrics,client-id={CLIENT}-StreamThread-1-restore-consumer,topic=t,partition=0","attributes":{{
              "records-lag":{{"type":"java.lang.Double","value":50.0}}}}}}]"#
        ))
        .unwrap();
        let p = progress(&snap, CLIENT);
        assert_eq!(p.source, Some(RestoreSource::TaskMetric));
        assert_eq!(p.tasks.len(), 1);
        assert_eq!(p.tasks[0].remaining, 0.0);
        assert_eq!(progress(&snap, "other"), Progress::default());
    }

    #[test]
    fn history_per_client_and_task() {
        let mut h = History::default();
        let lag = |l0: i64, l1: i64| {
            old_client(
                &[
                    ("app_x-totals-changelog", 0, Some(l0)),
                    ("app_x-counts-changelog", 0, Some(l1)),
                ],
                100.0,
            )
        };
        for (at, (a, b)) in [
            (1_000, (0, 0)),
            (2_000, (50, 20)),
            (3_000, (10, 0)),
            (4_000, (10, 0)),
            (5_000, (0, 0)),
            (6_000, (0, 0)),
        ] {
            h.observe(at, "app.x", CLIENT, &progress(&lag(a, b), CLIENT));
        }
        let phases = h.phases(CLIENT);
        let view: Vec<(Option<&str>, u64, Option<u64>, f64)> = phases
            .iter()
            .map(|p| (p.task.as_deref(), p.began_ms, p.ended_ms, p.records))
            .collect();
        assert_eq!(
            view,
            [
                (None, 2_000, Some(5_000), 70.0),
                (Some("0_0"), 2_000, Some(5_000), 50.0),
                (Some("1_0"), 2_000, Some(3_000), 20.0),
            ]
        );
        assert_eq!(phases[0].duration_seconds, Some(3.0));
        assert_eq!(h.client_rate(CLIENT), None, "no restore running");
        assert_eq!(phases[1].stores, ["totals"]);
        assert!(h.phases("other").is_empty());
    }

    #[test]
    fn the_clients_rate_spans_its_tasks_read_one_after_the_other() {
        let mut h = History::default();
        let lag = |l0: Option<i64>, l1: Option<i64>| {
            old_client(
                &[
                    ("app_x-totals-changelog", 0, l0),
                    ("app_x-counts-changelog", 0, l1),
                ],
                0.0,
            )
        };
        // 0_0 is read first (its 600 fall to 0), then 1_0's lag shows.
        for (at, l) in [
            (1_000, lag(Some(600), None)),
            (2_000, lag(Some(0), Some(900))),
        ] {
            h.observe(at, "app.x", CLIENT, &progress(&l, CLIENT));
        }
        assert_eq!(h.client_rate(CLIENT), Some(600.0));
        let mut restoring = progress(&lag(Some(0), Some(900)), CLIENT).restoring();
        h.fill_rates(CLIENT, &mut restoring);
        assert_eq!(restoring.len(), 1);
        assert_eq!(
            (restoring[0].rate, restoring[0].eta_seconds),
            (Some(600.0), Some(1.5))
        );
    }
}
