//! The container case without a container runtime: the lab's real Kafka Streams app runs
//! in PID and mount namespaces of its own with a private `/tmp` (`unshare`, as a pod's
//! container runs it) as an unprivileged user, and ksbridge, outside them, finds it from
//! `/proc` (`ksbridge jvms`), attaches to it by its host pid (the JDK attach client reaches
//! the socket through `/proc/<pid>/root/tmp` and names it by the pid inside, `NSpid`) and
//! serves its metrics. It also proves what the deploy/ files claim attaching needs: the
//! app's own uid and gid and no capability at all (the sidecar), or root with exactly
//! SYS_PTRACE, KILL and DAC_OVERRIDE (the per-node agent), and neither another user nor
//! root without any one of the three. Needs root (skipped with a message otherwise; CI runs as root).

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::lab::{wait_until, AppOptions, Broker, KafkaLine, StreamsApp};
use common::namespaces::{as_user, ns_pids, same_mount_namespace, unavailable, Isolation};
use common::serve::Serve;

const WAIT: Duration = Duration::from_secs(120);
/// The app's user: `nobody` (an existing account, so HotSpot names its perf-data directory).
const APP_USER: (u32, u32) = (65534, 65534);
/// Another unprivileged user.
const OTHER_USER: (u32, u32) = (1, 1);
/// What the per-node agent adds to an empty capability set (deploy/kubernetes/daemonset.yaml).
const NODE_CAPS: [&str; 3] = ["sys_ptrace", "kill", "dac_override"];

/// `ksbridge jvms --json PID` run through `prefix`: the one row.
fn jvms_row(prefix: &[String], extra: &[&str], pid: u32) -> serde_json::Value {
    let exe = env!("CARGO_BIN_EXE_ksbridge");
    let mut cmd = match prefix.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    // The first attach starts the app's attach listener and management agent: slow on a
    // loaded machine.
    let out = cmd
        .args(["jvms", "--json", "--timeout", "90s"])
        .args(extra)
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .output()
        .expect("running ksbridge jvms");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ksbridge jvms ({prefix:?}) failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_str(&stdout).expect("jvms --json is JSON");
    let rows = rows.as_array().expect("an array of JVMs");
    assert_eq!(rows.len(), 1, "only the pid asked for: {stdout}");
    assert_eq!(rows[0]["pid"], pid, "{stdout}");
    rows[0].clone()
}

/// Whether a `jvms` row shows an attach that failed with `cause`.
fn refused_with(row: &serde_json::Value, cause: &str) -> bool {
    row["streams"] == serde_json::json!([])
        && row["error"].as_str().is_some_and(|e| e.contains(cause))
}

/// Asserts that a `jvms` row attached and found application `app_id`.
fn assert_found(row: &serde_json::Value, app_id: &str, who: &str) {
    assert_eq!(row["attachable"], true, "{who}: {row:#}");
    assert_eq!(row["error"], "", "{who}: {row:#}");
    assert!(
        row["streams"]
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s["application_id"] == app_id)),
        "{who}: jvms does not show application {app_id}: {row:#}"
    );
}

/// Long on purpose: one namespaced app (a JVM start is the costly part) and the steps in
/// an order that matters: refusals before any attach, root's first attach (its SIGQUIT)
/// before the app user's, `serve` last.
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
            isolated: Some(Isolation {
                user: Some(APP_USER),
            }),
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
    let meta = |p: &str| std::fs::metadata(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert_ne!(
        meta(&root_tmp).dev(),
        meta("/tmp").dev(),
        "the JVM's /tmp is ours"
    );
    let perf = format!("{root_tmp}/hsperfdata_nobody/{inner}");
    assert_eq!(
        meta(&perf).uid(),
        APP_USER.0,
        "perf data of the app's user at {perf}"
    );

    // Another unprivileged user is refused before any attach, saying whose JVM it is.
    let row = jvms_row(&as_user(OTHER_USER.0, OTHER_USER.1, &[]), &[], pid);
    assert_eq!(row["attachable"], false, "{row:#}");
    assert!(
        row["error"].as_str().is_some_and(|e| e.contains("nobody")),
        "{row:#}"
    );
    // Root without SYS_PTRACE reads neither the JVM's open files and maps (so it cannot
    // tell a Streams app) nor its /tmp through /proc/<pid>/root (so even asked to probe,
    // the attach fails before any signal is sent).
    let no_ptrace = as_user(0, 0, &NODE_CAPS[1..]);
    let row = jvms_row(&no_ptrace, &[], pid);
    assert_eq!(row["probed"], false, "{row:#}");
    let row = jvms_row(&no_ptrace, &["--probe"], pid);
    assert_eq!(row["streams"], serde_json::json!([]), "{row:#}");
    assert_ne!(
        row["error"], "",
        "root without SYS_PTRACE attached: {row:#}"
    );
    // Root without KILL: the SIGQUIT that starts the JVM's attach listener is not allowed.
    let row = jvms_row(&as_user(0, 0, &["sys_ptrace", "dac_override"]), &[], pid);
    assert!(refused_with(&row, "Operation not permitted"), "{row:#}");
    // The per-node agent: root with exactly its three capabilities, the first attach (the
    // SIGQUIT, then the listener's socket, mode 0600).
    assert_found(
        &jvms_row(&as_user(0, 0, &NODE_CAPS), &[], pid),
        &app_id,
        "root + 3 caps",
    );
    // Root without DAC_OVERRIDE: the socket (the JVM's user, mode 0600) cannot be opened.
    let row = jvms_row(&as_user(0, 0, &["sys_ptrace", "kill"]), &[], pid);
    assert!(refused_with(&row, "Permission denied"), "{row:#}");
    // The sidecar: the app's uid and gid, no capability.
    let sidecar = as_user(APP_USER.0, APP_USER.1, &[]);
    assert_found(&jvms_row(&sidecar, &[], pid), &app_id, "the app's user");
    // The attach listener's socket is where the JVM sees /tmp, not in ours.
    let socket = format!("{root_tmp}/.java_pid{inner}");
    assert!(Path::new(&socket).exists(), "no attach socket at {socket}");
    assert!(
        !Path::new(&format!("/tmp/.java_pid{inner}")).exists(),
        "an attach socket for pid {inner} in the host's /tmp"
    );

    // serve, as the sidecar runs it, attaches by the host pid and serves the app's metrics.
    let serve = Serve::start_as(&sidecar, &["--target", &pid.to_string()]);
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
