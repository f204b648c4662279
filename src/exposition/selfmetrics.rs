//! ksbridge's own metrics, emitted by the scrape loop for every source and
//! declared nowhere else. Input: per-source scrape outcomes and error
//! counters; output: `Vec<Family>` (`ksbridge_scrape_duration_seconds{source,target}`,
//! `ksbridge_scrape_success{source,target}`, `ksbridge_snapshot_age_seconds{source,target}`,
//! `ksbridge_targets`, `ksbridge_scrape_errors_total{kind}`,
//! `ksbridge_scrape_truncated_total{source,target,reason}`, `ksbridge_build_info`).

use std::collections::BTreeMap;

use super::{Family, Kind};
use crate::jmx::limits::Cuts;

/// The outcome of refreshing one source during one scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The `source` label (`jmx`, `lag`, ...).
    pub source: &'static str,
    pub target: String,
    pub success: bool,
    pub duration_seconds: f64,
    /// Age of the snapshot served for this target (None: nothing served).
    pub snapshot_age_seconds: Option<f64>,
    /// What the limits cut from this source since it was added.
    pub cuts: Cuts,
}

pub fn families(outcomes: &[Outcome], errors: &BTreeMap<&'static str, u64>) -> Vec<Family> {
    let mut duration = Family::new(
        "ksbridge_scrape_duration_seconds",
        Kind::Gauge,
        "Time the last refresh of a source took (for a source refreshed in the background, its last background refresh).",
    );
    let mut success = Family::new(
        "ksbridge_scrape_success",
        Kind::Gauge,
        "1 when the source was refreshed within the deadline during this scrape, else 0 (its last good output, if any, is served).",
    );
    let mut age = Family::new(
        "ksbridge_snapshot_age_seconds",
        Kind::Gauge,
        "Age of the data served for a source.",
    );
    for o in outcomes {
        let l = vec![
            ("source".into(), o.source.into()),
            ("target".into(), o.target.as_str().into()),
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
    targets.push(
        vec![],
        outcomes.iter().filter(|o| o.source == "jmx").count() as f64,
    );
    let mut errs = Family::new(
        "ksbridge_scrape_errors",
        Kind::Counter,
        "Failed target refreshes since start, by kind of error.",
    );
    for (kind, n) in errors {
        errs.push(vec![("kind".into(), (*kind).into())], *n as f64);
    }
    let mut truncated = Family::new(
        "ksbridge_scrape_truncated",
        Kind::Counter,
        "What the limits (--limits.*) cut from a source since it was added, by reason: beans, attributes, value_length, label_length, bytes, time, depth, negative_counter.",
    );
    for o in outcomes {
        for (reason, n) in &o.cuts.0 {
            truncated.push(
                vec![
                    ("source".into(), o.source.into()),
                    ("target".into(), o.target.as_str().into()),
                    ("reason".into(), (*reason).into()),
                ],
                *n as f64,
            );
        }
    }
    let mut build = Family::new("ksbridge_build", Kind::Info, "ksbridge version.");
    build.push(
        vec![("version".into(), env!("CARGO_PKG_VERSION").into())],
        1.0,
    );
    vec![build, duration, errs, success, age, targets, truncated]
}
