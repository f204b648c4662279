//! `serve --config.file`: any TOML text becomes arguments or fails cleanly,
//! and the arguments parse or fail cleanly as `ksbridge serve`'s.
#![no_main]

use std::ffi::OsString;
use std::path::Path;

use clap::{CommandFactory, FromArgMatches};
use ksbridge::cli::Cli;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut top = Cli::command();
    let Some(sub) = top.find_subcommand_mut("serve") else {
        return;
    };
    let Ok(extra) = ksbridge::settings::text_args(sub, text, Path::new("serve.toml")) else {
        return;
    };
    let argv: Vec<OsString> = vec!["ksbridge".into(), "serve".into()];
    let argv = ksbridge::settings::insert_after_subcommand(&argv, extra);
    if let Ok(m) = Cli::command().try_get_matches_from(argv) {
        let _ = Cli::from_arg_matches(&m);
    }
});
