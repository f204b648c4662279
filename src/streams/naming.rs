//! Naming, units and types of every Kafka metric, decided here and only here.
//! Input: a metric group prefix and a Kafka attribute name (`commit-latency-avg`);
//! output: a [`MetricName`] (Prometheus name without `_total`, kind, scale to
//! base units) or `None` when the metric is not exported.

use crate::exposition::Kind;

/// The unit Kafka records durations in, for one group's `latency`/`time`/`duration` metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Millis,
    Nanos,
}

impl TimeUnit {
    fn to_seconds(self) -> f64 {
        match self {
            TimeUnit::Millis => 1e-3,
            TimeUnit::Nanos => 1e-9,
        }
    }
}

/// How one Kafka attribute becomes one Prometheus family.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricName {
    /// Final family name (a counter's without `_total`).
    pub name: String,
    pub kind: Kind,
    /// Multiply Kafka's value by this to get base units (1 when none).
    pub scale: f64,
}

/// Per-group naming input.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// e.g. `kafka_streams_thread`.
    pub prefix: &'a str,
    /// Unit of this group's latencies and times.
    pub time_unit: TimeUnit,
    /// Attributes that are byte sizes without saying so in their name.
    pub bytes: &'a [&'a str],
    /// `-total` attributes that are gauges (they go down), exported without `total`.
    pub gauge_totals: &'a [&'a str],
    /// Attributes without `-total` that are cumulative counts.
    pub counters: &'a [&'a str],
    /// Export Kafka's `-rate` metrics (off by default: `rate()` of the counter gives them).
    pub rates: bool,
}

impl<'a> Rules<'a> {
    /// Rules for a group whose attribute names say everything: ms times, no
    /// unnamed byte sizes, no decreasing `-total`s, no unnamed counters.
    pub const fn plain(prefix: &'a str) -> Self {
        Rules {
            prefix,
            time_unit: TimeUnit::Millis,
            bytes: &[],
            gauge_totals: &[],
            counters: &[],
            rates: false,
        }
    }

    /// These rules with Kafka's `-rate` metrics exported or not (`--rates`).
    pub fn with_rates(&self, rates: bool) -> Self {
        Rules { rates, ..*self }
    }
}

/// Deprecated duplicates Kafka keeps beside the ns-suffixed names.
pub const SKIP: &[&str] = &["io-waittime-total", "iotime-total"];

/// Decides the Prometheus name, kind and scale of a Kafka attribute.
///
/// - dashes become underscores; `-total` makes a counter (the encoder appends
///   `_total`), everything else is a gauge; `-rate` only when enabled;
/// - `-ns` / `-ms` markers, and `latency`/`time`/`duration` in the group's
///   time unit, become `_seconds` (scaled); `bytes`/`byte` become a `_bytes` suffix;
/// - a leading token equal to the group's last word is dropped
///   (`thread-start-time` in `kafka_streams_thread` -> `kafka_streams_thread_start_time_seconds`).
// Long on purpose: the naming rules read top to bottom in the order they apply.
pub fn metric_name(rules: &Rules<'_>, attribute: &str) -> Option<MetricName> {
    if SKIP.contains(&attribute) {
        return None;
    }
    let mut tokens: Vec<&str> = attribute.split('-').filter(|t| !t.is_empty()).collect();
    if tokens.is_empty() {
        return None;
    }
    let last = *tokens.last()?;
    if last == "rate" && !rules.rates {
        return None;
    }
    let mut kind = Kind::Gauge;
    if last == "total" {
        tokens.pop();
        if !rules.gauge_totals.contains(&attribute) {
            kind = Kind::Counter;
        }
    } else if rules.counters.contains(&attribute) {
        kind = Kind::Counter;
    }
    if tokens.is_empty() {
        return None;
    }
    let mut scale = 1.0;
    let mut unit = "";
    let plural: String;
    let is_ratio = tokens.contains(&"ratio");
    let already_seconds = tokens.contains(&"seconds");
    if let Some(i) = tokens.iter().position(|t| *t == "ns") {
        tokens.remove(i);
        scale = 1e-9;
        unit = "seconds";
    } else if let Some(i) = tokens.iter().position(|t| *t == "ms") {
        tokens.remove(i);
        scale = 1e-3;
        unit = "seconds";
    } else if !is_ratio
        && !already_seconds
        && last != "rate"
        && tokens
            .iter()
            .any(|t| matches!(*t, "latency" | "time" | "duration" | "lateness"))
    {
        scale = rules.time_unit.to_seconds();
        unit = "seconds";
    } else if !is_ratio && last != "rate" {
        if let Some(i) = tokens.iter().position(|t| *t == "bytes" || *t == "byte") {
            tokens.remove(i);
            unit = "bytes";
        } else if rules.bytes.contains(&attribute) {
            unit = "bytes";
        }
    }
    // `_count`, `_sum` and `_bucket` suffixes belong to histograms and
    // summaries: a gauge `connection-count` becomes `connections`.
    if kind == Kind::Gauge && unit.is_empty() && tokens.len() > 1 {
        if let Some(&("count" | "sum" | "bucket")) = tokens.last() {
            tokens.pop();
            if let Some(prev) = tokens.pop() {
                plural = format!("{prev}{}", if prev.ends_with('s') { "" } else { "s" });
                tokens.push(&plural);
            }
        }
    }
    // Drop a leading token that repeats the group's last word.
    let group_word = rules.prefix.rsplit('_').next().unwrap_or_default();
    if tokens.len() > 1 && tokens[0] == group_word {
        tokens.remove(0);
    }
    if tokens.is_empty() {
        return None;
    }
    let mut name = String::with_capacity(rules.prefix.len() + attribute.len() + 8);
    name.push_str(rules.prefix);
    for t in &tokens {
        name.push('_');
        name.push_str(t);
    }
    if !unit.is_empty() {
        name.push('_');
        name.push_str(unit);
    }
    Some(MetricName {
        name: sanitize(&name),
        kind,
        scale,
    })
}

