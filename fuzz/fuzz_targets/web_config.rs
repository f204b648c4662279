//! The web configuration file (exporter-toolkit YAML): any text parses or
//! fails cleanly; without TLS (no files to read) it is also checked.
#![no_main]

use std::path::Path;

use ksbridge::web::config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(file) = config::parse(text, Path::new("web.yml")) {
        if file.tls_server_config.is_none() {
            let _ = config::build(&file, Path::new("/nonexistent"), Path::new("web.yml"));
        }
    }
    let _ = ksbridge::web::redact::command_line(text);
});
