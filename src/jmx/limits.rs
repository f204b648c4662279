//! What one target (a live JVM or a capture file) may cost per read, and what
//! was cut to stay within it. Input: a [`Snapshot`] and [`Limits`]; output:
//! the snapshot cut to the limits and the [`Cuts`] made, by reason. Pure.
//!
//! The same limits are applied twice for a live JVM: by the shim before it
//! encodes a read (so the embedded JVM never holds more than they allow, and
//! its cuts come back in the read buffer), and here on every snapshot (so a
//! capture file is held to them too). Label values are capped once more
//! where the Streams model builds its series (`streams::build`).

use std::collections::BTreeMap;

use super::objectname::truncate;
use super::{Bean, Snapshot, Value};

/// Caps on one read of one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Beans kept per read (in name order; the rest are cut).
    pub beans: usize,
    /// Attributes kept per bean (in MBeanInfo order).
    pub attributes: usize,
    /// Longest string attribute value kept, in bytes (longer ones are cut short).
    pub value_length: usize,
    /// Longest label value, in bytes: ObjectName key property values and
    /// strings that become labels are cut to this.
    pub label_length: usize,
    /// Largest read: the shim's buffer for a live JVM, the file for a capture.
    pub bytes: usize,
}

impl Limits {
    pub const DEFAULT_BEANS: usize = 50_000;
    pub const DEFAULT_ATTRIBUTES: usize = 1_000;
    pub const DEFAULT_VALUE_LENGTH: usize = 256 * 1024;
    pub const DEFAULT_LABEL_LENGTH: usize = 512;
    pub const DEFAULT_BYTES: usize = 64 * 1024 * 1024;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            beans: Self::DEFAULT_BEANS,
            attributes: Self::DEFAULT_ATTRIBUTES,
            value_length: Self::DEFAULT_VALUE_LENGTH,
            label_length: Self::DEFAULT_LABEL_LENGTH,
            bytes: Self::DEFAULT_BYTES,
        }
    }
}

/// Why something was cut: the `reason` label of `ksbridge_scrape_truncated_total`.
pub mod reason {
    /// Beans over `Limits::beans`.
    pub const BEANS: &str = "beans";
    /// Attributes over `Limits::attributes`.
    pub const ATTRIBUTES: &str = "attributes";
    /// String values cut to `Limits::value_length`.
    pub const VALUE_LENGTH: &str = "value_length";
    /// Label values cut to `Limits::label_length`.
    pub const LABEL_LENGTH: &str = "label_length";
    /// Beans left out because the read reached `Limits::bytes`.
    pub const BYTES: &str = "bytes";
    /// Beans left out because the read reached its deadline (or a read of
    /// them from an earlier scrape had not returned yet).
    pub const TIME: &str = "time";
    /// Values nested deeper than the shim flattens (CompositeData in CompositeData...).
    pub const DEPTH: &str = "depth";
    /// Counters with a negative value, dropped.
    pub const NEGATIVE_COUNTER: &str = "negative_counter";

    /// Every reason, for the docs and for mapping the shim's names.
    pub const ALL: &[&str] = &[
        BEANS,
        ATTRIBUTES,
        VALUE_LENGTH,
        LABEL_LENGTH,
        BYTES,
        TIME,
        DEPTH,
        NEGATIVE_COUNTER,
    ];

    /// The static name of a reason read from outside (the shim's buffer),
    /// or `None` for one this version does not know.
    pub fn known(name: &str) -> Option<&'static str> {
        ALL.iter().copied().find(|r| *r == name)
    }
}

/// What was cut from one read (or built from it), by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cuts(pub BTreeMap<&'static str, u64>);

impl Cuts {
    /// Counts `n` more cut under `reason`, saturating: the counts come from
    /// the shim's buffer, and a garbled one must not overflow.
    pub fn add(&mut self, reason: &'static str, n: u64) {
        if n > 0 {
            let count = self.0.entry(reason).or_insert(0);
            *count = count.saturating_add(n);
        }
    }

