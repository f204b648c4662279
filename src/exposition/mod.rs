//! Prometheus exposition built from the models (never imports `jvm` or
//! `rdkafka`): the `Family` model, merging families from every source
//! (`merge`), the OpenMetrics and 0.0.4 encoders with format negotiation
//! (`encode`), the lag families (`lag`) and ksbridge's self-metrics
//! (`selfmetrics`, emitted by the scrape loop for every source).

pub mod encode;
pub mod family;
pub mod lag;
pub mod merge;
pub mod selfmetrics;

pub use encode::{encode, Format};
pub use family::{Family, HistogramValue, Kind, Label, LabelText, Labels, Sample};
pub use merge::{merge_served, FamilySet};
