//! "Stuck": no processing progress while input lag remains or grows, joined
//! from the lag source's view of the application's consumer group (a Kafka
//! Streams app commits under its application id) and the client's own beans.
//! Input: [`GroupVerdict`]s the lag source publishes into a shared
//! [`LagVerdicts`] handle, and an [`Instance`]; output: a health [`Reason`].
//!
//! Progress is judged by the committed offsets, not by the client's
//! `process-rate`: Kafka's rates are averaged over their sample window (up to
//! a minute), so a thread blocked in a processor still shows a rate for a
//! while, whereas offsets that stop moving while lag remains (the lag
//! status `STALL`, or `STOP` when no member owns the partitions) say at once
//! that nothing gets through. The client must be `RUNNING`: while it
//! rebalances or restores, a pause is expected and said by its own reason.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::health::{Reason, Status};
use super::Instance;
use crate::lag::{LagReport, Status as LagStatus};

/// What the lag source last saw of one consumer group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupVerdict {
    pub status: LagStatus,
    /// Total lag (records), when the offsets could be read.
    pub lag: Option<i64>,
}

/// The lag source's latest verdict per group, shared with the metric groups
/// that judge health (a cheap handle: clones share the map).
#[derive(Debug, Clone, Default)]
pub struct LagVerdicts(Arc<RwLock<HashMap<String, GroupVerdict>>>);

/// Two handles are equal when they share one map.
impl PartialEq for LagVerdicts {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for LagVerdicts {}

impl LagVerdicts {
    /// Replaces every verdict with those of `report`.
    pub fn publish(&self, report: &LagReport) {
        let map = report
            .groups
            .iter()
            .map(|g| {
                (
                    g.group.clone(),
                    GroupVerdict {
                        status: g.status,
                        lag: g.lag,
                    },
                )
            })
            .collect();
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = map;
    }

    /// The verdict on `group`, if the lag source measured it.
    pub fn get(&self, group: &str) -> Option<GroupVerdict> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(group)
            .cloned()
    }
}

/// The `stuck` finding for one running instance whose group's committed
/// offsets stopped while lag remains.
pub fn reason(group: &str, verdict: &GroupVerdict, instance: &Instance) -> Option<Reason> {
    if instance.state.as_deref() != Some("RUNNING")
        || !matches!(verdict.status, LagStatus::Stall | LagStatus::Stop)
    {
        return None;
    }
    let lag = verdict
        .lag
        .map_or_else(|| "lag".to_string(), |l| format!("{l} records of lag"));
    let rate = instance
        .process_rate
        .map_or_else(String::new, |r| format!(", processing {r:.1} rec/s"));
    Some(Reason {
        status: Status::Degraded,
        code: "stuck",
        text: format!(
            "{}: stuck: group {group} is {} ({lag}, committed offsets do not move{rate})",
            instance.source, verdict.status
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(state: &str) -> Instance {
        Instance {
            source: "pid 1".into(),
            client_id: "app-1".into(),
            version: None,
            state: Some(state.into()),
            alive_threads: Some(1.0),
            failed_threads: Some(0.0),
            recording_level: "INFO".into(),
            threads: Vec::new(),
            process_rate: Some(0.0),
            e2e_latency_avg: None,
            e2e_latency_max: None,
            restoring: Vec::new(),
            restore_source: None,
            last_restores: Vec::new(),
            interceptors: Vec::new(),
            taken_at_ms: 0,
        }
    }

    #[test]
    fn stuck_only_when_running_and_offsets_stopped() {
        let stall = GroupVerdict {
            status: LagStatus::Stall,
            lag: Some(120),
        };
        let r = reason("app", &stall, &instance("RUNNING")).unwrap();
        assert_eq!((r.code, r.status), ("stuck", Status::Degraded));
        assert!(
            r.text.contains("group app is STALL (120 records of lag"),
            "{}",
            r.text
        );
        assert!(reason("app", &stall, &instance("REBALANCING")).is_none());
        let warn = GroupVerdict {
            status: LagStatus::Warn,
            lag: Some(120),
        };
        assert!(reason("app", &warn, &instance("RUNNING")).is_none());
    }
}
