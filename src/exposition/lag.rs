//! Consumer-group lag as metric families: a `LagReport` (plus the map of
//! group id -> Streams `application_id`) in, `Vec<Family>` out. (The lag
//! source's self-metrics come from the scrape loop, like every source's.)
//!
//! Per partition (labels `group`, [`application_id`], `topic`, `partition`):
//! `kafka_consumergroup_lag` (records still to read, EOS-correct; absent when
//! the group has no committed offset there), `kafka_consumergroup_lag_seconds`,
//! `kafka_consumergroup_committed_offset`,
//! `kafka_consumergroup_lag_trend_records_per_second`,
//! `kafka_consumergroup_committed_offset_below_log_start` (only when true).
//! Per partition of a topic (labels `topic`, `partition`, once however many
//! groups read it): `kafka_topic_partition_{start,end,stable}_offset`.
//! Per group: `kafka_consumergroup_members`, `kafka_consumergroup_status`
//! (StateSet over OK/WARN/STALL/STOP/REWIND/ERR), and the group-level sums as
//! metrics rather than recording rules (so `ksbridge lag --json`, the table
//! and `/metrics` agree without a rule file):
//! `kafka_consumergroup_lag_sum`, `kafka_consumergroup_lag_seconds_max`,
//! `kafka_consumergroup_lag_sum_trend_records_per_second`,
//! `kafka_consumergroup_lag_sum_seconds_to_zero` (only while catching up).

use std::collections::{BTreeMap, HashMap};

use super::family::{Family, Kind, Label, LabelText};
use crate::lag::{LagReport, Status};

fn l(k: &str, v: impl Into<LabelText>) -> Label {
    (k.into(), v.into())
}

/// The lag families of `report`. `application_ids` maps a group id to the
/// Streams application id it belongs to (normally the same string); those
/// groups' series carry an `application_id` label.
pub fn families(report: &LagReport, application_ids: &HashMap<String, String>) -> Vec<Family> {
    let mut out = partition_families(report, application_ids);
    out.extend(group_families(report, application_ids));
    out.extend(topic_families(report));
    out
}

/// `group` and, for a Streams app's group, `application_id`.
fn group_labels(group: &str, application_ids: &HashMap<String, String>) -> Vec<Label> {
    let mut base = vec![l("group", group)];
    if let Some(app) = application_ids.get(group) {
        base.push(l("application_id", app.clone()));
    }
    base
}

/// Per group and partition: lag, lag seconds, committed offset, trend, truncation.
fn partition_families(
    report: &LagReport,
    application_ids: &HashMap<String, String>,
) -> Vec<Family> {
    let mut lag = Family::new(
        "kafka_consumergroup_lag",
        Kind::Gauge,
        "Records the group still has to read on the partition (log end, or last stable offset for read_committed groups, minus committed offset; transaction markers not counted).",
    );
    let mut secs = Family::new(
        "kafka_consumergroup_lag_seconds",
        Kind::Gauge,
        "Age in seconds of the oldest record the group has not read on the partition (0 when caught up).",
    );
    let mut committed = Family::new(
        "kafka_consumergroup_committed_offset",
        Kind::Gauge,
        "Offset committed by the group on the partition.",
    );
    let mut trend = Family::new(
        "kafka_consumergroup_lag_trend_records_per_second",
        Kind::Gauge,
        "Least-squares slope of the partition's lag over the status window, records per second (negative: catching up).",
    );
    let mut truncated = Family::new(
        "kafka_consumergroup_committed_offset_below_log_start",
        Kind::Gauge,
        "1 when the committed offset is below the log start offset (records deleted before being read); lag counts from the log start.",
    );
    for g in &report.groups {
        let base = group_labels(&g.group, application_ids);
        for p in &g.partitions {
            let mut labels = base.clone();
            labels.push(l("topic", p.topic.clone()));
            labels.push(l("partition", p.partition.to_string()));
            if let Some(v) = p.lag {
                lag.push(labels.clone(), v as f64);
            }
            if let Some(v) = p.lag_seconds {
                secs.push(labels.clone(), v);
            }
            if let Some(v) = p.committed {
                committed.push(labels.clone(), v as f64);
            }
            if let Some(v) = p.trend.records_per_second {
                trend.push(labels.clone(), v);
            }
            if p.truncated {
                truncated.push(labels, 1.0);
            }
        }
    }
    vec![lag, secs, committed, trend, truncated]
}

