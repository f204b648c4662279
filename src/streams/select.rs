//! Which attributes a read can leave out: those no enabled group exports
//! (Kafka's `-rate` twins without `--kafka.rates`, deprecated duplicates,
//! metrics above the app's recording level once Kafka says which it is) and
//! no status view reads by name. Input: a snapshot and the model options;
//! output: attribute names by MBean `type` (`jvm::Jvm::skip`'s input).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::{Level, LevelSource, Options, CLIENT_BEANS};
use crate::jmx::Snapshot;

/// Attributes read by name outside the groups' exports (status, `/apps`,
/// `top`, health, the state poller), by MBean type; `*` is any type. Never
/// skipped, whatever the options.
const READ_BY_NAME: &[(&str, &[&str])] = &[
    (
        "*",
        &[
            "recording-level",
            "state",
            "thread-state",
            "version",
            "application-id",
            "topology-description",
            "client-state",
            "commit-id",
            "rate",
        ],
    ),
    (
        "stream-thread-metrics",
        &[
            "process-rate",
            "poll-rate",
            "commit-rate",
            "process-ratio",
            "process-latency-avg",
            "commit-latency-avg",
            "poll-latency-avg",
            "thread-start-time",
        ],
    ),
    (
        "stream-task-metrics",
        &[
            "update-rate",
            "update-total",
            "restore-rate",
            "restore-total",
            "restore-remaining-records-total",
        ],
    ),
    ("stream-state-updater-metrics", &["restore-records-rate"]),
    // Restore progress before Kafka Streams 3.5 (`insight::restore`).
    (
        "consumer-fetch-manager-metrics",
        &["records-lag", "records-consumed-rate"],
    ),
    (
        "stream-state-metrics",
        &["put-latency-avg", "get-latency-avg"],
    ),
    (
        "stream-processor-node-metrics",
        &["record-e2e-latency-avg", "record-e2e-latency-max"],
    ),
];

fn read_by_name(ty: &str, attribute: &str) -> bool {
    READ_BY_NAME
        .iter()
        .any(|(t, names)| (*t == "*" || *t == ty) && names.contains(&attribute))
}

/// Whether a group that claims `attribute` at `level` exports it.
fn exported(attribute: &str, level: Level, options: &Options, known: Option<Level>) -> bool {
    if attribute.ends_with("-rate") && !options.rates {
        return false;
    }
    if super::naming::SKIP.contains(&attribute) {
        return false;
    }
    known.map_or(true, |k| level <= k)
}

/// Whether a read can leave `attribute` of a bean of type `ty` out: at least
/// one enabled group claims it, none of them exports it, and nothing reads it
/// by name. `known` is the app's recording level when Kafka declares it.
pub fn skippable(ty: &str, attribute: &str, options: &Options, known: Option<Level>) -> bool {
    if read_by_name(ty, attribute) {
        return false;
    }
    let mut claimed = false;
    for g in options.enabled() {
        if !g.beans.iter().any(|b| b.ty == ty) {
            continue;
        }
        let Some(level) = (g.level)(ty, attribute) else {
            continue;
        };
        claimed = true;
        if exported(attribute, level, options, known) {
            return false;
        }
    }
    claimed
}

/// The attributes of `snapshot`'s Kafka Streams beans a read can leave out,
/// by type (client beans are always read whole: they decide the level).
pub fn skipped(snapshot: &Snapshot, options: &Options) -> BTreeMap<String, BTreeSet<String>> {
    let (level, source) = super::level::recording_level(snapshot);
    let known = (source == LevelSource::Attribute).then_some(level);
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // Each (type, attribute) is decided once: beans of a type share names.
    let mut seen: HashSet<(&str, &str), foldhash::fast::FixedState> = HashSet::default();
    for bean in &snapshot.beans {
        let Some(ty) = bean.name.get("type") else {
            continue;
        };
        if ty == CLIENT_BEANS.ty {
            continue;
        }
        for a in &bean.attributes {
            if !seen.insert((ty, a.name.as_str())) {
                continue;
            }
            if skippable(ty, &a.name, options, known) {
                out.entry(ty.to_string())
                    .or_default()
                    .insert(a.name.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::encode::encode_text;
    use crate::jmx::Bean;

    fn capture(name: &str) -> Snapshot {
        let path = format!(
            "{}/tests/fixtures/captures/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        Snapshot::load(std::path::Path::new(&path)).expect("fixture capture")
    }

    /// The snapshot a read with the skip list returns.
    fn without(snapshot: &Snapshot, skip: &BTreeMap<String, BTreeSet<String>>) -> Snapshot {
        let beans: Vec<Bean> = snapshot
            .beans
            .iter()
            .map(|b| {
                let mut b = b.clone();
                if let Some(s) = b.name.get("type").and_then(|t| skip.get(t)) {
                    let s = s.clone();
                    b.attributes.retain(|a| !s.contains(&a.name));
                }
                b
            })
            .collect();
        Snapshot::new(snapshot.taken_at_ms, beans)
    }

    #[test]
    fn leaving_out_the_skipped_attributes_changes_no_output() {
        let all_groups = Options {
            groups: super::super::GROUPS.iter().map(|g| g.name).collect(),
            rates: false,
            ..Options::default()
        };
        let with_rates = Options {
            rates: true,
            ..Options::default()
        };
        for file in [
            "kafka-4-info.json",
            "kafka-4-debug.json",
            "kafka-4-trace.json",
            "kafka-3.9-info.json",
        ] {
            let full = capture(file);
            for options in [Options::default(), all_groups.clone(), with_rates.clone()] {
                let skip = skipped(&full, &options);
                let read = without(&full, &skip);
                let (got, want) = (
                    super::super::families(&read, "t", &options),
                    super::super::families(&full, "t", &options),
                );
                let names = |v: &[crate::exposition::Family]| -> Vec<String> {
                    v.iter().map(|f| f.name.clone()).collect()
                };
                assert_eq!(names(&got), names(&want), "{file} {options:?}");
                // Compared as exposition text: NaN samples are equal there.
                for (g, w) in got.iter().zip(&want) {
                    let (g, w) = (
                        encode_text(std::slice::from_ref(g)),
                        encode_text(std::slice::from_ref(w)),
                    );
                    assert_eq!(g, w, "{file} {options:?}");
                }
                for c in super::super::apps(&full) {
                    assert_eq!(
                        format!("{:?}", crate::insight::instance("t", &read, &c.client_id)),
                        format!("{:?}", crate::insight::instance("t", &full, &c.client_id)),
                        "{file}"
                    );
                }
                let left: usize = skip.values().map(BTreeSet::len).sum();
                if !options.rates {
                    assert!(left > 0, "{file}: rates are skipped without --kafka.rates");
                }
            }
        }
    }

    #[test]
    fn rates_are_read_only_when_exported_or_read_by_name() {
        let o = Options::default();
        let ty = "stream-processor-node-metrics";
        assert!(skippable(ty, "process-rate", &o, None));
        assert!(!skippable(ty, "process-total", &o, None));
        assert!(!skippable(
            "stream-thread-metrics",
            "process-rate",
            &o,
            None
        ));
        let rates = Options { rates: true, ..o };
        assert!(!skippable(ty, "process-rate", &rates, None));
        // Above the declared level: left out; level unknown: read.
        assert!(skippable(ty, "process-total", &rates, Some(Level::Info)));
        assert!(!skippable(
            ty,
            "record-e2e-latency-avg",
            &rates,
            Some(Level::Info)
        ));
        assert!(!skippable("unknown-type", "x-rate", &rates, None));
    }
}
