//! libFuzzer entry of the `web_config` target; its body (what it feeds and
//! checks) is `ksbridge_fuzz::web_config` in `fuzz/src/lib.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ksbridge_fuzz::web_config(data));
