//! Consumer-group lag: group listing (`groups`), offsets (`offsets`, rdkafka,
//! blocking; committed offsets of many groups over shared connections in
//! `wire`), which groups a replica measures (`shard`), pure lag math
//! (`model`), status and trend (`status`), lag in seconds (`seconds`), and
//! the refresh cycle and background monitor (`monitor`) that turn them into
//! an immutable `LagReport`.

#[cfg(feature = "agent")]
pub mod groups;
pub mod model;
#[cfg(feature = "agent")]
pub mod monitor;
#[cfg(feature = "agent")]
pub mod offsets;
pub mod report;
pub mod seconds;
pub mod shard;
pub mod status;
#[cfg(feature = "agent")]
pub mod wire;

pub use model::Isolation;
#[cfg(feature = "agent")]
pub use monitor::{Collector, LagMonitor, MonitorSnapshot, Selection};
pub use report::{
    CollectorSettings, Fetched, FetchedGroup, FetchedPartition, GroupLag, LagReport, LagState,
    PartitionLag, Timings,
};
pub use shard::Shard;
pub use status::{Status, Trend};

#[cfg(feature = "agent")]
use rdkafka::error::KafkaError;

#[cfg(feature = "agent")]
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
    #[error("cannot fetch committed offsets of group {group}: {source}")]
    CommittedShared {
        group: String,
        source: wire::WireError,
    },
    #[error("cannot list log offsets: {source}")]
    ListOffsets { source: KafkaError },
    #[error("cannot read records for lag probes: {source}")]
    Peek { source: KafkaError },
    #[error("invalid group pattern: {0}")]
    Pattern(String),
    #[error("cannot start the lag monitor thread: {0}")]
    Thread(std::io::Error),
}

#[cfg(feature = "agent")]
/// librdkafka client settings: `bootstrap.servers` plus pass-through
/// `key=value` settings (TLS, SASL, ...) in the order given (later wins).
pub fn client_config(bootstrap: &str, settings: &[(String, String)]) -> rdkafka::ClientConfig {
    let mut c = rdkafka::ClientConfig::new();
    c.set("bootstrap.servers", bootstrap);
    c.set("client.id", "ksbridge-lag");
    // After a broker outage librdkafka waits up to 10 s (its default) before
    // reconnecting; 1 s brings the lag source back within a cycle or so of
    // the broker's return. A user's setting below wins.
    c.set("reconnect.backoff.max.ms", "1000");
    for (k, v) in settings {
        c.set(k, v);
    }
    c
}

/// Parse a properties file of librdkafka settings (`key=value` or
/// `key: value` lines; `#` and `!` start comments). Returns the pairs in
/// file order, or the number of the first line that is not a setting.
pub fn parse_properties(text: &str) -> Result<Vec<(String, String)>, usize> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with('!') {
            continue;
        }
        let Some(at) = l.find(['=', ':']) else {
            return Err(i + 1);
        };
        let (k, v) = (l[..at].trim(), l[at + 1..].trim());
        if k.is_empty() {
            return Err(i + 1);
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn properties_parse() {
        let p = super::parse_properties(
            "# tls\nsecurity.protocol=SSL\n  ssl.ca.location : /etc/ca.pem\n\n!x\nsasl.password=a=b\n",
        )
        .unwrap();
        assert_eq!(
            p,
            vec![
                ("security.protocol".into(), "SSL".into()),
                ("ssl.ca.location".into(), "/etc/ca.pem".into()),
                ("sasl.password".into(), "a=b".into()),
            ]
        );
        assert_eq!(super::parse_properties("ok=1\nbroken\n"), Err(2));
    }
}
