//! Capture files (`serve --target file:`, the golden tests): any text loads
//! or fails cleanly, and a loaded capture goes through the Kafka Streams model.
#![no_main]

use ksbridge::jmx::snapshot::Snapshot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(snap) = Snapshot::from_capture_json(text) {
        let _ = snap.to_json();
        let _ = ksbridge::streams::apps(&snap);
    }
});
