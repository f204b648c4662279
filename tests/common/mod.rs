//! Shared helpers for the integration tests (each test binary does `mod common;`).
pub mod replay;
