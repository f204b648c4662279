//! Interceptors group: the beans of ksbridge's own producer and consumer
//! interceptors (`ksbridge.interceptors:type=producer|consumer|...`, the jar
//! built from `java-shim/interceptors/`) as `kafka_interceptor_*` families:
//! records and bytes sent, acknowledged, failed by exception class, consumed;
//! committed and consumed offsets; commits; send-to-acknowledgement latency
//! and record age as Prometheus histograms. Works for plain clients and for
//! the clients embedded in Kafka Streams. Input: snapshot + context; output:
//! families.

use super::{Beans, Context, Group, Level, Out};
use crate::exposition::{HistogramValue, Kind, Label, LabelText};
use crate::jmx::{Bean, Snapshot};

pub const GROUP: Group = Group {
    name: "interceptors",
    help: "ksbridge's producer/consumer interceptors (when an app has them): sent, acknowledged, failed, consumed, committed; latency and record-age histograms",
    default_on: true,
    beans: &[
        Beans::of(DOMAIN, "producer"),
        Beans::of(DOMAIN, "producer-failure"),
        Beans::of(DOMAIN, "producer-client"),
        Beans::of(DOMAIN, "consumer"),
        Beans::of(DOMAIN, "consumer-partition"),
        Beans::of(DOMAIN, "consumer-client"),
    ],
    level: |_, _| Some(Level::Info),
    build,
};

/// The JMX domain the interceptors register under.
pub const DOMAIN: &str = "ksbridge.interceptors";

