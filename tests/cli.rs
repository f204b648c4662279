//! The JConsole/jps checks from the command line: `ksbridge jvms`, `mbeans`
//! and `get` against the replay JVM, their JSON shapes and exit codes.

mod common;

use std::process::{Command, Output};

use common::replay::{ReplayJvm, ReplayOptions};

const CLIENT: &str =
    "kafka.streams:type=stream-metrics,client-id=zmart-3c1e7f6a-8d2b-4b5e-9f0a-1b2c3d4e5f60";

fn ksbridge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ksbridge"))
        .args(args)
        .output()
        .expect("run ksbridge")
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

#[test]
fn jvms_lists_the_streams_app_with_id_and_state() {
    let replay = ReplayJvm::start(ReplayOptions::default());
    let pid = replay.pid().to_string();
    // The replay JVM is no Kafka Streams app by /proc evidence: --probe attaches to look.
    let o = ksbridge(&["jvms", "--json", "--probe", "--timeout", "60s", &pid]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = json(&o);
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["pid"] == replay.pid())
        .unwrap_or_else(|| panic!("pid {} not listed: {rows}", replay.pid()));
    assert_eq!(row["attachable"], true, "{row}");
    assert!(row["main"]
        .as_str()
        .unwrap()
        .contains("ksbridge.replay.Replay"));
    assert!(
        row["java_version"].as_str().unwrap().starts_with("17"),
        "{row}"
    );
    let apps = row["streams"].as_array().unwrap();
    assert!(
        apps.iter()
            .any(|a| a["application_id"] == "zmart" && a["state"] == "RUNNING"),
        "{row}"
    );
    // The table says the same.
    let o = ksbridge(&["jvms", "--probe", "--timeout", "60s", &pid]);
    let text = String::from_utf8_lossy(&o.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with(&replay.pid().to_string()))
        .unwrap();
    assert!(line.contains("zmart RUNNING"), "{line}");
}

#[test]
fn mbeans_json_has_every_bean_with_types_and_values() {
    let replay = ReplayJvm::start(ReplayOptions::default());
    let pid = replay.pid().to_string();
    let o = ksbridge(&["mbeans", &pid, "kafka.streams:*", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let beans = json(&o);
    let capture = ksbridge::jmx::Snapshot::load(&common::replay::default_capture()).unwrap();
    let want: Vec<&str> = capture
        .beans
        .iter()
        .map(|b| b.name.as_str())
        .filter(|n| n.starts_with("kafka.streams:"))
        .collect();
    let got: Vec<&str> = beans
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(got, want);
    let client = beans
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == CLIENT)
        .unwrap();
    assert_eq!(
        client["attributes"]["state"]["type"],
        "org.apache.kafka.streams.KafkaStreams$State"
    );
    assert_eq!(client["attributes"]["state"]["value"], "RUNNING");
    assert_eq!(
        client["attributes"]["alive-stream-threads"]["type"],
        "java.lang.Integer"
    );
    // Text form: the bean name, then one line per attribute with type and value.
    let o = ksbridge(&["mbeans", &pid, "kafka.streams:type=stream-metrics,*"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains(CLIENT));
    assert!(text
        .lines()
        .any(|l| l.trim_start().starts_with("state") && l.ends_with("RUNNING")));
}

#[test]
fn get_prints_values_and_exit_codes_tell_failures_apart() {
    let replay = ReplayJvm::start(ReplayOptions::default());
    let pid = replay.pid().to_string();
    let o = ksbridge(&["get", &pid, CLIENT, "state"]);
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "RUNNING");
    let o = ksbridge(&["get", &pid, CLIENT, "application-id", "--json"]);
    assert_eq!(json(&o)["application-id"]["value"], "zmart");
    // Not found: no bean, no attribute, no process.
    let o = ksbridge(&["get", &pid, "kafka.streams:type=nope", "x"]);
    assert_eq!(o.status.code(), Some(3));
    let o = ksbridge(&["get", &pid, CLIENT, "no-such-attribute"]);
    assert_eq!(o.status.code(), Some(3));
    let o = ksbridge(&["get", "4294967290", CLIENT]);
    assert_eq!(o.status.code(), Some(3));
    // Cannot attach: nothing listens there.
    let o = ksbridge(&[
        "get",
        "service:jmx:rmi:///jndi/rmi://127.0.0.1:1/jmxrmi",
        CLIENT,
    ]);
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Malformed input is a usage error, not a crash.
    let o = ksbridge(&["get", &pid, "not an object name"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("invalid ObjectName"));
}

#[test]
fn a_runtime_without_jdk_attach_says_attaching_needs_a_jdk() {
    // A real JRE-like runtime: the JDK's own jlink, without the jdk.attach module.
    let dir = tempfile::tempdir().unwrap();
    let jre = dir.path().join("jre");
    let jlink = common::replay::java_bin().with_file_name("jlink");
    let st = Command::new(jlink)
        .args([
            "--add-modules",
            "java.base,java.management,java.management.rmi,java.naming,java.rmi",
            "--output",
        ])
        .arg(&jre)
        .status()
        .expect("jlink");
    assert!(st.success());
    let o = Command::new(env!("CARGO_BIN_EXE_ksbridge"))
        .args(["jvms"])
        .env("JAVA_HOME", &jre)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("jdk.attach") && err.contains("needs a JDK"),
        "{err}"
    );
    // Remote URLs need no attach API: that runtime still gets as far as connecting.
    let o = Command::new(env!("CARGO_BIN_EXE_ksbridge"))
        .args(["mbeans", "service:jmx:rmi:///jndi/rmi://127.0.0.1:1/jmxrmi"])
        .env("JAVA_HOME", &jre)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot connect"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
