//! What ksbridge's producer and consumer interceptors recorded for one Kafka
//! Streams client (the beans under `ksbridge.interceptors` whose client id
//! belongs to it), summed over its threads per topic: sent, acknowledged,
//! failed by exception class, consumed, commits, committed offsets per
//! partition, send-to-acknowledgement latency and record age (count, mean,
//! median and 99th percentile from the fixed buckets). Pure: a snapshot and a
//! client id in, [`TopicFlow`] rows out; `status`, its JSON, the `/apps`
//! page and `top`'s drill-in show them.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::exposition::HistogramValue;
use crate::jmx::{Bean, Snapshot};
use crate::streams::interceptors::{read_histogram, DOMAIN};

/// The per-topic table's columns, in order, in every view that shows it
/// (`status`'s screen, `top`'s drill-in).
pub const COLUMNS: [&str; 9] = [
    "TOPIC",
    "SENT",
    "ACKED",
    "FAILED",
    "SEND-ACK",
    "CONSUMED",
    "RECORD AGE",
    "COMMITS",
    "COMMITTED",
];

/// What the table's less obvious columns hold (its title).
pub const LEGEND: &str =
    "SEND-ACK and RECORD AGE: p50/p99; COMMITTED: sum of the partitions' committed offsets";

/// A latency histogram in a few numbers (seconds).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub count: u64,
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
}

/// One topic as the client's interceptors saw it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TopicFlow {
    pub topic: String,
    /// Producer side (`onSend`, `onAcknowledgement`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acked: Option<f64>,
    /// Failed sends by exception class.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub failed: BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_ack_latency: Option<Summary>,
    /// Consumer side (`onConsume`, `onCommit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_age: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commits: Option<f64>,
    /// Last offset the broker confirmed as committed, per partition.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub committed: BTreeMap<i32, i64>,
}

impl TopicFlow {
    pub fn failed_total(&self) -> f64 {
        self.failed.values().sum()
    }
}

fn add(slot: &mut Option<f64>, b: &Bean, attr: &str) {
    if let Some(v) = b.f64(attr).filter(|v| v.is_finite() && *v >= 0.0) {
        *slot = Some(slot.unwrap_or(0.0) + v);
    }
}

/// Histograms of several threads summed bucket by bucket (the buckets are fixed).
fn merge(into: &mut Option<HistogramValue>, h: HistogramValue) {
    let Some(cur) = into else {
        *into = Some(h);
        return;
    };
    let mut by_le: BTreeMap<u64, (f64, u64)> = BTreeMap::new();
    for (le, c) in cur.buckets.iter().chain(h.buckets.iter()) {
        let e = by_le.entry(le.to_bits()).or_insert((*le, 0));
        e.1 += c;
    }
    let mut buckets: Vec<(f64, u64)> = by_le.into_values().collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    cur.buckets = buckets;
    cur.count += h.count;
    cur.sum += h.sum;
}

/// The `q` quantile, interpolated inside its bucket as Prometheus's
/// `histogram_quantile` does; the highest bound when it falls beyond it.
pub fn quantile(h: &HistogramValue, q: f64) -> Option<f64> {
    if h.count == 0 {
        return None;
    }
    let rank = q * h.count as f64;
    let mut lower = (0.0, 0u64);
    for &(le, c) in &h.buckets {
        if c as f64 >= rank {
            let in_bucket = (c - lower.1) as f64;
            let f = if in_bucket > 0.0 {
                (rank - lower.1 as f64) / in_bucket
            } else {
                1.0
            };
            return Some(lower.0 + (le - lower.0) * f.clamp(0.0, 1.0));
        }
        lower = (le, c);
    }
    h.buckets.last().map(|b| b.0)
}

fn summary(h: Option<HistogramValue>) -> Option<Summary> {
    let h = h?;
    Some(Summary {
        count: h.count,
        mean: (h.count > 0).then(|| h.sum / h.count as f64),
        p50: quantile(&h, 0.5),
        p99: quantile(&h, 0.99),
    })
}

