//! ksbridge: attach to running Kafka Streams JVMs, read their MBeans through an
//! embedded JVM (the JNI shim), measure consumer-group lag with rdkafka, and serve
//! both as Prometheus metrics or as command-line answers.
//!
//! The map of the code is `ARCHITECTURE.md` at the repository's root: the two
//! pipelines (`discovery -> source::jmx (jvm) -> jmx -> streams -> exposition`
//! and `source::lag (lag: groups -> offsets -> model) -> exposition | cli`),
//! the [`source::Source`] trait, the metric-group registry
//! ([`streams::GROUPS`]) and where each kind of change goes.
//!
//! Without the default `agent` feature only the pure modules build (no
//! JVM, no brokers): the configuration the fuzz targets use.

#[cfg(feature = "agent")]
pub mod cli;
#[cfg(feature = "agent")]
pub mod console;
#[cfg(feature = "agent")]
pub mod discovery;
pub mod exposition;
pub mod insight;
pub mod jmx;
#[cfg(feature = "agent")]
pub mod jvm;
pub mod lag;
#[cfg(feature = "agent")]
pub mod scrape;
#[cfg(feature = "agent")]
pub mod server;
pub mod settings;
#[cfg(feature = "agent")]
pub mod source;
pub mod streams;
pub mod sync;
pub mod target;
pub mod topology;
pub mod web;