/// Per group: members, status, summed lag, worst lag seconds, trend, time to zero.
fn group_families(report: &LagReport, application_ids: &HashMap<String, String>) -> Vec<Family> {
    let mut members = Family::new(
        "kafka_consumergroup_members",
        Kind::Gauge,
        "Members of the consumer group.",
    );
    let mut status = Family::new(
        "kafka_consumergroup_status",
        Kind::StateSet,
        "Status of the group over the window: its worst partition (OK, WARN, STALL, STOP, REWIND, ERR).",
    );
    let mut lag_sum = Family::new(
        "kafka_consumergroup_lag_sum",
        Kind::Gauge,
        "Records the group still has to read, summed over its partitions with a committed offset.",
    );
    let mut secs_max = Family::new(
        "kafka_consumergroup_lag_seconds_max",
        Kind::Gauge,
        "Largest lag in seconds over the group's partitions.",
    );
    let mut sum_trend = Family::new(
        "kafka_consumergroup_lag_sum_trend_records_per_second",
        Kind::Gauge,
        "Slope of the group's summed lag, records per second (negative: catching up).",
    );
    let mut eta = Family::new(
        "kafka_consumergroup_lag_sum_seconds_to_zero",
        Kind::Gauge,
        "While the group catches up: seconds until its lag reaches 0 at the current slope.",
    );
    for g in &report.groups {
        let base = group_labels(&g.group, application_ids);
        members.push(base.clone(), g.members.len() as f64);
        for s in Status::ALL {
            let mut labels = base.clone();
            labels.push(l("status", s.as_str()));
            status.push(labels, if s == g.status { 1.0 } else { 0.0 });
        }
        if let Some(v) = g.lag {
            lag_sum.push(base.clone(), v as f64);
        }
        if let Some(v) = g.lag_seconds {
            secs_max.push(base.clone(), v);
        }
        if let Some(v) = g.trend.records_per_second {
            sum_trend.push(base.clone(), v);
        }
        if let Some(v) = g.trend.seconds_to_zero {
            eta.push(base, v);
        }
    }
    vec![members, status, lag_sum, secs_max, sum_trend, eta]
}

