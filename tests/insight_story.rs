//! The replay JVM plays a scripted Kafka Streams story
//! (`tests/fixtures/replay/story.json`): CREATED -> REBALANCING -> RUNNING ->
//! REBALANCING with tasks moving between threads -> RUNNING while a task
//! restores -> restored -> a thread DEAD -> ERROR. `ksbridge serve` (state
//! poller every 100 ms, reading only that JVM) and `ksbridge status` follow
//! it step by step: transitions counted, time in state, rebalance duration,
//! restore remaining/ETA/start/end, the health reason, and status exit codes
//! 1 -> 0 -> 1 -> 0 -> 1 -> 2. The restore's start and end also show in
//! `status --watch --json` (followed over its refreshes) and on `/apps/story`
//! (from serve's state poller).

mod common;

use std::time::Duration;

use common::insight::{
    last_restore, reason_codes, serve, status_json, until, value, Serve, StatusWatch,
};
use common::lab;
use common::replay::{ReplayJvm, ReplayOptions};

const T: Duration = Duration::from_secs(60);
const APP: &str = "application_id=\"story\"";

/// Waits until `/metrics` satisfies `ok`; returns that exposition.
fn metrics_until(s: &Serve, what: &str, ok: impl Fn(&str) -> bool) -> String {
    until(s, what, T, ok)
}

fn transitions(m: &str, from: &str, to: &str) -> f64 {
    value(
        m,
        "kafka_streams_state_transitions_total",
        &[APP, &format!("from=\"{from}\",to=\"{to}\"")],
    )
    .unwrap_or(0.0)
}

fn health(m: &str, reason: &str) -> Option<f64> {
    value(
        m,
        "kafka_streams_health",
        &[APP, &format!("reason=\"{reason}\"")],
    )
}

/// `status <pid> --json` until its exit code is `code`; returns the document.
fn status_until(pid: &str, code: i32) -> serde_json::Value {
    lab::wait_until(&format!("status exit {code}"), T, || {
        let (c, v) = status_json(&[pid]);
        (c == Some(code)).then_some(v)
    })
}

