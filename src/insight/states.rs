//! State tracking like a `KafkaStreams.StateListener`, from polled state
//! attributes: per client and per thread, the transitions seen, the time
//! spent in each state, and the start and duration of the last rebalance.
//! It also follows each client's and task's restore phase like a
//! `StateRestoreListener` (onRestoreStart/onRestoreEnd) from the records left
//! to restore ([`restore::progress`]: the tasks' metric, or before 3.5 the
//! restore consumer's lag).
//! Pure: observations `(time, states)` in, counters and families out.
//!
//! A poll sees the state at one instant, so a transition is counted when its
//! result is first seen, as `from` = the state of the previous poll. Several
//! transitions between two polls show as one (RUNNING -> REBALANCING ->
//! RUNNING within one interval is not seen at all; RUNNING -> PENDING_ERROR ->
//! ERROR shows as RUNNING -> ERROR). Time in a state is credited up to the
//! poll that saw it change, so it is exact to one interval.

use std::collections::BTreeMap;

use super::restore::{self, History, RestoreSource};
use crate::exposition::Kind;
use crate::jmx::Snapshot;
use crate::streams::Out;

/// What one state machine (a client or a thread) went through.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Track {
    pub state: String,
    /// When the current state was first seen, ms since the epoch.
    pub since_ms: u64,
    pub transitions: BTreeMap<(String, String), u64>,
    pub seconds: BTreeMap<String, f64>,
    /// Start of the last rebalance seen, ms since the epoch.
    pub rebalance_start_ms: Option<u64>,
    /// Duration of the last finished rebalance, seconds.
    pub rebalance_seconds: Option<f64>,
    last_seen_ms: u64,
}

/// States that mean "tasks are being (re)assigned".
fn rebalancing(state: &str) -> bool {
    matches!(
        state,
        "REBALANCING" | "PARTITIONS_REVOKED" | "PARTITIONS_ASSIGNED"
    )
}

impl Track {
    fn observe(&mut self, at_ms: u64, state: &str) {
        if self.state.is_empty() {
            self.state = state.to_string();
            self.since_ms = at_ms;
            self.last_seen_ms = at_ms;
            if rebalancing(state) {
                self.rebalance_start_ms = Some(at_ms);
            }
            return;
        }
        let dt = at_ms.saturating_sub(self.last_seen_ms) as f64 / 1e3;
        *self.seconds.entry(self.state.clone()).or_default() += dt;
        self.last_seen_ms = at_ms;
        if self.state == state {
            return;
        }
        *self
            .transitions
            .entry((self.state.clone(), state.to_string()))
            .or_default() += 1;
        let was = rebalancing(&self.state);
        let is = rebalancing(state);
        if !was && is {
            self.rebalance_start_ms = Some(at_ms);
        } else if was && !is {
            if let Some(start) = self.rebalance_start_ms {
                self.rebalance_seconds = Some(at_ms.saturating_sub(start) as f64 / 1e3);
            }
        }
        self.state = state.to_string();
        self.since_ms = at_ms;
    }
}

/// Key of a tracked machine: (application id, client id, thread or "").
pub type Key = (String, String, String);

/// Every client and thread seen by one poller.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    pub tracks: BTreeMap<Key, Track>,
    /// Restore phases per client and per task.
    pub restores: History,
}

impl Tracker {
    /// Feeds one poll of `kafka.streams:type=stream-metrics,*` and
    /// `stream-thread-metrics,*`. Threads without a `state` attribute
    /// (Kafka < 4.0) are tracked as present (`RUNNING` in a running client)
    /// or gone (`DEAD`: its beans disappeared, as a replaced thread's do).
    pub fn observe(&mut self, snap: &Snapshot, at_ms: u64) {
        let apps = crate::streams::apps(snap);
        let mut seen: Vec<Key> = Vec::new();
        for a in &apps {
            let Some(state) = a.state.as_deref() else {
                continue;
            };
            let key = (a.application_id.clone(), a.client_id.clone(), String::new());
            self.tracks
                .entry(key.clone())
                .or_default()
                .observe(at_ms, state);
            seen.push(key);
            let progress = restore::progress(snap, &a.client_id);
            self.restores
                .observe(at_ms, &a.application_id, &a.client_id, &progress);
            let prefix = format!("{}-", a.client_id);
            for b in snap.of_type("kafka.streams", "stream-thread-metrics") {
                let Some(thread) = b
                    .name
                    .get("thread-id")
                    .and_then(|t| t.strip_prefix(&prefix))
                else {
                    continue;
                };
                let own = b.text("state");
                // 4.0+ splits a thread over two beans: only one has `state`.
                let has_state_bean =
                    snap.of_type("kafka.streams", "stream-thread-metrics")
                        .any(|o| {
                            o.name.get("thread-id") == b.name.get("thread-id")
                                && o.text("state").is_some()
                        });
                let st = match (own, has_state_bean) {
                    (Some(s), _) => s,
                    (None, true) => continue,
                    (None, false) if state == "RUNNING" => "RUNNING",
                    (None, false) => continue,
                };
                let key = (
                    a.application_id.clone(),
                    a.client_id.clone(),
                    thread.to_string(),
                );
                if !seen.contains(&key) {
                    self.tracks
                        .entry(key.clone())
                        .or_default()
                        .observe(at_ms, st);
                    seen.push(key);
                }
            }
        }
        // Threads whose beans are gone while their client is still seen died
        // (or were replaced): record DEAD once.
        for (key, t) in self.tracks.iter_mut() {
            if key.2.is_empty() || seen.contains(key) || t.state == "DEAD" {
                continue;
            }
            let client_seen = seen.iter().any(|k| k.1 == key.1 && k.2.is_empty());
            if client_seen {
                t.observe(at_ms, "DEAD");
            }
        }
    }

