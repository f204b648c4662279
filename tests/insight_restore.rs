//! The lab's real Kafka Streams app (ZMart) under `ksbridge serve`:
//! - stuck: with `--kafka.bootstrap-servers`, pausing the app (its processors
//!   block) leaves the group's lag standing with offsets that do not move, and
//!   the health reason becomes `stuck`; resuming clears it;
//! - restore: the app is stopped, its state directory wiped, and started
//!   again: its stores restore from their changelogs (record caching off so
//!   every update is in the changelog; the app sleeps after each restored
//!   batch, a slow disk, so the restore lasts long enough to watch).
//!   `/metrics` shows records remaining with a finite ETA, then 0, and the
//!   restore's start, end and duration; `status` says `restoring` (exit 1)
//!   during it and healthy (exit 0) after.
//!
//! Kafka 4.x here (CI time); `KSBRIDGE_TEST_KAFKA=3.9` runs it on 3.9.

mod common;

use std::time::Duration;

use common::insight::{reason_codes, serve, status_json, until, value};
use common::lab::{self, AppOptions, Broker, KafkaLine, StreamsApp};

const T: Duration = Duration::from_secs(120);

fn line() -> KafkaLine {
    match std::env::var("KSBRIDGE_TEST_KAFKA").as_deref() {
        Ok("3.9") => KafkaLine::V3_9,
        _ => KafkaLine::V4,
    }
}

/// Sum of `kafka_streams_restore_remaining_records` over the app's tasks.
fn remaining(m: &str, app: &str) -> Option<f64> {
    let prefix = "kafka_streams_restore_remaining_records{";
    let mut sum = None;
    for l in m
        .lines()
        .filter(|l| l.starts_with(prefix) && l.contains(app))
    {
        let v: f64 = l.rsplit_once(' ')?.1.parse().ok()?;
        *sum.get_or_insert(0.0) += v;
    }
    sum
}

#[test]
fn stuck_while_paused_then_restore_after_a_state_wipe() {
    let broker = Broker::start(line());
    let mut app = StreamsApp::start(
        &broker,
        AppOptions {
            threads: 1,
            rate: 100.0,
            extra: vec![
                ("statestore.cache.max.bytes".into(), "0".into()),
                ("restore.consumer.max.poll.records".into(), "100".into()),
            ],
            jvm_args: vec!["-Dksbridge.lab.restoreDelayMs=100".into()],
            ..AppOptions::default()
        },
    );
    app.wait_for_state("RUNNING", T);
    let id = app.app_id().to_string();
    let label = format!("application_id=\"{id}\"");
    let health = |m: &str, reason: &str| {
        value(
            m,
            "kafka_streams_health",
            &[&label, &format!("reason=\"{reason}\"")],
        )
    };

    // Stuck: lag measured every 500 ms, judged over its 10-observation window.
    let s = serve(
        app.pid(),
        "200ms",
        &[
            "--kafka.bootstrap-servers",
            broker.bootstrap(),
            "--lag.interval",
            "500ms",
        ],
    );
    until(&s, "healthy with the group's lag measured", T, |m| {
        health(m, "ok") == Some(0.0)
            && m.lines()
                .any(|l| l.starts_with("kafka_consumergroup_lag{") && l.contains(&id))
    });
    app.pause();
    let m = until(&s, "health reason stuck while paused", T, |m| {
        health(m, "stuck") == Some(1.0)
    });
    let group = format!("group=\"{id}\"");
    let stalled = ["\"STALL\"", "\"STOP\""]
        .iter()
        .any(|st| value(&m, "kafka_consumergroup_status", &[&group, st]) == Some(1.0));
    assert!(stalled, "{m}");
    app.resume();
    // Offsets move again: no longer stuck.
    until(&s, "stuck gone after resume", T, |m| {
        health(m, "stuck").is_none() && health(m, "ok").is_some()
    });
    drop(s);

    // Restore: stop, wipe the state directory, start again.
    app.wait_processed(3000, T);
    app.restart(true);
    app.wait_for_line("STATE-WIPED", T);
    let pid = app.pid().to_string();
    let s = serve(app.pid(), "200ms", &[]);
    // The remaining records and ETA come from the full scrape, the start
    // from the state poller: wait until both saw the restore.
    let m = until(&s, "records left to restore, with an ETA", T, |m| {
        let eta = value(m, "kafka_streams_restore_eta_seconds", &[&label]);
        remaining(m, &label).is_some_and(|r| r > 0.0)
            && eta.is_some_and(|e| e.is_finite() && e > 0.0)
            && value(
                m,
                "kafka_streams_restore_last_start_timestamp_seconds",
                &[&label],
            )
            .is_some_and(|t| t > 1.7e9)
    });
    assert_eq!(health(&m, "restoring"), Some(1.0), "{m}");
    let v = lab::wait_until("status: restoring, exit 1", T, || {
        let (code, v) = status_json(&[&pid]);
        (code == Some(1) && reason_codes(&v).contains(&"restoring".to_string())).then_some(v)
    });
    assert!(
        v["instances"][0]["restoring"][0]["remaining"]
            .as_f64()
            .is_some_and(|r| r > 0.0),
        "{v}"
    );

    let m = until(&s, "the restore's end", T, |m| {
        value(m, "kafka_streams_restores_total", &[&label]).is_some_and(|n| n >= 1.0)
            && remaining(m, &label) == Some(0.0)
    });
    let took = value(&m, "kafka_streams_restore_last_duration_seconds", &[&label]).unwrap();
    assert!(took > 0.0, "{m}");
    assert!(value(&m, "kafka_streams_restore_last_records", &[&label]).unwrap() > 0.0);
    assert!(value(&m, "kafka_streams_restore_eta_seconds", &[&label]).is_none());
    lab::wait_until("status healthy after the restore", T, || {
        (status_json(&[&pid]).0 == Some(0)).then_some(())
    });
    // Kafka's own restore listener in the app saw the same restore.
    app.wait_for_line("RESTORE-END store=department-totals ", T);
}