/// Per topic partition, once however many groups read it: start, end and stable offsets.
fn topic_families(report: &LagReport) -> Vec<Family> {
    let mut start = Family::new(
        "kafka_topic_partition_start_offset",
        Kind::Gauge,
        "Log start offset of the partition.",
    );
    let mut end = Family::new(
        "kafka_topic_partition_end_offset",
        Kind::Gauge,
        "Log end offset (high watermark) of the partition.",
    );
    let mut stable = Family::new(
        "kafka_topic_partition_stable_offset",
        Kind::Gauge,
        "Last stable offset of the partition (end for read_committed consumers).",
    );
    // (start, end, stable) per topic partition.
    type Ends = (Option<i64>, Option<i64>, Option<i64>);
    let mut tps: BTreeMap<(&str, i32), Ends> = BTreeMap::new();
    for p in report.groups.iter().flat_map(|g| &g.partitions) {
        tps.entry((p.topic.as_str(), p.partition))
            .or_insert((p.start, p.end, p.stable));
    }
    for ((t, p), (s, e, st)) in tps {
        let labels = vec![l("topic", t), l("partition", p.to_string())];
        if let Some(v) = s {
            start.push(labels.clone(), v as f64);
        }
        if let Some(v) = e {
            end.push(labels.clone(), v as f64);
        }
        if let Some(v) = st {
            stable.push(labels, v as f64);
        }
    }
    vec![start, end, stable]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lag::{GroupLag, Isolation, PartitionLag, Timings, Trend};

    fn part(topic: &str, p: i32, committed: Option<i64>, lag: Option<i64>) -> PartitionLag {
        PartitionLag {
            topic: topic.into(),
            partition: p,
            committed,
            start: Some(0),
            end: Some(100),
            stable: Some(99),
            lag,
            offset_lag: lag,
            truncated: false,
            probed: false,
            lag_seconds: lag.map(|_| 2.5),
            status: Status::Ok,
            trend: Trend {
                records_per_second: Some(-1.0),
                seconds_to_zero: None,
            },
            consumer_id: None,
            host: None,
            client_id: None,
        }
    }

    fn report() -> LagReport {
        LagReport {
            taken_at_ms: 0,
            groups: vec![
                GroupLag {
                    group: "app".into(),
                    state: "Stable".into(),
                    protocol_type: "consumer".into(),
                    protocol: "stream".into(),
                    isolation: Isolation::ReadCommitted,
                    members: vec![],
                    partitions: vec![part("in", 0, Some(90), Some(9)), part("in", 1, None, None)],
                    lag: Some(9),
                    lag_seconds: Some(2.5),
                    status: Status::Stall,
                    trend: Trend {
                        records_per_second: Some(-1.0),
                        seconds_to_zero: Some(9.0),
                    },
                    error: None,
                },
                GroupLag {
                    group: "plain".into(),
                    state: "Empty".into(),
                    protocol_type: "consumer".into(),
                    protocol: "".into(),
                    isolation: Isolation::ReadUncommitted,
                    members: vec![],
                    partitions: vec![part("in", 0, Some(100), Some(0))],
                    lag: Some(0),
                    lag_seconds: Some(0.0),
                    status: Status::Ok,
                    trend: Trend::default(),
                    error: None,
                },
            ],
            missing: vec![],
            partitions: 3,
            timings: Timings::default(),
        }
    }

    fn find<'a>(fs: &'a [Family], name: &str) -> &'a Family {
        fs.iter().find(|f| f.name == name).expect(name)
    }

    #[test]
    fn partition_series_and_join_label() {
        let apps = HashMap::from([("app".into(), "app".into())]);
        let fs = families(&report(), &apps);
        let lag = find(&fs, "kafka_consumergroup_lag");
        // The partition without a commit has no lag sample.
        assert_eq!(lag.samples.len(), 2);
        assert_eq!(
            lag.samples[0].labels,
            vec![
                l("group", "app"),
                l("application_id", "app"),
                l("topic", "in"),
                l("partition", "0")
            ]
        );
        assert_eq!(lag.samples[0].value, 9.0);
        assert_eq!(lag.samples[1].labels[0], l("group", "plain"));
        assert_eq!(lag.samples[1].labels.len(), 3);
        // Topic offsets appear once per partition however many groups read it.
        let end = find(&fs, "kafka_topic_partition_end_offset");
        assert_eq!(end.samples.len(), 2);
        assert_eq!(
            find(&fs, "kafka_topic_partition_stable_offset").samples[0].value,
            99.0
        );
    }

    #[test]
    fn group_status_is_a_stateset() {
        let fs = families(&report(), &HashMap::new());
        let st = find(&fs, "kafka_consumergroup_status");
        assert_eq!(st.kind, Kind::StateSet);
        let on: Vec<_> = st
            .samples
            .iter()
            .filter(|s| s.value == 1.0)
            .map(|s| (s.labels[0].1.clone(), s.labels[1].1.clone()))
            .collect();
        assert_eq!(
            on,
            vec![
                ("app".into(), "STALL".into()),
                ("plain".into(), "OK".into())
            ]
        );
        assert_eq!(st.samples.len(), 12);
        assert_eq!(
            find(&fs, "kafka_consumergroup_lag_sum").samples[0].value,
            9.0
        );
        assert_eq!(
            find(&fs, "kafka_consumergroup_lag_sum_seconds_to_zero")
                .samples
                .len(),
            1
        );
    }
}
