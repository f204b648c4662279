//! `serve --config.file`: any TOML text becomes arguments or fails cleanly,
//! and the arguments parse or fail cleanly. The command here has one
//! argument of every kind `settings::text_args` handles (a value, a
//! duration, a repeatable list, a repeatable `K=V` table, a boolean switch,
//! `--[no-]group.<name>` pairs, the excluded `--config.file`), the shapes of
//! `ksbridge serve`'s settings, so the fuzz build needs no JVM or broker
//! code (the crate's `agent` feature).
#![no_main]

use std::ffi::OsString;
use std::path::Path;

use clap::{Arg, ArgAction, Command};
use libfuzzer_sys::fuzz_target;

fn command() -> Command {
    let mut serve = Command::new("serve")
        .arg(Arg::new("listen_address").long("web.listen-address"))
        .arg(
            Arg::new("scrape_timeout")
                .long("scrape.timeout")
                .value_parser(ksbridge::settings::parse_duration),
        )
        .arg(Arg::new("targets").long("target").action(ArgAction::Append))
        .arg(
            Arg::new("target_credentials")
                .long("target.credentials-file")
                .action(ArgAction::Append),
        )
        .arg(
            Arg::new("rates")
                .long("kafka.rates")
                .action(ArgAction::SetTrue),
        )
        .arg(
            Arg::new("max_targets")
                .long("max-targets")
                .value_parser(clap::value_parser!(u32)),
        )
        .arg(Arg::new("config_file").long("config.file"));
    for (on, off) in [
        ("group.rocksdb", "no-group.rocksdb"),
        ("group.thread", "no-group.thread"),
        ("group.task", "no-group.task"),
    ] {
        serve = serve
            .arg(Arg::new(on).long(on).action(ArgAction::SetTrue))
            .arg(
                Arg::new(off)
                    .long(off)
                    .action(ArgAction::SetTrue)
                    .hide(true),
            );
    }
    Command::new("ksbridge")
        .arg(Arg::new("log_level").long("log.level").global(true))
        .subcommand(serve)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let top = command();
    let Some(sub) = top.find_subcommand("serve") else {
        return;
    };
    let Ok(extra) = ksbridge::settings::text_args(sub, text, Path::new("serve.toml")) else {
        return;
    };
    let argv: Vec<OsString> = vec!["ksbridge".into(), "serve".into()];
    let argv = ksbridge::settings::insert_after_subcommand(&argv, extra);
    let _ = command().try_get_matches_from(argv);
});
