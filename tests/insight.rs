//! `ksbridge topology` and `ksbridge status` against the lab's real Kafka
//! Streams app (ZMart) and broker, on both Kafka lines: by pid and by
//! application id (searched only among the test's own JVMs with `--among`).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::insight::ksbridge;
use common::lab::{self, AppOptions, Broker, KafkaLine, OnFailure, StreamsApp};

const T: Duration = Duration::from_secs(90);

fn stdout_ok(args: &[&str]) -> String {
    let o = ksbridge(args);
    assert!(
        o.status.success(),
        "ksbridge {args:?}: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("utf-8")
}

fn topology_of_the_real_app(line: KafkaLine) {
    let broker = Broker::start(line);
    let app = StreamsApp::start(&broker, AppOptions::default());
    app.wait_for_state("RUNNING", T);
    let pid = app.pid().to_string();
    let id = app.app_id().to_string();

    let text = stdout_ok(&["topology", &pid]);
    assert!(text.starts_with("Sub-topology 0\n"), "{text}");
    assert!(text.contains("Sub-topology 1 (global store)"), "{text}");
    assert!(
        text.contains(&format!("reads  {id}-by-department-repartition")),
        "{text}"
    );
    assert!(
        text.contains("stock-suppress [stock-suppress-store]"),
        "{text}"
    );
    assert!(!text.contains("unparsed"), "{text}");

    // By application id, among this test's JVMs only: the same tree.
    let among = format!("{pid},{}", broker.pid().expect("broker pid"));
    let by_id = stdout_ok(&["topology", &id, "--among", &among]);
    assert_eq!(by_id, text);

    let mermaid = stdout_ok(&["topology", &pid, "--format", "mermaid"]);
    assert!(mermaid.starts_with("flowchart LR\n"));
    assert_eq!(mermaid.matches("  subgraph ").count(), 5);

    let dot = stdout_ok(&["topology", &pid, "--format", "dot"]);
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("graphviz dot");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), dot.as_bytes()).unwrap();
    let svg = child.wait_with_output().unwrap();
    assert!(svg.status.success() && svg.stderr.is_empty());
    assert!(String::from_utf8_lossy(&svg.stdout).contains("mask&#45;card"));

    let json: serde_json::Value =
        serde_json::from_str(&stdout_ok(&["topology", &pid, "--format", "json"])).unwrap();
    assert_eq!(json["application_id"], id.as_str());
    assert_eq!(json["subtopologies"].as_array().unwrap().len(), 5);
    assert!(json["topics"].as_array().unwrap().iter().any(|t| t["name"]
        == format!("{id}-department-totals-changelog").as_str()
        && t["role"] == "changelog"));

    // An application id nobody runs: exit 3 (not found).
    let o = ksbridge(&["topology", "no-such-app", "--among", &among]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");

    // status: healthy (exit 0) once the app settled, by application id, with
    // the input lag of its group from the broker.
    let screen = lab::wait_until("a healthy status", T, || {
        let o = ksbridge(&[
            "status",
            &id,
            "--among",
            &among,
            "--bootstrap-server",
            broker.bootstrap(),
        ]);
        (o.status.code() == Some(0)).then(|| String::from_utf8_lossy(&o.stdout).into_owned())
    });
    assert!(
        screen.starts_with(&format!(
            "{id}  HEALTHY  (1 instance, Kafka Streams {}",
            line.version()
        )),
        "{screen}"
    );
    assert!(screen.contains("StreamThread-1"), "{screen}");
    assert!(
        screen.contains(&format!("input lag (committed offsets of group {id})")),
        "{screen}"
    );
    assert!(screen.contains(&format!("{id}-purchases")), "{screen}");
    assert!(screen.ends_with("no warnings\n"), "{screen}");
    let v: serde_json::Value =
        serde_json::from_str(&stdout_ok(&["status", &pid, "--json"])).unwrap();
    let threads = v["instances"][0]["threads"].as_array().unwrap();
    let tasks: usize = threads
        .iter()
        .map(|t| t["active_tasks"].as_array().unwrap().len())
        .sum();
    // 4 task sub-topologies x 2 partitions.
    assert_eq!(tasks, 8, "{v}");
}

/// The app's scripted fault: one processor throws once. With REPLACE_THREAD the
/// client stays RUNNING with a replaced thread (degraded, exit 1); with
/// SHUTDOWN_CLIENT it ends in ERROR (failed, exit 2).
fn thread_failures(line: KafkaLine) {
    let broker = Broker::start(line);
    let replaced = StreamsApp::start(
        &broker,
        AppOptions {
            fail_after: Some(200),
            ..AppOptions::default()
        },
    );
    let shut = StreamsApp::start(
        &broker,
        AppOptions {
            fail_after: Some(200),
            on_failure: OnFailure::ShutdownClient,
            ..AppOptions::default()
        },
    );
    replaced.wait_for_line("THREAD-FAILED ", T);
    let pid = replaced.pid().to_string();
    let v = lab::wait_until("status degraded by a failed thread", T, || {
        let o = ksbridge(&["status", &pid, "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
        (o.status.code() == Some(1)
            && v["health"]["reasons"]
                .as_array()?
                .iter()
                .any(|r| r["code"] == "thread_failed"))
        .then_some(v)
    });
    assert_eq!(v["instances"][0]["failed_threads"], 1.0, "{v}");
    // The replacement thread has a new number: StreamThread-3.
    let names: Vec<&str> = v["instances"][0]["threads"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"StreamThread-3"), "{names:?}");
    let text = String::from_utf8(ksbridge(&["status", &pid]).stdout).unwrap();
    assert!(text.contains("DEGRADED"), "{text}");
    assert!(text.contains("stream thread(s) died since start"), "{text}");

    // SHUTDOWN_CLIENT: the client goes to ERROR and closes, and Kafka removes
    // its metrics with it: the JVM answers with no client, which is failed.
    shut.wait_for_state("ERROR", T);
    let o = ksbridge(&["status", &shut.pid().to_string()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("FAILED"), "{text}");
    assert!(
        text.contains("no Kafka Streams client is registered"),
        "{text}"
    );
}

#[test]
fn thread_failures_kafka_4() {
    thread_failures(KafkaLine::V4);
}

#[test]
fn thread_failures_kafka_3_9() {
    thread_failures(KafkaLine::V3_9);
}

#[test]
fn topology_kafka_4() {
    topology_of_the_real_app(KafkaLine::V4);
}

#[test]
fn topology_kafka_3_9() {
    topology_of_the_real_app(KafkaLine::V3_9);
}
