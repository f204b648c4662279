//! Prometheus exposition built from the models (never imports `jvm` or
//! `rdkafka`): the `Family` model, the OpenMetrics and 0.0.4 encoders with
//! content negotiation, and ksbridge's self-metrics.

pub mod encode;
pub mod family;
pub mod lag;
pub mod selfmetrics;

pub use encode::{encode, Format};
pub use family::{Family, HistogramValue, Kind, Sample};
