//! libFuzzer entry of the `serve_config` target; its body (what it feeds and
//! checks) is `ksbridge_fuzz::serve_config` in `fuzz/src/lib.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ksbridge_fuzz::serve_config(data));
