//! Prometheus exposition built from the models (never imports `jvm` or `rdkafka`); self-metrics.
