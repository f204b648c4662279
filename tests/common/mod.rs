//! Shared helpers for the integration tests (`mod common;` in each test file).
#![allow(dead_code)]

pub mod console;
pub mod insight;
pub mod lab;
pub mod namespaces;
pub mod prom;
pub mod replay;
pub mod serve;
pub mod tmux;
