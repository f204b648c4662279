//! Which JVMs to read: explicit targets (pid, JMX URL), local JVMs discovered
//! through the attach list (those with `kafka.streams` beans, optionally
//! filtered by `--target.match`), and following an app across restarts by
//! application id. Input: the config and the scraper's target set; output:
//! targets added to and removed from the [`Scraper`].

use std::sync::Arc;

use crate::config::{Config, TargetSpec};
use crate::scrape::Scraper;

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("reading JVMs (target {0}) needs the embedded JVM reader, which this build does not have yet")]
    NoJvmReader(String),
}

/// Starts discovery and the explicit JVM targets; returns the background task.
pub fn start(
    _scraper: Arc<Scraper>,
    config: &Config,
    jvm_targets: Vec<TargetSpec>,
) -> Result<Option<tokio::task::JoinHandle<()>>, DiscoveryError> {
    if let Some(t) = jvm_targets.first() {
        return Err(DiscoveryError::NoJvmReader(t.name()));
    }
    if config.discovery {
        tracing::warn!(
            "local JVM discovery needs the embedded JVM reader, which this build does not have yet"
        );
    }
    Ok(None)
}
