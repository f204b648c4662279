//! ObjectName parsing and quoting: any text parses or fails cleanly; a
//! parsed name's canonical form parses to the same name; a quoted value
//! comes back as the same value.
#![no_main]

use ksbridge::jmx::objectname::{self, ObjectName};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(name) = ObjectName::parse(text) {
        let canonical = name.canonical();
        let again = ObjectName::parse(&canonical).unwrap_or_else(|e| {
            panic!("canonical form {canonical:?} of {text:?} does not parse: {e}")
        });
        assert_eq!(again.canonical(), canonical);
        for (k, v) in name.properties() {
            assert_eq!(again.get(k), Some(v));
        }
    }
    let quoted = format!("d:k={}", objectname::quote(text));
    if let Ok(name) = ObjectName::parse(&quoted) {
        let _ = name.get("k");
    }
    let _ = objectname::kafka_needs_quote(text);
});