/// The interceptors' view of the Streams client `client_id`, one row per
/// topic (sorted); empty when the app runs no ksbridge interceptors.
pub fn for_client(snap: &Snapshot, client_id: &str) -> Vec<TopicFlow> {
    let prefix = format!("{client_id}-");
    let mut rows: BTreeMap<String, TopicFlow> = BTreeMap::new();
    let mut latency: BTreeMap<String, Option<HistogramValue>> = BTreeMap::new();
    let mut age: BTreeMap<String, Option<HistogramValue>> = BTreeMap::new();
    for b in snap.beans.iter().filter(|b| b.name.domain() == DOMAIN) {
        let owned = b
            .name
            .get("client-id")
            .is_some_and(|c| c.starts_with(&prefix));
        let (Some(topic), true) = (b.name.get("topic"), owned) else {
            continue;
        };
        let row = rows.entry(topic.to_string()).or_insert_with(|| TopicFlow {
            topic: topic.to_string(),
            ..TopicFlow::default()
        });
        match b.name.get("type").unwrap_or_default() {
            "producer" => {
                add(&mut row.sent, b, "records-sent-total");
                add(&mut row.acked, b, "records-acked-total");
                if let Some(h) = read_histogram(b, "send-ack-latency-seconds") {
                    merge(latency.entry(topic.to_string()).or_default(), h);
                }
            }
            "producer-failure" => {
                let mut n = None;
                add(&mut n, b, "records-failed-total");
                let class = b.name.get("exception").unwrap_or("unknown");
                *row.failed.entry(class.to_string()).or_insert(0.0) += n.unwrap_or(0.0);
            }
            "consumer" => {
                add(&mut row.consumed, b, "records-consumed-total");
                add(&mut row.commits, b, "commits-total");
                if let Some(h) = read_histogram(b, "record-age-seconds") {
                    merge(age.entry(topic.to_string()).or_default(), h);
                }
            }
            "consumer-partition" => {
                let p = b.name.get("partition").and_then(|p| p.parse::<i32>().ok());
                let o = b
                    .f64("committed-offset")
                    .filter(|o| o.is_finite() && *o >= 0.0);
                if let (Some(p), Some(o)) = (p, o) {
                    // A partition that moved between threads: the newest commit wins.
                    let e = row.committed.entry(p).or_insert(o as i64);
                    *e = (*e).max(o as i64);
                }
            }
            _ => {}
        }
    }
    for (topic, row) in rows.iter_mut() {
        row.send_ack_latency = summary(latency.remove(topic).flatten());
        row.record_age = summary(age.remove(topic).flatten());
    }
    rows.into_values().collect()
}

/// `12ms`, `1.5s`, `-`.
pub fn seconds_text(v: Option<f64>) -> String {
    match v {
        Some(x) if x >= 1.0 => format!("{x:.1}s"),
        Some(x) if x >= 0.001 => format!("{:.0}ms", x * 1e3),
        Some(x) => format!("{:.0}us", x * 1e6),
        None => "-".into(),
    }
}

