//! Validated, immutable configuration built from flags and an optional TOML file.
