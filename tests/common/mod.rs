//! Shared helpers for the integration tests (`mod common;` in each test file).
pub mod lab;