/// `p50/p99` of a summary, `-` without one.
pub fn percentiles_text(s: Option<&Summary>) -> String {
    match s {
        Some(s) if s.count > 0 => format!("{}/{}", seconds_text(s.p50), seconds_text(s.p99)),
        _ => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jmx::{Attribute, ObjectName, Value};

    fn bean(name: &str, attrs: &[(&str, Value)]) -> Bean {
        Bean {
            name: ObjectName::parse(name).expect("name"),
            class_name: String::new(),
            attributes: attrs
                .iter()
                .map(|(n, v)| Attribute {
                    name: n.to_string(),
                    value: v.clone(),
                })
                .collect(),
        }
    }

    #[test]
    fn threads_are_summed_per_topic_and_other_clients_left_out() {
        let p = |thread: &str, sent: i64, fast: i64| {
            bean(
                &format!("ksbridge.interceptors:type=producer,client-id=app-1-StreamThread-{thread}-producer,topic=out"),
                &[
                    ("records-sent-total", Value::Long(sent)),
                    ("records-acked-total", Value::Long(sent)),
                    ("send-ack-latency-seconds-bucket-le-0.01", Value::Long(fast)),
                    ("send-ack-latency-seconds-bucket-le-0.1", Value::Long(sent)),
                    ("send-ack-latency-seconds-count", Value::Long(sent)),
                    ("send-ack-latency-seconds-sum", Value::Double(0.02 * sent as f64)),
                ],
            )
        };
        let snap = Snapshot::new(
            0,
            vec![
                p("1", 60, 30),
                p("2", 40, 20),
                bean(
                    "ksbridge.interceptors:type=producer-failure,client-id=app-1-StreamThread-1-producer,topic=out,exception=org.apache.kafka.common.errors.RecordTooLargeException",
                    &[("records-failed-total", Value::Long(2))],
                ),
                bean(
                    "ksbridge.interceptors:type=consumer,client-id=app-1-StreamThread-1-consumer,topic=in",
                    &[
                        ("records-consumed-total", Value::Long(7)),
                        ("commits-total", Value::Long(3)),
                        ("record-age-seconds-bucket-le-1", Value::Long(7)),
                        ("record-age-seconds-count", Value::Long(7)),
                        ("record-age-seconds-sum", Value::Double(3.5)),
                    ],
                ),
                bean(
                    "ksbridge.interceptors:type=consumer-partition,client-id=app-1-StreamThread-1-consumer,topic=in,partition=1",
                    &[("committed-offset", Value::Long(5))],
                ),
                bean(
                    "ksbridge.interceptors:type=consumer-partition,client-id=app-1-StreamThread-2-consumer,topic=in,partition=1",
                    &[("committed-offset", Value::Long(3))],
                ),
                bean(
                    "ksbridge.interceptors:type=consumer,client-id=other-StreamThread-1-consumer,topic=in",
                    &[("records-consumed-total", Value::Long(1000))],
                ),
            ],
        );
        let rows = for_client(&snap, "app-1");
        assert_eq!(rows.len(), 2);
        let input = &rows[0];
        assert_eq!(input.topic, "in");
        assert_eq!(input.consumed, Some(7.0));
        assert_eq!(input.commits, Some(3.0));
        assert_eq!(input.committed, BTreeMap::from([(1, 5)]));
        let age = input.record_age.as_ref().expect("age");
        assert_eq!(age.count, 7);
        assert_eq!(age.mean, Some(0.5));
        let out = &rows[1];
        assert_eq!((out.sent, out.acked), (Some(100.0), Some(100.0)));
        assert_eq!(out.failed_total(), 2.0);
        let lat = out.send_ack_latency.as_ref().expect("latency");
        assert_eq!(lat.count, 100);
        // 50 of 100 at or below 10ms: the median is the first bucket's bound.
        assert!((lat.p50.unwrap() - 0.01).abs() < 1e-12, "{lat:?}");
        assert!(
            lat.p99.unwrap() > 0.09 && lat.p99.unwrap() <= 0.1,
            "{lat:?}"
        );
        assert!(for_client(&snap, "app-2").is_empty());
        assert_eq!(percentiles_text(Some(lat)), "10ms/98ms");
    }

    #[test]
    fn quantile_beyond_the_last_bound_and_of_nothing() {
        let h = HistogramValue {
            buckets: vec![(0.1, 1), (1.0, 2)],
            count: 10,
            sum: 50.0,
        };
        assert_eq!(quantile(&h, 0.99), Some(1.0));
        assert_eq!(quantile(&h, 0.05), Some(0.05));
        let empty = HistogramValue {
            buckets: vec![(0.1, 0)],
            count: 0,
            sum: 0.0,
        };
        assert_eq!(quantile(&empty, 0.5), None);
    }
}
