//! Sources: everything that is refreshed and yields metric families, behind
//! one trait. `jmx` reads a live JVM or a capture file and runs the Streams
//! model; `lag` serves the brokers' consumer-group lag. The scrape loop
//! (`scrape.rs`) refreshes every source single-flight under a deadline and
//! is the one place that reports on them (`ksbridge_scrape_*`). Input: a
//! deadline; output: an [`Output`] or a typed [`SourceError`].
//!
//! A new source is one file here implementing [`Source`] and one line that
//! registers it with the scraper (`Scraper::add`).

pub mod jmx;
pub mod lag;
pub mod state_poller;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::exposition::Family;
use crate::jmx::limits::Cuts;
use crate::jmx::Snapshot;
use crate::streams::StreamsApp;
use crate::target::TargetId;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The cause of a failed refresh, kept whole for logs and pages.
pub type Cause = Arc<dyn std::error::Error + Send + Sync>;

/// Why a refresh failed, with the source's target as its subject.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    /// The target no longer exists (process exited, file removed): its
    /// series are dropped at once.
    #[error("{target} is gone: {cause}")]
    Gone { target: String, cause: Cause },
    #[error("reading {target} did not finish within {after:?}")]
    Timeout { target: String, after: Duration },
    #[error("cannot connect to {target}: {cause}")]
    Connect { target: String, cause: Cause },
    #[error("reading {target} failed: {cause}")]
    Read { target: String, cause: Cause },
}

impl SourceError {
    /// The `kind` label of `ksbridge_scrape_errors_total`.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceError::Gone { .. } => "gone",
            SourceError::Timeout { .. } => "timeout",
            SourceError::Connect { .. } => "connect",
            SourceError::Read { .. } => "read",
        }
    }

    pub fn is_gone(&self) -> bool {
        matches!(self, SourceError::Gone { .. })
    }
}

/// A plain-text cause (for failures that carry no error value of their own).
pub fn cause(text: impl Into<String>) -> Cause {
    #[derive(Debug)]
    struct Text(String);
    impl std::fmt::Display for Text {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl std::error::Error for Text {}
    Arc::new(Text(text.into()))
}

/// What one refresh produced.
#[derive(Debug, Default)]
pub struct Output {
    pub families: Vec<Family>,
    /// The MBeans read (JMX sources), for pages and answers that need more than families.
    pub snapshot: Option<Arc<Snapshot>>,
    /// The Kafka Streams apps seen (JMX sources).
    pub apps: Vec<StreamsApp>,
    /// For a source that refreshes in the background: how long producing
    /// this output took (reported instead of the time the refresh call took).
    pub took: Option<Duration>,
    /// For a source that refreshes in the background: how old this output
    /// already was when handed over (its served age counts from there).
    pub age: Option<Duration>,
    /// What the limits cut from this refresh (`ksbridge_scrape_truncated_total`).
    pub cuts: Cuts,
    /// The restores the state poller followed (for the `/apps` page).
    pub restores: Option<Arc<crate::insight::restore::History>>,
}

/// Anything the scraper refreshes.
pub trait Source: Send + Sync + 'static {
    /// The `source` label: `jmx`, `lag`, ...
    fn kind(&self) -> &'static str;
    /// The `target` label: a target id, the bootstrap servers, ...
    fn target(&self) -> String;
    /// A line for people (main class, URL, path).
    fn description(&self) -> String;
    /// The JVM this source reads, if it reads one (discovery follows these).
    fn jvm(&self) -> Option<&TargetId> {
        None
    }
    /// Produces fresh families, finishing within `deadline`.
    fn refresh(&self, deadline: Duration) -> BoxFuture<'_, Result<Output, SourceError>>;
}
