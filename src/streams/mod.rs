//! Kafka Streams model: one file per metric group, from `jmx::Snapshot` to typed metric families.
