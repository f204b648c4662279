//! The lag source: consumer-group lag measured against the brokers by a
//! background [`LagMonitor`], served as families. Which groups it measures is
//! told explicitly ([`LagSource::follow`], called by discovery when the set of
//! watched Kafka Streams apps changes: a Streams app commits under its
//! application id as the group id), plus the groups matching
//! `--lag.group.match`, all narrowed to `--lag.shard`. Input: bootstrap servers and app ids;
//! output: [`Output`]s, or a [`SourceError`] while the brokers cannot be read.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use super::{cause, BoxFuture, Output, Source, SourceError};
use crate::exposition::lag::families;
use crate::insight::stuck::LagVerdicts;
use crate::lag::{self, CollectorSettings, LagError, LagMonitor, Selection, Shard};
use crate::sync::lock;
use regex::Regex;

pub struct LagSource {
    monitor: LagMonitor,
    bootstrap: String,
    /// Followed application ids (= group ids), for the `application_id` join label.
    apps: Mutex<BTreeSet<String>>,
    /// Each group's latest status, for the health group's `stuck` judgement.
    verdicts: LagVerdicts,
}

/// How a [`LagSource`] is set up before its monitor starts.
pub struct LagSourceBuilder {
    bootstrap: String,
    timeout: Duration,
    interval: Duration,
    selection: Selection,
}

impl LagSourceBuilder {
    /// Also measure every group whose id matches `pattern`, and of all the
    /// groups (matched or followed) only those of `shard`.
    pub fn with_selection(mut self, pattern: Option<Regex>, shard: Option<Shard>) -> Self {
        self.selection.pattern = pattern;
        self.selection.shard = shard;
        self
    }

    /// Starts the background monitor.
    pub fn start(self) -> Result<LagSource, LagError> {
        let monitor = LagMonitor::start(
            lag::client_config(&self.bootstrap, &[]),
            self.timeout,
            self.interval,
            self.selection,
            CollectorSettings::default(),
        )?;
        Ok(LagSource {
            monitor,
            bootstrap: self.bootstrap,
            apps: Mutex::new(BTreeSet::new()),
            verdicts: LagVerdicts::default(),
        })
    }
}

impl LagSource {
    /// A lag source against `bootstrap`; requests time out after `timeout`,
    /// a cycle runs every `interval`. Nothing runs before `start()`.
    pub fn builder(bootstrap: &str, timeout: Duration, interval: Duration) -> LagSourceBuilder {
        LagSourceBuilder {
            bootstrap: bootstrap.to_string(),
            timeout,
            interval,
            selection: Selection::default(),
        }
    }

    /// The handle this source publishes each group's latest status into.
    pub fn verdicts(&self) -> LagVerdicts {
        self.verdicts.clone()
    }

    /// Measures the groups of these Kafka Streams applications from the
    /// monitor's next cycle on. An app that went away stays followed: its
    /// group's growing lag is what one wants to see while it is down.
    pub fn follow(&self, apps: impl IntoIterator<Item = String>) {
        let mut known = lock(&self.apps, "lag source apps");
        let new: Vec<String> = apps
            .into_iter()
            .filter(|a| known.insert(a.clone()))
            .collect();
        drop(known);
        if !new.is_empty() {
            tracing::info!(groups = ?new, "measuring the lag of new Kafka Streams apps");
            self.monitor.add_groups(new);
        }
    }
}

impl Source for LagSource {
    fn kind(&self) -> &'static str {
        "lag"
    }

    fn target(&self) -> String {
        self.bootstrap.clone()
    }

    fn description(&self) -> String {
        format!("consumer-group lag from {}", self.bootstrap)
    }

    fn refresh(&self, _deadline: Duration) -> BoxFuture<'_, Result<Output, SourceError>> {
        Box::pin(async move {
            let snap = self.monitor.latest();
            let report = match (&snap.report, snap.success) {
                (Some(r), true) => r.clone(),
                _ => {
                    return Err(SourceError::Read {
                        target: self.bootstrap.clone(),
                        cause: cause(snap.error.unwrap_or_else(|| "no lag report yet".into())),
                    })
                }
            };
            let ids: HashMap<String, String> = lock(&self.apps, "lag source apps")
                .iter()
                .map(|a| (a.clone(), a.clone()))
                .collect();
            self.verdicts.publish(&report);
            Ok(Output {
                families: families(&report, &ids),
                took: snap.duration,
                age: snap.age,
                ..Output::default()
            })
        })
    }
}