/// `(attribute, metric name, kind, help)` of a bean type's plain attributes.
type Plain = (&'static str, &'static str, Kind, &'static str);

const PRODUCER: &[Plain] = &[
    (
        "records-sent-total",
        "kafka_interceptor_producer_sent_records",
        Kind::Counter,
        "Records passed to send() (interceptor onSend).",
    ),
    (
        "bytes-sent-total",
        "kafka_interceptor_producer_sent_bytes",
        Kind::Counter,
        "Key and value bytes at onSend (byte[], ByteBuffer and Bytes payloads only).",
    ),
    (
        "records-acked-total",
        "kafka_interceptor_producer_acked_records",
        Kind::Counter,
        "Records the broker acknowledged (interceptor onAcknowledgement).",
    ),
    (
        "bytes-acked-total",
        "kafka_interceptor_producer_acked_bytes",
        Kind::Counter,
        "Serialized key and value bytes of acknowledged records.",
    ),
];

const PRODUCER_FAILURE: &[Plain] = &[(
    "records-failed-total",
    "kafka_interceptor_producer_failed_records",
    Kind::Counter,
    "Records whose send failed, by exception class (interceptor onAcknowledgement).",
)];

const CONSUMER: &[Plain] = &[
    (
        "records-consumed-total",
        "kafka_interceptor_consumer_consumed_records",
        Kind::Counter,
        "Records returned by poll() (interceptor onConsume).",
    ),
    (
        "bytes-consumed-total",
        "kafka_interceptor_consumer_consumed_bytes",
        Kind::Counter,
        "Serialized key and value bytes of consumed records.",
    ),
    (
        "commits-total",
        "kafka_interceptor_consumer_topic_commits",
        Kind::Counter,
        "Offset commits the broker confirmed that included this topic (interceptor onCommit).",
    ),
];

const CONSUMER_PARTITION: &[Plain] = &[
    (
        "committed-offset",
        "kafka_interceptor_consumer_committed_offset",
        Kind::Gauge,
        "Last offset the broker confirmed as committed by this consumer (onCommit); -1 before the first.",
    ),
    (
        "consumed-offset",
        "kafka_interceptor_consumer_consumed_offset",
        Kind::Gauge,
        "Offset of the last record poll() returned; -1 before the first.",
    ),
];

/// Client-level beans (`producer-client`, `consumer-client`), role label added.
const CLIENT: &[Plain] = &[
    (
        "commits-total",
        "kafka_interceptor_consumer_commits",
        Kind::Counter,
        "Offset commits the broker confirmed (interceptor onCommit calls).",
    ),
    (
        "overflow-records-total",
        "kafka_interceptor_overflow_records",
        Kind::Counter,
        "Records of topics beyond ksbridge.interceptor.max.topics, not tracked per topic.",
    ),
    (
        "overflow-partition-updates-total",
        "kafka_interceptor_overflow_partition_updates",
        Kind::Counter,
        "Partition updates beyond ksbridge.interceptor.max.partitions, not tracked.",
    ),
    (
        "latency-unmatched-total",
        "kafka_interceptor_producer_latency_unmatched",
        Kind::Counter,
        "Acknowledgements without a recorded send time (ksbridge.interceptor.max.in.flight reached).",
    ),
    (
        "failed-without-topic-total",
        "kafka_interceptor_producer_failed_without_topic_records",
        Kind::Counter,
        "Failed sends reported without topic metadata.",
    ),
    (
        "internal-errors-total",
        "kafka_interceptor_internal_errors",
        Kind::Counter,
        "Errors inside the interceptor, caught and counted (the client is not affected).",
    ),
    (
        "log-lines-total",
        "kafka_interceptor_log_lines",
        Kind::Counter,
        "Log lines the interceptor wrote.",
    ),
    (
        "log-suppressed-total",
        "kafka_interceptor_log_suppressed_lines",
        Kind::Counter,
        "Log lines left out by ksbridge.interceptor.log.max.per.second.",
    ),
];

fn build(snapshot: &Snapshot, ctx: &Context, out: &mut Out) {
    for b in snapshot.beans.iter().filter(|b| b.name.domain() == DOMAIN) {
        let Some(labels) = labels(ctx, b) else {
            continue;
        };
        match b.name.get("type").unwrap_or_default() {
            "producer" => {
                plain(out, b, &labels, PRODUCER);
                histogram(
                    out,
                    b,
                    &labels,
                    "send-ack-latency-seconds",
                    "kafka_interceptor_producer_send_ack_latency_seconds",
                    "Time from onSend to the acknowledgement (n-th acknowledgement of a topic paired with its n-th send).",
                );
            }
            "producer-failure" => plain(out, b, &labels, PRODUCER_FAILURE),
            "consumer" => {
                plain(out, b, &labels, CONSUMER);
                histogram(
                    out,
                    b,
                    &labels,
                    "record-age-seconds",
                    "kafka_interceptor_consumer_record_age_seconds",
                    "Age of consumed records: consume time minus record timestamp.",
                );
            }
            "consumer-partition" => plain(out, b, &labels, CONSUMER_PARTITION),
            "producer-client" | "consumer-client" => plain(out, b, &labels, CLIENT),
            _ => {}
        }
    }
}

/// `application_id`, `client_id`, `thread` (Streams clients; empty for a plain
/// client, whose `client_id` is its own), `kafka_client_id` (the id the
/// interceptor saw), then the bean's `topic`, `partition`, `exception`, and a
/// `role` for client-level beans and `instance` for a duplicate client id.
fn labels(ctx: &Context, b: &Bean) -> Option<Vec<Label>> {
    let id = b.name.get("client-id")?;
    let owner = ctx.owner(id);
    let (client_id, thread) = if owner.client_id.is_empty() {
        (id.into(), LabelText::default())
    } else {
        (owner.client_id, thread_of(&owner.rest).into())
    };
    let mut l = vec![
        ("application_id".into(), owner.application_id),
        ("client_id".into(), client_id),
        ("thread".into(), thread),
        ("kafka_client_id".into(), id.into()),
    ];
    if let Some(t @ ("producer-client" | "consumer-client")) = b.name.get("type") {
        let role = t.trim_end_matches("-client");
        l.push(("role".into(), role.into()));
    }
    for key in ["topic", "partition", "exception", "instance"] {
        if let Some(v) = b.name.get(key) {
            l.push((key.into(), v.into()));
        }
    }
    Some(l)
}

/// `StreamThread-1` of `StreamThread-1-producer`, `GlobalStreamThread` of
/// `global-consumer`; the rest unchanged when it has no client suffix.
fn thread_of(rest: &str) -> String {
    if rest == "global-consumer" {
        return "GlobalStreamThread".into();
    }
    for suffix in ["-restore-consumer", "-consumer", "-producer"] {
        if let Some(t) = rest.strip_suffix(suffix) {
            return t.to_string();
        }
    }
    rest.to_string()
}

fn plain(out: &mut Out, b: &Bean, labels: &[Label], table: &[Plain]) {
    for &(attr, name, kind, help) in table {
        let Some(v) = b.get(attr).and_then(super::numeric) else {
            continue;
        };
        if !v.is_finite() || (kind == Kind::Counter && v < 0.0) {
            continue;
        }
        out.add(name, kind, help, labels.to_vec(), v);
    }
}

fn histogram(out: &mut Out, b: &Bean, labels: &[Label], prefix: &str, name: &str, help: &str) {
    if let Some(h) = read_histogram(b, prefix) {
        out.add_histogram(name, || help.to_string(), labels.to_vec(), h);
    }
}

/// A histogram from `<prefix>-bucket-le-<bound>`, `<prefix>-count` and
/// `<prefix>-sum` attributes. Buckets are read one attribute at a time by
/// some readers, so counts are made monotonic here (a bucket never below the
/// one before it, the count never below the last bucket); negative or
/// non-finite values and unparsable bounds are dropped. None without buckets.
pub fn read_histogram(b: &Bean, prefix: &str) -> Option<HistogramValue> {
    let bucket_prefix = format!("{prefix}-bucket-le-");
    let mut buckets: Vec<(f64, u64)> = b
        .attributes
        .iter()
        .filter_map(|a| {
            let le: f64 = a.name.strip_prefix(&bucket_prefix)?.parse().ok()?;
            let c = super::numeric(&a.value)?;
            (le.is_finite() && c.is_finite() && c >= 0.0).then_some((le, c as u64))
        })
        .collect();
    if buckets.is_empty() {
        return None;
    }
    buckets.sort_by(|x, y| x.0.total_cmp(&y.0));
    buckets.dedup_by(|later, earlier| later.0 == earlier.0);
    let mut running = 0;
    for bucket in &mut buckets {
        running = running.max(bucket.1);
        bucket.1 = running;
    }
    let count = b
        .f64(&format!("{prefix}-count"))
        .filter(|c| c.is_finite() && *c >= 0.0)
        .map_or(0, |c| c as u64)
        .max(running);
    let sum = b
        .f64(&format!("{prefix}-sum"))
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(0.0);
    Some(HistogramValue {
        buckets,
        count,
        sum,
    })
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

    fn ctx(snapshot: &Snapshot) -> Context {
        Context::new(snapshot, false, "t")
    }

    #[test]
    fn histogram_is_made_monotonic_and_hostile_values_dropped() {
        let b = bean(
            "ksbridge.interceptors:type=producer,client-id=p,topic=t",
            &[
                ("lat-bucket-le-0.5", Value::Long(3)),
                ("lat-bucket-le-0.1", Value::Long(2)),
                ("lat-bucket-le-1", Value::Long(2)), // read before a concurrent increment
                ("lat-bucket-le-x", Value::Long(9)),
                ("lat-bucket-le-5", Value::Long(-4)),
                ("lat-count", Value::Long(1)),
                ("lat-sum", Value::Double(f64::NAN)),
            ],
        );
        let h = read_histogram(&b, "lat").expect("histogram");
        assert_eq!(h.buckets, vec![(0.1, 2), (0.5, 3), (1.0, 3)]);
        assert_eq!(h.count, 3);
        assert_eq!(h.sum, 0.0);
        assert!(read_histogram(&b, "other").is_none());
    }

    #[test]
    fn plain_producer_and_streams_consumer_beans() {
        let snap = Snapshot::new(
            0,
            vec![
                bean(
                    "ksbridge.interceptors:type=producer,client-id=\"a,b\",topic=orders",
                    &[
                        ("records-sent-total", Value::Long(10)),
                        ("records-acked-total", Value::Long(9)),
                        ("send-ack-latency-seconds-bucket-le-0.01", Value::Long(9)),
                        ("send-ack-latency-seconds-count", Value::Long(9)),
                        ("send-ack-latency-seconds-sum", Value::Double(0.02)),
                    ],
                ),
                bean(
                    "ksbridge.interceptors:type=producer-failure,client-id=\"a,b\",topic=orders,exception=org.apache.kafka.common.errors.TimeoutException",
                    &[("records-failed-total", Value::Long(1))],
                ),
                bean(
                    "ksbridge.interceptors:type=consumer-partition,client-id=zmart-5f0c2b1e-8a2d-4c1e-9e7a-0a1b2c3d4e5f-StreamThread-2-consumer,topic=in,partition=1",
                    &[("committed-offset", Value::Long(42))],
                ),
            ],
        );
        let mut out = Out::new();
        build(&snap, &ctx(&snap), &mut out);
        let fams = out.into_vec();
        let get = |n: &str| fams.iter().find(|f| f.name == n).expect(n);
        let sent = get("kafka_interceptor_producer_sent_records");
        assert_eq!(sent.samples[0].value, 10.0);
        assert_eq!(
            sent.samples[0].labels[1],
            ("client_id".into(), "a,b".into())
        );
        let lat = get("kafka_interceptor_producer_send_ack_latency_seconds");
        assert_eq!(lat.kind, Kind::Histogram);
        assert_eq!(lat.samples[0].histogram.as_ref().expect("h").count, 9);
        let failed = get("kafka_interceptor_producer_failed_records");
        assert!(failed.samples[0].labels.contains(&(
            "exception".into(),
            "org.apache.kafka.common.errors.TimeoutException".into()
        )));
        let committed = get("kafka_interceptor_consumer_committed_offset");
        let l = &committed.samples[0].labels;
        assert_eq!(l[0], ("application_id".into(), "zmart".into()));
        assert_eq!(l[2], ("thread".into(), "StreamThread-2".into()));
        assert_eq!(committed.samples[0].value, 42.0);
    }
}
