//! Prometheus exposition built from the models (never imports `jvm` or `rdkafka`); self-metrics.

pub mod family;
pub mod lag;

pub use family::{Family, Kind, Sample};
