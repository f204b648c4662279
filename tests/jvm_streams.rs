//! The JNI reader against the lab's real Kafka Streams app, on both Kafka
//! lines: every bean and attribute ksbridge reads by pid equals what the
//! lab's capture tool (kafka-streams on its classpath) dumps from the same JVM
//! at the same moment, values that move compared by type and presence; the
//! `state` enum (an enum object in 3.9, a String in 4.x) is read as its name
//! although ksbridge has no kafka-streams jar.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::lab::{AppOptions, Broker, KafkaLine, StreamsApp};
use ksbridge::jmx::{Snapshot, Value};
use ksbridge::jvm::{Jvm, Target};

const PATTERNS: [&str; 4] = [
    "kafka.streams:*",
    "kafka.consumer:*",
    "kafka.producer:*",
    "kafka.admin.client:*",
];

/// bean name -> attribute name -> runtime class ("null" for null values).
type Shape = BTreeMap<String, BTreeMap<String, String>>;

fn shape(s: &Snapshot) -> Shape {
    s.beans
        .iter()
        .map(|b| {
            let attrs = b
                .attributes
                .iter()
                .map(|a| {
                    let class = match &a.value {
                        Value::Unreadable { error } => format!("error: {error}"),
                        v => v.java_class().unwrap_or("null").to_string(),
                    };
                    (a.name.clone(), class)
                })
                .collect();
            (b.name.as_str().to_string(), attrs)
        })
        .collect()
}

fn diff(a: &Shape, b: &Shape) -> String {
    let mut out = String::new();
    for (name, attrs) in a {
        match b.get(name) {
            None => out.push_str(&format!("only ksbridge: {name}\n")),
            Some(other) if other != attrs => {
                for (k, v) in attrs {
                    if other.get(k) != Some(v) {
                        out.push_str(&format!("{name} {k}: {v} vs {:?}\n", other.get(k)));
                    }
                }
                for k in other.keys().filter(|k| !attrs.contains_key(*k)) {
                    out.push_str(&format!("{name} {k}: only in the capture\n"));
                }
            }
            _ => {}
        }
    }
    for name in b.keys().filter(|n| !a.contains_key(*n)) {
        out.push_str(&format!("only capture: {name}\n"));
    }
    out
}

async fn same_as_capture(line: KafkaLine) {
    let broker = Broker::shared(line);
    let app = StreamsApp::start(
        broker,
        AppOptions {
            recording_level: "DEBUG".into(),
            ..AppOptions::default()
        },
    );
    app.wait_for_state("RUNNING", Duration::from_secs(120));
    app.wait_processed(200, Duration::from_secs(120));
    let jvm = Jvm::get().expect("embedded JVM");
    let conn = jvm
        .connect(Target::Pid(app.pid()), Duration::from_secs(30))
        .await
        .expect("attach to the Streams app");
    let patterns: Vec<String> = PATTERNS.iter().map(|s| s.to_string()).collect();
    // Beans come and go as tasks and producers start; retry until one read and
    // one capture taken back to back see the same set.
    let mut last = String::new();
    for _ in 0..6 {
        let ours = jvm
            .read(conn, patterns.clone(), Duration::from_secs(30))
            .await
            .expect("read");
        let captured = app.capture(&PATTERNS);
        let theirs = Snapshot::from_capture_json(&captured.to_string()).expect("capture parses");
        let (a, b) = (shape(&ours.snapshot), shape(&theirs));
        if a == b {
            assert!(ours.problems.is_empty(), "{:?}", ours.problems);
            assert!(a.len() > 50, "only {} beans", a.len());
            let clients: Vec<_> = ours
                .snapshot
                .of_type("kafka.streams", "stream-metrics")
                .filter(|b| b.get("state").is_some())
                .collect();
            assert_eq!(clients.len(), 1);
            assert_eq!(clients[0].text("state"), Some("RUNNING"));
            if line == KafkaLine::V3_9 {
                // 3.9 registers the enum object itself (4.x a String).
                assert_eq!(
                    clients[0].get("state"),
                    Some(&Value::Enum {
                        class: "org.apache.kafka.streams.KafkaStreams$State".into(),
                        constant: "RUNNING".into()
                    })
                );
            }
            assert_eq!(clients[0].text("application-id"), Some(app.app_id()));
            let threads: Vec<_> = ours
                .snapshot
                .of_type("kafka.streams", "stream-thread-metrics")
                .collect();
            assert!(!threads.is_empty());
            jvm.close(conn).await;
            jvms_lists(&app);
            return;
        }
        last = diff(&a, &b);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    jvm.close(conn).await;
    panic!("ksbridge and the capture tool never agreed on Kafka {line:?}:\n{last}");
}

/// `ksbridge jvms` finds the app (started like the lab starts it, without
/// perf data, so only /proc shows it), sees from /proc that it is a Kafka
/// Streams app (no --probe), and reads its application id and state.
fn jvms_lists(app: &StreamsApp) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_ksbridge"))
        .args(["jvms", "--json", "--timeout", "60s", &app.pid().to_string()])
        .output()
        .unwrap();
    assert!(o.status.success());
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["pid"] == app.pid())
        .unwrap_or_else(|| panic!("app pid {} not listed: {rows}", app.pid()));
    let streams = row["streams"].as_array().unwrap();
    assert!(
        streams
            .iter()
            .any(|s| s["application_id"] == app.app_id() && s["state"] == "RUNNING"),
        "{row}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_the_real_app_like_the_capture_tool_kafka_4() {
    same_as_capture(KafkaLine::V4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_the_real_app_like_the_capture_tool_kafka_3_9() {
    same_as_capture(KafkaLine::V3_9).await;
}
