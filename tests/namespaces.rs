//! The container case without a container runtime: the lab's real Kafka Streams app runs
//! in PID and mount namespaces of its own with a private `/tmp` (`unshare`, as a pod's
//! container runs it), and ksbridge, outside them, finds it from `/proc` (`ksbridge jvms`),
//! attaches to it by its host pid (the JDK attach client reaches the socket through
//! `/proc/<pid>/root/tmp` and names it by the pid inside, `NSpid`) and serves its metrics.
//! Needs root (skipped with a message otherwise; CI runs as root).

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::lab::{wait_until, AppOptions, Broker, KafkaLine, StreamsApp};
use common::namespaces::{ns_pids, same_mount_namespace, unavailable};
use common::serve::Serve;

const WAIT: Duration = Duration::from_secs(120);

#[test]
fn attaches_by_host_pid_to_a_streams_app_in_its_own_pid_and_mount_namespaces() {
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED: {why}; run as root to prove attaching across namespaces");
        return;
    }
    let line = KafkaLine::V4;
    let broker = Broker::shared(line);
    let app = StreamsApp::start(
        broker,
        AppOptions {
            isolated: true,
            // Perf data on (the lab turns it off), so discovery's hsperfdata evidence is used.
            jvm_args: vec!["-XX:+UsePerfData".into()],
            ..AppOptions::default()
        },
    );
    app.wait_for_state("RUNNING", WAIT);
    let pid = app.pid();
    let app_id = app.app_id().to_owned();

    // What a container looks like from the host: another pid inside, another /tmp.
    let nspids = ns_pids(pid);
    assert_eq!(
        nspids.len(),
        2,
        "pid {pid} is not in a PID namespace of its own: NSpid {nspids:?}"
    );
    let inner = nspids[1];
    assert_eq!(inner, 1, "the JVM is its namespace's init (sh execs it)");
    assert!(
        !same_mount_namespace(pid),
        "pid {pid} shares our mount namespace"
    );
    let root_tmp = format!("/proc/{pid}/root/tmp");
    let dev = |p: &str| {
        std::fs::metadata(p)
            .map(|m| m.dev())
            .unwrap_or_else(|e| panic!("{p}: {e}"))
    };
    assert_ne!(dev(&root_tmp), dev("/tmp"), "the JVM's /tmp is ours");
    let perf = format!("{root_tmp}/hsperfdata_root/{inner}");
    assert!(Path::new(&perf).exists(), "no perf data at {perf}");

    // Discovery from /proc: listed by host pid, attachable, the app inside found.
    let out = Command::new(env!("CARGO_BIN_EXE_ksbridge"))
        // The first attach starts the app's attach listener and management agent: slow on
        // a loaded machine.
        .args(["jvms", "--json", "--timeout", "90s", &pid.to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("running ksbridge jvms");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ksbridge jvms failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_str(&stdout).expect("jvms --json is JSON");
    let rows = rows.as_array().expect("an array of JVMs");
    assert_eq!(rows.len(), 1, "only the pid asked for: {stdout}");
    let row = &rows[0];
    assert_eq!(row["pid"], pid, "{stdout}");
    assert_eq!(row["attachable"], true, "{stdout}");
    assert_eq!(row["error"], "", "{stdout}");
    assert!(
        row["streams"]
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s["application_id"] == app_id.as_str())),
        "jvms does not show application {app_id} inside pid {pid}: {stdout}"
    );
    // The attach listener's socket is where the JVM sees /tmp, not in ours.
    let socket = format!("{root_tmp}/.java_pid{inner}");
    assert!(Path::new(&socket).exists(), "no attach socket at {socket}");
    assert!(
        !Path::new(&format!("/tmp/.java_pid{inner}")).exists(),
        "an attach socket for pid {inner} in the host's /tmp"
    );

    // serve attaches by the host pid and serves the app's metrics.
    let serve = Serve::start(&["--target", &pid.to_string()]);
    let wanted = format!("application_id=\"{app_id}\"");
    let text = wait_until("the app's kafka_streams_* series", WAIT, || {
        let text = serve.metrics();
        let streams = text
            .lines()
            .filter(|l| l.starts_with("kafka_streams_") && l.contains(&wanted))
            .count();
        (streams > 20).then_some(text)
    });
    for family in [
        "kafka_streams_state{",
        "kafka_streams_thread_state{",
        "kafka_streams_consumer_",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(family) && l.contains(&wanted)),
            "no {family} series of {app_id} in:\n{text}\n--- serve log ---\n{}",
            serve.log()
        );
    }
    let success = text
        .lines()
        .find(|l| {
            l.starts_with("ksbridge_scrape_success{")
                && l.contains("source=\"jmx\"")
                && l.contains(&format!("target=\"pid:{pid}\""))
        })
        .unwrap_or_else(|| panic!("no ksbridge_scrape_success of target {pid}:\n{text}"));
    assert!(success.ends_with(" 1"), "{success}");

    drop(serve);
    drop(app);
    // The namespace went with its init: the JVM is gone (or a zombie awaiting its reaper).
    wait_until("the namespaced JVM to end", Duration::from_secs(30), || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next());
        matches!(state, None | Some("Z") | Some("X")).then_some(())
    });
}
