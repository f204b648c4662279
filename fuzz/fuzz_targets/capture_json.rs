//! libFuzzer entry of the `capture_json` target; its body (what it feeds and
//! checks) is `ksbridge_fuzz::capture_json` in `fuzz/src/lib.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ksbridge_fuzz::capture_json(data));
