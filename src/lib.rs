//! ksbridge: attach to running Kafka Streams JVMs, read their MBeans through an
//! embedded JVM (the JNI shim), measure consumer-group lag with rdkafka, and serve
//! both as Prometheus metrics or as command-line answers.
//!
//! Data flows one way (see `../shared/design.md`):
//! `discovery -> jvm -> jmx -> streams -> exposition` and
//! `lag (groups -> offsets -> model) -> exposition | cli`.

pub mod cli;
pub mod config;
pub mod discovery;
pub mod exposition;
pub mod jmx;
pub mod jvm;
pub mod lag;
pub mod scrape;
pub mod server;
pub mod streams;
pub mod web;
