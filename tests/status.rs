//! `ksbridge status` on captured beans of the lab app (both Kafka lines):
//! golden screens for a healthy app, and the exit code and reasons when the
//! captured beans are edited into failures (client ERROR, a failed thread, a
//! DEAD thread, a restore in progress, a negative remaining count).

mod common;

use std::process::{Command, Output};

use common::lab;
use serde_json::Value;

fn ksbridge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ksbridge"))
        .args(args)
        .current_dir(lab::repo_root())
        .output()
        .expect("ksbridge")
}

fn capture(name: &str) -> Value {
    let p = lab::repo_root().join(format!("tests/fixtures/captures/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Sets `attr` of every bean whose name contains all of `name_parts`.
fn set(cap: &mut Value, name_parts: &[&str], attr: &str, ty: &str, value: Value) -> usize {
    let mut n = 0;
    for b in cap["beans"].as_array_mut().unwrap() {
        let name = b["name"].as_str().unwrap().to_string();
        if name_parts.iter().all(|p| name.contains(p)) {
            b["attributes"][attr] =
                serde_json::json!({"declared": "double", "type": ty, "value": value});
            n += 1;
        }
    }
    assert!(n > 0, "no bean matches {name_parts:?}");
    n
}

fn status_of(cap: &Value) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("edited.json");
    std::fs::write(&p, cap.to_string()).unwrap();
    let o = ksbridge(&["status", p.to_str().unwrap(), "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&o.stderr));
    });
    (o.status.code().unwrap(), v)
}

fn codes(v: &Value) -> Vec<String> {
    v["health"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn golden_screens_of_a_healthy_app() {
    for name in ["kafka-4-info", "kafka-3.9-info"] {
        let path = format!("tests/fixtures/captures/{name}.json");
        let o = ksbridge(&["status", &path]);
        assert_eq!(o.status.code(), Some(0), "{name}: {o:?}");
        let text = String::from_utf8(o.stdout).unwrap();
        let golden = lab::repo_root().join(format!("tests/golden/status-{name}.txt"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&golden, &text).unwrap();
        }
        assert_eq!(text, std::fs::read_to_string(&golden).unwrap(), "{name}");
    }
}

#[test]
fn json_lists_threads_tasks_and_clients() {
    let (code, v) = status_of(&capture("kafka-4-info"));
    assert_eq!(code, 0);
    assert_eq!(v["health"]["status"], "healthy");
    let threads = v["instances"][0]["threads"].as_array().unwrap();
    let t1 = threads
        .iter()
        .find(|t| t["name"] == "StreamThread-1")
        .unwrap();
    assert_eq!(t1["state"], "RUNNING");
    assert_eq!(t1["state_inferred"], false);
    assert_eq!(
        t1["active_tasks"],
        serde_json::json!(["0_0", "2_0", "3_0", "4_0"])
    );
    assert!(t1["consumer_client_id"]
        .as_str()
        .unwrap()
        .ends_with("-StreamThread-1-consumer"));
    assert!(threads.iter().any(|t| t["kind"] == "global"));
    assert_eq!(
        threads
            .iter()
            .filter(|t| t["kind"] == "state_updater")
            .count(),
        2
    );
}

#[test]
fn client_in_error_is_failed() {
    let mut cap = capture("kafka-4-info");
    set(
        &mut cap,
        &["type=stream-metrics,client-id="],
        "state",
        "java.lang.String",
        "ERROR".into(),
    );
    let (code, v) = status_of(&cap);
    assert_eq!(code, 2);
    assert_eq!(v["health"]["status"], "failed");
    assert_eq!(codes(&v)[0], "error");
}

#[test]
fn a_failed_thread_is_degraded_and_a_dead_one_is_named() {
    let mut cap = capture("kafka-4-info");
    set(
        &mut cap,
        &["type=stream-metrics,client-id="],
        "failed-stream-threads",
        "java.lang.Double",
        1.0.into(),
    );
    set(
        &mut cap,
        &["type=stream-thread-metrics,thread-id=", "StreamThread-2"],
        "state",
        "java.lang.String",
        "DEAD".into(),
    );
    let (code, v) = status_of(&cap);
    assert_eq!(code, 1);
    assert_eq!(codes(&v), vec!["thread_failed", "thread_dead"]);
}

#[test]
fn restore_progress_with_eta_and_negative_counts_clamped() {
    let mut cap = capture("kafka-4-info");
    set(
        &mut cap,
        &["stream-task-metrics", "StreamThread-1,task-id=2_0"],
        "restore-remaining-records-total",
        "java.lang.Double",
        500.0.into(),
    );
    // Some versions read negative briefly: clamped to 0, not restoring.
    set(
        &mut cap,
        &["stream-task-metrics", "StreamThread-2,task-id=2_1"],
        "restore-remaining-records-total",
        "java.lang.Double",
        (-3.0).into(),
    );
    set(
        &mut cap,
        &["stream-state-updater-metrics", "StateUpdater-1"],
        "restore-records-rate",
        "java.lang.Double",
        100.0.into(),
    );
    let (code, v) = status_of(&cap);
    assert_eq!(code, 1);
    assert_eq!(codes(&v), vec!["restoring"]);
    let r = &v["instances"][0]["restoring"];
    assert_eq!(r.as_array().unwrap().len(), 1);
    assert_eq!(r[0]["task"], "2_0");
    assert_eq!(r[0]["remaining"], 500.0);
    assert_eq!(r[0]["eta_seconds"], 5.0);
}

#[test]
fn unknown_application_is_not_found() {
    // This test's own pid is no JVM: nothing is attached to.
    let me = std::process::id().to_string();
    let o = ksbridge(&["status", "no-such-app-here", "--among", &me]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
}