/// Active tasks per thread name in a `status --json` document.
fn tasks_of(v: &serde_json::Value, thread: &str) -> Vec<String> {
    v["instances"][0]["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == thread)
        .map(|t| {
            t["active_tasks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn scripted_story_through_metrics_and_status() {
    let mut jvm = ReplayJvm::start(ReplayOptions {
        capture: Some(lab::repo_root().join("tests/fixtures/replay/story.json")),
        ..ReplayOptions::default()
    });
    let pid = jvm.pid().to_string();
    let s = serve(jvm.pid(), "100ms", &[]);

    // CREATED: not started yet (degraded).
    metrics_until(&s, "CREATED seen", |m| {
        value(
            m,
            "kafka_streams_state_seconds_total",
            &[APP, "state=\"CREATED\""],
        )
        .is_some()
            && health(m, "not_started") == Some(1.0)
    });
    status_until(&pid, 1);

    assert_eq!(jvm.command("step"), "ok rebalancing");
    metrics_until(&s, "CREATED -> REBALANCING", |m| {
        transitions(m, "CREATED", "REBALANCING") == 1.0 && health(m, "rebalancing") == Some(1.0)
    });

    assert_eq!(jvm.command("step"), "ok running");
    let m = metrics_until(&s, "REBALANCING -> RUNNING", |m| {
        transitions(m, "REBALANCING", "RUNNING") == 1.0 && health(m, "ok") == Some(0.0)
    });
    let first = value(&m, "kafka_streams_rebalance_last_duration_seconds", &[APP]).unwrap();
    assert!(first > 0.0, "{m}");
    let v = status_until(&pid, 0);
    assert_eq!(tasks_of(&v, "StreamThread-1"), ["0_0"]);
    assert_eq!(tasks_of(&v, "StreamThread-2"), ["0_1"]);

    // `status --watch` follows the restore from before it begins.
    let watch = StatusWatch::start(&[&pid]);
    watch.until("a first refresh", T, |v| {
        v["instances"][0]["state"] == "RUNNING"
    });

    // The second rebalance: the tasks swap threads, 0_1 has 1200 records to restore.
    assert_eq!(jvm.command("step"), "ok rebalancing-again");
    metrics_until(&s, "RUNNING -> REBALANCING", |m| {
        transitions(m, "RUNNING", "REBALANCING") == 1.0
            && value(
                m,
                "kafka_streams_thread_state_transitions_total",
                &[
                    APP,
                    "thread=\"StreamThread-1\"",
                    "from=\"RUNNING\",to=\"PARTITIONS_REVOKED\"",
                ],
            ) == Some(1.0)
    });
    assert_eq!(jvm.command("step"), "ok restoring");
    let m = metrics_until(&s, "running again, restoring", |m| {
        transitions(m, "REBALANCING", "RUNNING") == 2.0
            && health(m, "restoring") == Some(1.0)
            && value(
                m,
                "kafka_streams_restore_remaining_records",
                &[APP, "task=\"0_1\""],
            ) == Some(600.0)
    });
    // The state updater restores 100 records/s: 6 s to go.
    let eta = value(
        m.as_str(),
        "kafka_streams_restore_eta_seconds",
        &[APP, "task=\"0_1\""],
    );
    assert_eq!(eta, Some(6.0), "{m}");
    assert!(
        value(
            &m,
            "kafka_streams_restore_last_start_timestamp_seconds",
            &[APP]
        )
        .unwrap()
            > 1.7e9
    );
    assert!(value(
        &m,
        "kafka_streams_restore_last_end_timestamp_seconds",
        &[APP]
    )
    .is_none());
    let second = value(
        &m,
        "kafka_streams_rebalance_last_start_timestamp_seconds",
        &[APP],
    )
    .unwrap();
    assert!(second > 1.7e9);
    let v = status_until(&pid, 1);
    assert_eq!(reason_codes(&v), ["restoring"], "{v}");
    assert_eq!(tasks_of(&v, "StreamThread-1"), ["0_1"]);
    assert_eq!(tasks_of(&v, "StreamThread-2"), ["0_0"]);
    let r = &v["instances"][0]["restoring"][0];
    assert_eq!(
        (r["task"].as_str(), r["remaining"].as_f64()),
        (Some("0_1"), Some(600.0)),
        "{v}"
    );
    assert_eq!(r["eta_seconds"].as_f64(), Some(6.0), "{v}");
    assert_eq!(r["source"], "task_metric", "{v}");
    // Began, not ended: in the watch (per task and for the client) and on the page.
    let w = watch.until("the watch saw the restore begin", T, |v| {
        last_restore(v, Some("0_1")).is_some_and(|p| p["ended_ms"].is_null())
    });
    let began = last_restore(&w, Some("0_1")).unwrap()["began_ms"]
        .as_u64()
        .unwrap();
    assert!(began > 1_700_000_000_000, "{w}");
    assert!(
        last_restore(&w, None).is_some_and(|p| p["ended_ms"].is_null()),
        "{w}"
    );
    let (code, page) = s.get_text("/apps/story").expect("the /apps page");
    assert_eq!(code, 200);
    assert!(page.contains("restores:"), "{page}");
    let row = page
        .lines()
        .find(|l| l.trim_start().starts_with("task 0_1 ") && l.contains("restoring"))
        .unwrap_or_else(|| panic!("no restoring row for task 0_1:\n{page}"));
    assert!(row.contains(':'), "{row}");
    assert!(page.contains(", since "), "{page}");

    assert_eq!(jvm.command("step"), "ok restored");
    let m = metrics_until(&s, "the restore's end", |m| {
        value(m, "kafka_streams_restores_total", &[APP]) == Some(1.0)
    });
    assert_eq!(
        value(
            &m,
            "kafka_streams_restore_remaining_records",
            &[APP, "task=\"0_1\""]
        ),
        Some(0.0)
    );
    assert!(
        value(&m, "kafka_streams_restore_eta_seconds", &[APP]).is_none(),
        "{m}"
    );
    assert!(value(&m, "kafka_streams_restore_last_duration_seconds", &[APP]).unwrap() > 0.0);
    assert_eq!(
        value(&m, "kafka_streams_restore_last_records", &[APP]),
        Some(1200.0)
    );
    status_until(&pid, 0);
    // Ended, with how long it took: in the watch and on the page.
    let w = watch.until("the watch saw the restore end", T, |v| {
        last_restore(v, Some("0_1")).is_some_and(|p| p["ended_ms"].is_u64())
    });
    let p = last_restore(&w, Some("0_1")).unwrap();
    assert_eq!(p["began_ms"].as_u64(), Some(began), "{w}");
    assert!(
        p["duration_seconds"].as_f64().is_some_and(|d| d > 0.0),
        "{w}"
    );
    assert!(p["records"].as_f64().is_some_and(|r| r >= 600.0), "{w}");
    assert!(
        last_restore(&w, None).is_some_and(|p| p["ended_ms"].is_u64()),
        "{w}"
    );
    drop(watch);
    let page = lab::wait_until("the page shows the restore ended", T, || {
        let (_, page) = s.get_text("/apps/story")?;
        page.lines()
            .any(|l| l.trim_start().starts_with("all tasks ") && !l.contains("restoring"))
            .then_some(page)
    });
    assert!(!page.contains(", since "), "{page}");

    assert_eq!(jvm.command("step"), "ok thread-dead");
    metrics_until(&s, "StreamThread-2 DEAD", |m| {
        value(
            m,
            "kafka_streams_thread_state_transitions_total",
            &[
                APP,
                "thread=\"StreamThread-2\"",
                "from=\"RUNNING\",to=\"DEAD\"",
            ],
        ) == Some(1.0)
            && health(m, "thread_dead") == Some(1.0)
    });
    let v = status_until(&pid, 1);
    let codes = reason_codes(&v);
    assert!(
        codes.contains(&"thread_failed".to_string()) && codes.contains(&"thread_dead".to_string()),
        "{codes:?}"
    );

    assert_eq!(jvm.command("step"), "ok error");
    let m = metrics_until(&s, "RUNNING -> ERROR", |m| {
        transitions(m, "RUNNING", "ERROR") == 1.0 && health(m, "error") == Some(2.0)
    });
    let v = status_until(&pid, 2);
    assert_eq!(reason_codes(&v)[0], "error", "{v}");
    // Time in each state the story went through, and nothing after its end.
    for st in ["CREATED", "REBALANCING", "RUNNING"] {
        let secs = value(
            &m,
            "kafka_streams_state_seconds_total",
            &[APP, &format!("state=\"{st}\"")],
        );
        assert!(secs.is_some_and(|x| x > 0.0), "{st}: {secs:?}\n{m}");
    }
    assert!(value(&m, "kafka_streams_rebalance_last_duration_seconds", &[APP]).unwrap() > 0.0);
    assert!(jvm
        .try_command("step")
        .is_ok_and(|r| r.starts_with("err the story is over")));
}