    pub fn merge(&mut self, other: &Cuts) {
        for (r, n) in &other.0 {
            self.add(r, *n);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, reason: &str) -> u64 {
        self.0.get(reason).copied().unwrap_or(0)
    }
}

/// Cuts `snapshot` to `limits`: beans past `beans`, attributes past
/// `attributes`, string values past `value_length`, key property values past
/// `label_length` (a name cut short that collides with another bean's is
/// dropped as a bean over the limit would be).
pub fn apply(snapshot: &mut Snapshot, limits: &Limits) -> Cuts {
    let mut cuts = Cuts::default();
    if snapshot.beans.len() > limits.beans {
        cuts.add(reason::BEANS, (snapshot.beans.len() - limits.beans) as u64);
        let beans = std::mem::take(&mut snapshot.beans);
        snapshot.beans = fair_share(beans, limits.beans);
    }
    let mut renamed = false;
    for bean in &mut snapshot.beans {
        if bean.attributes.len() > limits.attributes {
            cuts.add(
                reason::ATTRIBUTES,
                (bean.attributes.len() - limits.attributes) as u64,
            );
            bean.attributes.truncate(limits.attributes);
        }
        for a in &mut bean.attributes {
            if let Value::String(s) = &mut a.value {
                if s.len() > limits.value_length {
                    let keep = truncate(s, limits.value_length).len();
                    s.truncate(keep);
                    cuts.add(reason::VALUE_LENGTH, 1);
                }
            }
        }
        if let Some(short) = bean.name.with_values_capped(limits.label_length) {
            bean.name = short;
            cuts.add(reason::LABEL_LENGTH, 1);
            renamed = true;
        }
    }
    if renamed {
        // Names cut short may now sort differently or coincide: keep the
        // snapshot's order and one bean per name.
        let beans = std::mem::take(&mut snapshot.beans);
        let before = beans.len();
        let mut sorted = Snapshot::new(snapshot.taken_at_ms, beans);
        sorted.beans.dedup_by(|a, b| a.name == b.name);
        cuts.add(reason::BEANS, (before - sorted.beans.len()) as u64);
        snapshot.beans = sorted.beans;
    }
    cuts
}

/// At most `max` beans, shared fairly between their types (domain and
/// `type` key): a type with fewer beans than its share keeps them all and
/// leaves the rest to the others (max-min fairness), so a flood of one type
/// never pushes out the client and thread beans. Order kept. The shim's
/// `Conn.fairShare` is the same rule.
pub fn fair_share(beans: Vec<Bean>, max: usize) -> Vec<Bean> {
    let mut by_type: BTreeMap<(&str, Option<&str>), Vec<usize>> = BTreeMap::new();
    for (i, b) in beans.iter().enumerate() {
        by_type
            .entry((b.name.domain(), b.name.get("type")))
            .or_default()
            .push(i);
    }
    let mut groups: Vec<Vec<usize>> = by_type.into_values().collect();
    groups.sort_by_key(Vec::len);
    let mut keep = vec![false; beans.len()];
    let mut left = max;
    let n = groups.len();
    for (g, group) in groups.iter().enumerate() {
        let share = group.len().min(left / (n - g));
        for &i in &group[..share] {
            keep[i] = true;
        }
        left -= share;
    }
    beans
        .into_iter()
        .zip(keep)
        .filter_map(|(b, k)| k.then_some(b))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(client_id_len: usize, beans: usize, attrs: usize, value_len: usize) -> Snapshot {
        let id = "c".repeat(client_id_len);
        let mut out = Vec::new();
        for b in 0..beans {
            let mut a = Vec::new();
            for k in 0..attrs {
                a.push(format!(
                    r#""a{k}":{{"type":"java.lang.Double","value":{k}}}"#
                ));
            }
            a.push(format!(
                r#""text":{{"type":"java.lang.String","value":"{}"}}"#,
                "é".repeat(value_len / 2)
            ));
            out.push(format!(
                r#"{{"name":"kafka.streams:type=stream-metrics,client-id={id},n={b}","attributes":{{{}}}}}"#,
                a.join(",")
            ));
        }
        Snapshot::from_capture_json(&format!("[{}]", out.join(","))).unwrap()
    }

    #[test]
    fn within_the_limits_nothing_is_cut() {
        let mut s = capture(10, 3, 4, 20);
        let before = s.clone();
        assert!(apply(&mut s, &Limits::default()).is_empty());
        assert_eq!(s, before);
    }

    #[test]
    fn every_limit_cuts_and_counts() {
        let mut s = capture(2000, 5, 10, 100);
        let limits = Limits {
            beans: 3,
            attributes: 4,
            value_length: 11,
            label_length: 100,
            bytes: 1,
        };
        let cuts = apply(&mut s, &limits);
        assert_eq!(s.beans.len(), 3);
        assert_eq!(cuts.get(reason::BEANS), 2);
        assert_eq!(cuts.get(reason::ATTRIBUTES), 3 * 7);
        assert_eq!(cuts.get(reason::LABEL_LENGTH), 3);
        for b in &s.beans {
            assert_eq!(b.attributes.len(), 4);
            assert_eq!(b.name.get("client-id").map(str::len), Some(100));
            assert_eq!(b.name.get("type"), Some("stream-metrics"));
        }
        // The string attribute is the 11th: cut with the attributes, so no value was cut.
        assert_eq!(cuts.get(reason::VALUE_LENGTH), 0);
        let mut s = capture(1, 1, 0, 100);
        let cuts = apply(&mut s, &limits);
        // "é" is two bytes: 11 bytes keep five of them.
        assert_eq!(s.beans[0].text("text"), Some("ééééé"));
        assert_eq!(cuts.get(reason::VALUE_LENGTH), 1);
    }

    #[test]
    fn a_flood_of_one_type_leaves_the_others_their_beans() {
        let mut json = vec![
            r#"{"name":"kafka.streams:type=stream-metrics,client-id=c"}"#.to_string(),
            r#"{"name":"kafka.streams:type=stream-thread-metrics,thread-id=c-StreamThread-1"}"#
                .to_string(),
        ];
        for k in 0..1000 {
            json.push(format!(
                r#"{{"name":"kafka.streams:type=stream-processor-node-metrics,processor-node-id=n{k}"}}"#
            ));
        }
        let mut s = Snapshot::from_capture_json(&format!("[{}]", json.join(","))).unwrap();
        let cuts = apply(
            &mut s,
            &Limits {
                beans: 10,
                ..Limits::default()
            },
        );
        assert_eq!(s.beans.len(), 10);
        assert_eq!(cuts.get(reason::BEANS), 992);
        assert_eq!(s.of_type("kafka.streams", "stream-metrics").count(), 1);
        assert_eq!(
            s.of_type("kafka.streams", "stream-thread-metrics").count(),
            1
        );
        let names: Vec<_> = s.beans.iter().map(|b| b.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "name order kept");
    }

    #[test]
    fn names_cut_to_the_same_prefix_keep_one_bean() {
        let mut s = Snapshot::from_capture_json(
            r#"[{"name":"d:k=\"aaaa1\""},{"name":"d:k=\"aaaa2\""},{"name":"d:k=b"}]"#,
        )
        .unwrap();
        let cuts = apply(
            &mut s,
            &Limits {
                label_length: 4,
                ..Limits::default()
            },
        );
        let names: Vec<_> = s.beans.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, [r#"d:k="aaaa""#, "d:k=b"]);
        assert_eq!(cuts.get(reason::LABEL_LENGTH), 2);
        assert_eq!(cuts.get(reason::BEANS), 1);
    }
}
