//! libFuzzer entry of the `objectname` target; its body (what it feeds and
//! checks) is `ksbridge_fuzz::objectname` in `fuzz/src/lib.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ksbridge_fuzz::objectname(data));
