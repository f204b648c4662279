//! `ksbridge topology` and `ksbridge status` against the lab's real Kafka
//! Streams app (ZMart) and broker, on both Kafka lines: by pid and by
//! application id (searched only among the test's own JVMs with `--among`).

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::lab::{AppOptions, Broker, KafkaLine, StreamsApp};

const T: Duration = Duration::from_secs(90);

fn ksbridge(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ksbridge"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ksbridge");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "ksbridge {args:?} hung:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

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
}

#[test]
fn topology_kafka_4() {
    topology_of_the_real_app(KafkaLine::V4);
}

#[test]
fn topology_kafka_3_9() {
    topology_of_the_real_app(KafkaLine::V3_9);
}
