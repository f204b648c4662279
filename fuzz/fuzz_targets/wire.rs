//! The shim's wire-buffer decoder: any bytes decode or fail cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(result) = ksbridge::jmx::wire::decode(data) {
        let _ = result.snapshot.to_json();
    }
});
