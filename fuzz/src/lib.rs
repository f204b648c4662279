//! The bodies of the fuzz targets: one function per target taking the raw
//! input bytes, returning nothing, panicking only on a finding. The
//! libFuzzer binaries in `fuzz_targets/` call them, and the stable test
//! `tests/fuzz_corpus.rs` includes this file to replay every committed
//! corpus input through them (a regression run with debug assertions).
//! Keep it free of anything but `ksbridge` and `clap`: the test compiles
//! it inside the main crate.

use std::ffi::OsString;
use std::path::Path;

use clap::{Arg, ArgAction, Command};
use ksbridge::jmx::objectname::{self, ObjectName};
use ksbridge::jmx::snapshot::Snapshot;
use ksbridge::topology::{self, render, render::Format};
use ksbridge::web::config;

/// A target's body: the input bytes in, a panic only on a finding.
pub type Body = fn(&[u8]);

/// Every target: its name (the `fuzz_targets/<name>.rs` binary and the
/// `corpus/<name>/` directory) and its body.
pub const TARGETS: &[(&str, Body)] = &[
    ("objectname", objectname),
    ("wire", wire),
    ("capture_json", capture_json),
    ("web_config", web_config),
    ("serve_config", serve_config),
    ("topology", topology),
];

/// ObjectName parsing and quoting: any text parses or fails cleanly; a
/// parsed name's canonical form parses to the same name; a quoted value
/// comes back as the same value.
pub fn objectname(data: &[u8]) {
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
}

/// The shim's wire-buffer decoder: any bytes decode or fail cleanly, and a
/// decoded snapshot converts to JSON.
pub fn wire(data: &[u8]) {
    if let Ok(result) = ksbridge::jmx::wire::decode(data) {
        let _ = result.snapshot.to_json();
    }
}

/// Capture files (`serve --target file:`, the golden tests): any text loads
/// or fails cleanly, and a loaded capture goes through the Kafka Streams model.
pub fn capture_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(snap) = Snapshot::from_capture_json(text) {
        let _ = snap.to_json();
        let _ = ksbridge::streams::apps(&snap);
    }
}

/// The web configuration file (exporter-toolkit YAML): any text parses or
/// fails cleanly; without TLS (no files to read) it is also checked; any
/// text goes through the command-line redaction.
pub fn web_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(file) = config::parse(text, Path::new("web.yml")) {
        if file.tls_server_config.is_none() {
            let _ = config::build(&file, Path::new("/nonexistent"), Path::new("web.yml"));
        }
    }
    let _ = ksbridge::web::redact::command_line(text);
}

/// `serve --config.file`: any TOML text becomes arguments or fails cleanly,
/// and the arguments parse or fail cleanly. The command here has one
/// argument of every kind `settings::text_args` handles (a value, a
/// duration, a repeatable list, a repeatable `K=V` table, a boolean switch,
/// `--[no-]group.<name>` pairs, the excluded `--config.file`), the shapes of
/// `ksbridge serve`'s settings, so the fuzz build needs no JVM or broker
/// code (the crate's `agent` feature).
pub fn serve_config(data: &[u8]) {
    thread_local! {
        // Built once: clap's builder is most of an input's cost otherwise.
        static COMMAND: Command = command();
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let top = COMMAND.with(Command::clone);
    let Some(sub) = top.find_subcommand("serve") else {
        return;
    };
    let Ok(extra) = ksbridge::settings::text_args(sub, text, Path::new("serve.toml")) else {
        return;
    };
    let argv: Vec<OsString> = vec!["ksbridge".into(), "serve".into()];
    let argv = ksbridge::settings::insert_after_subcommand(&argv, extra);
    let _ = top.try_get_matches_from(argv);
}

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

/// The `topology-description` parser and its renderers: any text parses
/// without a panic, every unplaced line is reported with a line number inside
/// the text, every renderer draws the result, and the derived topics and
/// dangling edges are computed (for every input up to 1 KB and a fixed sample
/// of larger ones: [`render_this`]; the replay test renders every corpus
/// input, [`topology_all_renderers`]). Seed corpus: the `describe()` texts of
/// `tests/fixtures/topology/` (Kafka 3.9 and 4.x, every shape).
pub fn topology(data: &[u8]) {
    topology_checks(data, render_this(data));
}

/// The `topology` body with the renderers on every input.
pub fn topology_all_renderers(data: &[u8]) {
    topology_checks(data, true);
}

fn topology_checks(data: &[u8], renderers: bool) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let d = topology::parse(text);
    let lines = text.lines().count();
    let nonempty = text.lines().filter(|l| !l.trim().is_empty()).count();
    assert!(
        d.unparsed.len() <= nonempty,
        "more unparsed lines than lines"
    );
    for u in &d.unparsed {
        assert!(
            u.line >= 1 && u.line <= lines,
            "unparsed line {} of {lines}",
            u.line
        );
    }
    if !renderers {
        return;
    }
    for f in [Format::Text, Format::Mermaid, Format::Dot, Format::Json] {
        let _ = render::render(&d, "app", f);
    }
    let _ = d.topics("app");
    let _ = d.dangling_edges();
}

/// Inputs up to this size go through every renderer.
const RENDER_ALWAYS: usize = 1024;
/// Of the larger ones, one in this many (chosen by a hash of the bytes).
const RENDER_ONE_IN: u64 = 32;

/// Whether the `topology` body renders this input: always up to
/// [`RENDER_ALWAYS`] bytes, and a fixed sample of one in [`RENDER_ONE_IN`]
/// larger inputs. The renderers look a topic's role up across every
/// sub-topology (quadratic in the nodes), so a 16 KB input costs
/// milliseconds there where the parser takes microseconds; rendering every
/// small input and a sample of large ones keeps the renderers' code covered
/// and the rate in the thousands. The choice depends on the bytes only: an
/// input is always treated the same way (reproducible findings).
fn render_this(data: &[u8]) -> bool {
    if data.len() <= RENDER_ALWAYS {
        return true;
    }
    // FNV-1a.
    let hash = data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    hash % RENDER_ONE_IN == 0
}
