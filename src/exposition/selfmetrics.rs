//! ksbridge's own metrics. Input: per-target scrape outcomes and error
//! counters; output: `Vec<Family>` (`ksbridge_scrape_duration_seconds{source,target}`,
//! `ksbridge_scrape_success{source,target}`, `ksbridge_snapshot_age_seconds{source,target}`,
//! `ksbridge_targets`, `ksbridge_scrape_errors_total{kind}`, `ksbridge_build_info`).

use std::collections::BTreeMap;

use super::{Family, Kind};

/// The outcome of refreshing one target during one scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetOutcome {
    pub target: String,
    pub success: bool,
    pub duration_seconds: f64,
    /// Age of the snapshot served for this target (None: nothing served).
    pub snapshot_age_seconds: Option<f64>,
}

pub fn families(outcomes: &[TargetOutcome], errors: &BTreeMap<String, u64>) -> Vec<Family> {
    let mut duration = Family::new(
        "ksbridge_scrape_duration_seconds",
        Kind::Gauge,
        "Time the last refresh of a target took during a scrape.",
    );
    let mut success = Family::new(
        "ksbridge_scrape_success",
        Kind::Gauge,
        "1 when the target was read within the deadline during this scrape, else 0 (its last good snapshot, if any, is served).",
    );
    let mut age = Family::new(
        "ksbridge_snapshot_age_seconds",
        Kind::Gauge,
        "Age of the snapshot served for a target.",
    );
    for o in outcomes {
        // Every source labels its self-metrics {source, target}: "jmx" here,
        // "lag" for the consumer-lag monitor (exposition::lag::self_families).
        let l = vec![
            ("source".to_string(), "jmx".to_string()),
            ("target".to_string(), o.target.clone()),
        ];
        duration.push(l.clone(), o.duration_seconds);
        success.push(l.clone(), if o.success { 1.0 } else { 0.0 });
        if let Some(a) = o.snapshot_age_seconds {
            age.push(l, a);
        }
    }
    let mut targets = Family::new(
        "ksbridge_targets",
        Kind::Gauge,
        "JVMs ksbridge currently watches.",
    );
    targets.push(vec![], outcomes.len() as f64);
    let mut errs = Family::new(
        "ksbridge_scrape_errors",
        Kind::Counter,
        "Failed target refreshes since start, by kind of error.",
    );
    for (kind, n) in errors {
        errs.push(vec![("kind".to_string(), kind.clone())], *n as f64);
    }
    let mut build = Family::new("ksbridge_build", Kind::Info, "ksbridge version.");
    build.push(
        vec![("version".to_string(), env!("CARGO_PKG_VERSION").to_string())],
        1.0,
    );
    vec![build, duration, errs, success, age, targets]
}