    /// Before Kafka Streams 3.5 no metric gives a restore rate at INFO: the
    /// ETA of a task restoring by its restore consumer's lag comes from how
    /// fast the polls saw that lag fall.
    fn restore_etas(&self, out: &mut Out) {
        for (app, client) in self.restores.clients.keys() {
            let Some(rate) = self.restores.client_rate(client) else {
                continue;
            };
            let restoring: Vec<(&String, &restore::Track)> = self
                .restores
                .tasks
                .iter()
                .filter(|((c, _), t)| {
                    c == client
                        && t.source == Some(RestoreSource::RestoreConsumerLag)
                        && t.is_running()
                        && t.remaining > 0.0
                })
                .map(|((_, task), t)| (task, t))
                .collect();
            let share = rate / restoring.len().max(1) as f64;
            for (task, t) in restoring {
                let mut labels = vec![
                    ("application_id".into(), app.as_str().into()),
                    ("client_id".into(), client.as_str().into()),
                    ("thread".into(), t.thread.as_str().into()),
                ];
                crate::streams::task_labels(&mut labels, task);
                out.add(
                    "kafka_streams_restore_eta_seconds",
                    Kind::Gauge,
                    restore::ETA_HELP,
                    labels,
                    t.remaining / share,
                );
            }
        }
    }

    /// The tracker's families.
    pub fn families(&self, out: &mut Out) {
        for ((app, client), r) in &self.restores.clients {
            let base = vec![
                ("application_id".into(), app.as_str().into()),
                ("client_id".into(), client.as_str().into()),
            ];
            let Some(start) = r.start_ms else { continue };
            out.add(
                "kafka_streams_restore_last_start_timestamp_seconds",
                Kind::Gauge,
                "When the client's current or last restore began (a poll first saw records left to restore), seconds since the epoch.",
                base.clone(),
                start as f64 / 1e3,
            );
            out.add(
                "kafka_streams_restore_last_records",
                Kind::Gauge,
                "The largest restore backlog (records) seen during the client's current or last restore.",
                base.clone(),
                r.peak,
            );
            out.add(
                "kafka_streams_restores",
                Kind::Counter,
                "Restores of the client seen from start to end by the state poller.",
                base.clone(),
                r.finished as f64,
            );
            if let Some(end) = r.end_ms {
                out.add(
                    "kafka_streams_restore_last_end_timestamp_seconds",
                    Kind::Gauge,
                    "When the client's last restore ended (a poll first saw no records left), seconds since the epoch.",
                    base.clone(),
                    end as f64 / 1e3,
                );
                out.add(
                    "kafka_streams_restore_last_duration_seconds",
                    Kind::Gauge,
                    "How long the client's last finished restore took, seconds (exact to one poll interval).",
                    base.clone(),
                    r.duration_seconds().unwrap_or(0.0),
                );
            }
        }
        self.restore_etas(out);
        for ((app, client, thread), t) in &self.tracks {
            let mut base = vec![
                ("application_id".into(), app.as_str().into()),
                ("client_id".into(), client.as_str().into()),
            ];
            let prefix = if thread.is_empty() {
                "kafka_streams"
            } else {
                base.push(("thread".into(), thread.as_str().into()));
                "kafka_streams_thread"
            };
            for ((from, to), n) in &t.transitions {
                let mut l = base.clone();
                l.push(("from".into(), from.as_str().into()));
                l.push(("to".into(), to.as_str().into()));
                out.add(
                    &format!("{prefix}_state_transitions"),
                    Kind::Counter,
                    "State transitions seen by the state poller (a transition is counted when its result is first polled; several within one interval count as one).",
                    l,
                    *n as f64,
                );
            }
            for (state, s) in &t.seconds {
                let mut l = base.clone();
                l.push(("state".into(), state.as_str().into()));
                out.add(
                    &format!("{prefix}_state_seconds"),
                    Kind::Counter,
                    "Seconds spent in each state since ksbridge started polling (exact to one poll interval).",
                    l,
                    *s,
                );
            }
            if let Some(start) = t.rebalance_start_ms {
                out.add(
                    &format!("{prefix}_rebalance_last_start_timestamp_seconds"),
                    Kind::Gauge,
                    "When the last rebalance seen began (entered REBALANCING / PARTITIONS_REVOKED / PARTITIONS_ASSIGNED), seconds since the epoch.",
                    base.clone(),
                    start as f64 / 1e3,
                );
            }
            if let Some(d) = t.rebalance_seconds {
                out.add(
                    &format!("{prefix}_rebalance_last_duration_seconds"),
                    Kind::Gauge,
                    "How long the last finished rebalance took, seconds.",
                    base.clone(),
                    d,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_time_and_rebalances() {
        let mut t = Track::default();
        t.observe(1_000, "CREATED");
        t.observe(1_500, "REBALANCING");
        t.observe(2_000, "REBALANCING");
        t.observe(4_000, "RUNNING");
        t.observe(9_000, "RUNNING");
        assert_eq!(t.transitions.len(), 2);
        assert_eq!(
            t.transitions[&("REBALANCING".to_string(), "RUNNING".to_string())],
            1
        );
        assert_eq!(t.seconds["CREATED"], 0.5);
        assert_eq!(t.seconds["REBALANCING"], 2.5);
        assert_eq!(t.seconds["RUNNING"], 5.0);
        assert_eq!(t.rebalance_start_ms, Some(1_500));
        assert_eq!(t.rebalance_seconds, Some(2.5));
        assert_eq!(t.since_ms, 4_000);
    }
}