/// Replaces every character outside `[a-zA-Z0-9_:]` with `_` (and a leading digit).
pub fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Label names come from Kafka tag keys: `client-id` -> `client_id`.
pub fn label_name(tag: &str) -> String {
    let s = sanitize(tag);
    s.replace(':', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(prefix: &str, time_unit: TimeUnit) -> Rules<'_> {
        Rules {
            prefix,
            time_unit,
            bytes: &["cur-size-active-mem-table"],
            gauge_totals: &["restore-remaining-records-total"],
            counters: &["failed-stream-threads"],
            rates: false,
        }
    }

    fn n(prefix: &str, tu: TimeUnit, attr: &str) -> Option<(String, Kind, f64)> {
        metric_name(&rules(prefix, tu), attr).map(|m| (m.name, m.kind, m.scale))
    }

    #[test]
    // Long on purpose: one table of cases.
    fn names_units_and_kinds() {
        use Kind::*;
        use TimeUnit::*;
        let t = "kafka_streams_thread";
        assert_eq!(
            n(t, Millis, "process-total"),
            Some(("kafka_streams_thread_process".into(), Counter, 1.0))
        );
        assert_eq!(
            n(t, Millis, "commit-latency-avg"),
            Some((
                "kafka_streams_thread_commit_latency_avg_seconds".into(),
                Gauge,
                1e-3
            ))
        );
        assert_eq!(n(t, Millis, "process-rate"), None);
        assert_eq!(
            n(t, Millis, "blocked-time-ns-total"),
            Some((
                "kafka_streams_thread_blocked_time_seconds".into(),
                Counter,
                1e-9
            ))
        );
        assert_eq!(
            n(t, Millis, "thread-start-time"),
            Some((
                "kafka_streams_thread_start_time_seconds".into(),
                Gauge,
                1e-3
            ))
        );
        assert_eq!(
            n(t, Millis, "process-ratio"),
            Some(("kafka_streams_thread_process_ratio".into(), Gauge, 1.0))
        );
        let s = "kafka_streams_store";
        assert_eq!(
            n(s, Nanos, "put-latency-avg"),
            Some((
                "kafka_streams_store_put_latency_avg_seconds".into(),
                Gauge,
                1e-9
            ))
        );
        assert_eq!(
            n(s, Millis, "oldest-iterator-open-since-ms"),
            Some((
                "kafka_streams_store_oldest_iterator_open_since_seconds".into(),
                Gauge,
                1e-3
            ))
        );
        let r = "kafka_streams_rocksdb";
        assert_eq!(
            n(r, Millis, "bytes-written-total"),
            Some(("kafka_streams_rocksdb_written_bytes".into(), Counter, 1.0))
        );
        assert_eq!(
            n(r, Millis, "cur-size-active-mem-table"),
            Some((
                "kafka_streams_rocksdb_cur_size_active_mem_table_bytes".into(),
                Gauge,
                1.0
            ))
        );
        assert_eq!(
            n(r, Millis, "memtable-hit-ratio"),
            Some((
                "kafka_streams_rocksdb_memtable_hit_ratio".into(),
                Gauge,
                1.0
            ))
        );
        let k = "kafka_streams_task";
        assert_eq!(
            n(k, Millis, "restore-remaining-records-total"),
            Some((
                "kafka_streams_task_restore_remaining_records".into(),
                Gauge,
                1.0
            ))
        );
        let c = "kafka_streams_client";
        assert_eq!(
            n(c, Millis, "failed-stream-threads"),
            Some((
                "kafka_streams_client_failed_stream_threads".into(),
                Counter,
                1.0
            ))
        );
        let cons = "kafka_streams_consumer_coordinator";
        assert_eq!(
            n(cons, Millis, "last-heartbeat-seconds-ago"),
            Some((
                "kafka_streams_consumer_coordinator_last_heartbeat_seconds_ago".into(),
                Gauge,
                1.0
            ))
        );
        assert_eq!(n(cons, Millis, "io-waittime-total"), None);
        assert_eq!(
            n("kafka_streams_producer", Millis, "connection-count"),
            Some(("kafka_streams_producer_connections".into(), Gauge, 1.0))
        );
    }

    #[test]
    fn rates_when_enabled() {
        let mut r = rules("kafka_streams_thread", TimeUnit::Millis);
        r.rates = true;
        let m = metric_name(&r, "process-rate").unwrap();
        assert_eq!(m.name, "kafka_streams_thread_process_rate");
        assert_eq!(m.kind, Kind::Gauge);
    }

    #[test]
    fn sanitizes() {
        assert_eq!(sanitize("a.b-c"), "a_b_c");
        assert_eq!(sanitize("1x"), "_1x");
        assert_eq!(label_name("client-id"), "client_id");
    }
}
