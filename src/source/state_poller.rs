//! The state poller: between full scrapes, reads only the client and thread
//! beans of one JVM (`stream-metrics`, `stream-thread-metrics`, and the task
//! beans for restore progress) at a short interval on its own connection, and
//! feeds an [`insight::states::Tracker`]: transitions, time in state, last
//! rebalance start and duration, per client and per thread, and the last
//! restore's start, end and duration per client and task (before Kafka
//! Streams 3.5 from the restore consumers' lag, read only while no task has
//! the restore metric). Input: a JVM target and an interval; output: the
//! tracker's families and restore history on every refresh (source `state`).
//! Dropping the poller (its slot replaced or removed) closes its connection.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{cause, BoxFuture, Output, Source, SourceError};
use crate::discovery::procfs;
use crate::insight::restore;
use crate::insight::states::Tracker;
use crate::jvm::{ConnectionId, Jvm, Target};
use crate::streams::Out;
use crate::target::TargetId;

/// The default poll interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(500);

/// What the poller reads: client state, thread state, and the tasks (for
/// their remaining restore records: at INFO a task bean has 4 attributes).
pub const PATTERNS: &[&str] = &[
    "kafka.streams:type=stream-metrics,*",
    "kafka.streams:type=stream-thread-metrics,*",
    "kafka.streams:type=stream-task-metrics,*",
];

/// Also read while no task shows `restore-remaining-records-total` (Kafka
/// Streams before 3.5, or no task yet): the restore consumers' lag per
/// changelog partition, the fallback source of restore progress.
pub const RESTORE_CONSUMER_PATTERN: &str =
    "kafka.consumer:type=consumer-fetch-manager-metrics,client-id=*-restore-consumer,*";

/// The patterns of one poll.
fn patterns(restore_consumers: bool) -> Vec<String> {
    let mut p: Vec<String> = PATTERNS.iter().map(|p| p.to_string()).collect();
    if restore_consumers {
        p.push(RESTORE_CONSUMER_PATTERN.to_string());
    }
    p
}

#[derive(Default)]
struct Shared {
    tracker: Tracker,
    /// The last poll's failure, if the last poll failed.
    error: Option<String>,
    polls: u64,
}

pub struct StatePoller {
    id: TargetId,
    /// Longest label value served (`--limits.label-length`).
    label_length: usize,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn lock(m: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl StatePoller {
    /// Starts polling `target` every `interval` (must run inside a tokio runtime).
    pub fn start(jvm: Jvm, target: Target, interval: Duration) -> StatePoller {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let id = target.id();
        let s = shared.clone();
        let task = tokio::spawn(async move {
            // Closed when the task ends, also when it is aborted mid-poll
            // (its slot replaced or dropped): see `Held`.
            let mut conn = Held {
                jvm: jvm.clone(),
                id: None,
            };
            let mut restore_consumers = true;
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let deadline = interval.max(Duration::from_secs(2));
            loop {
                ticker.tick().await;
                let c = match conn.id {
                    Some(c) => c,
                    None => match jvm.connect(target.clone(), Duration::from_secs(10)).await {
                        Ok(c) => {
                            conn.id = Some(c);
                            c
                        }
                        Err(e) => {
                            lock(&s).error = Some(e.to_string());
                            continue;
                        }
                    },
                };
                match jvm.read(c, patterns(restore_consumers), deadline).await {
                    Ok(r) => {
                        restore_consumers = restore::needs_consumer_lag(&r.snapshot);
                        let mut g = lock(&s);
                        g.tracker.observe(&r.snapshot, now_ms());
                        g.error = None;
                        g.polls += 1;
                    }
                    Err(e) => {
                        tracing::debug!(target_id = %target.id(), error = %e, "state poll failed");
                        lock(&s).error = Some(e.to_string());
                        conn.id = None;
                        jvm.close(c).await;
                    }
                }
            }
        });
        StatePoller {
            id,
            label_length: crate::jmx::limits::Limits::default().label_length,
            shared,
            task,
        }
    }

    /// Cut label values to `n` bytes (`--limits.label-length`).
    pub fn with_label_length(mut self, n: usize) -> Self {
        self.label_length = n;
        self
    }
}

/// The poller's connection, closed when dropped (the task's end or abort).
struct Held {
    jvm: Jvm,
    id: Option<ConnectionId>,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.jvm.close_detached(id);
        }
    }
}

impl Drop for StatePoller {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Source for StatePoller {
    fn kind(&self) -> &'static str {
        "state"
    }

    fn target(&self) -> String {
        self.id.to_string()
    }

    fn description(&self) -> String {
        "client and thread state poller".into()
    }

    fn jvm(&self) -> Option<&TargetId> {
        Some(&self.id)
    }

    fn refresh(&self, _deadline: Duration) -> BoxFuture<'_, Result<Output, SourceError>> {
        Box::pin(async move {
            // A JVM that exited takes its series with it at once, as the JMX
            // source's do (no ghost transitions of a dead client).
            if let Some(pid) = self.id.pid() {
                if !procfs::alive(pid) {
                    return Err(SourceError::Gone {
                        target: self.id.to_string(),
                        cause: cause(format!("process {pid} exited")),
                    });
                }
            }
            let g = lock(&self.shared);
            if g.polls == 0 {
                if let Some(e) = &g.error {
                    return Err(SourceError::Connect {
                        target: self.id.to_string(),
                        cause: cause(e.clone()),
                    });
                }
            }
            let mut out = Out::new();
            g.tracker.families(&mut out);
            let mut families = out.into_vec();
            // The `target` label on every series, as the JMX source's: two
            // processes sharing a client id stay apart.
            let cuts =
                crate::streams::finish(&mut families, &self.id.to_string(), self.label_length);
            Ok(Output {
                families,
                cuts,
                restores: Some(Arc::new(g.tracker.restores.clone())),
                ..Output::default()
            })
        })
    }
}
