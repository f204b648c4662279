//! Consumer-group lag: group listing (`groups`), offsets (`offsets`, rdkafka,
//! blocking), pure lag math (`model`), status and trend (`status`), lag in
//! seconds (`seconds`), and the refresh cycle and background monitor
//! (`monitor`) that turn them into an immutable `LagReport`.

pub mod groups;
pub mod model;
pub mod monitor;
pub mod offsets;
pub mod seconds;
pub mod status;

pub use model::Isolation;
pub use monitor::{
    Collector, CollectorSettings, GroupLag, LagMonitor, LagReport, MonitorSnapshot, PartitionLag,
    Selection, Timings,
};
pub use status::{Status, Trend};

use rdkafka::error::KafkaError;

/// Failures of the lag source, named after the operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum LagError {
    #[error("cannot create a Kafka client: {source}")]
    Client { source: KafkaError },
    #[error("cannot read cluster metadata (is the broker reachable?): {source}")]
    Metadata { source: KafkaError },
    #[error("cannot list consumer groups ({group}): {source}")]
    ListGroups { group: String, source: KafkaError },
    #[error("cannot fetch committed offsets of group {group}: {source}")]
    Committed { group: String, source: KafkaError },
    #[error("cannot list log offsets: {source}")]
    ListOffsets { source: KafkaError },
    #[error("cannot read records for lag probes: {source}")]
    Peek { source: KafkaError },
    #[error("invalid group pattern: {0}")]
    Pattern(String),
    #[error("a lock of the lag source was poisoned by a panic")]
    Poisoned,
    #[error("cannot start the lag monitor thread: {0}")]
    Thread(std::io::Error),
}
