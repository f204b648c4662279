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
//!   during it and healthy (exit 0) after; `/apps/<id>` shows when the
//!   restore began and ended;
//! - the same restore with a Kafka Streams 3.4 app (no
//!   `restore-remaining-records-total` before 3.5): the records left come
//!   from the restore consumer's lag per changelog partition, with tasks,
//!   stores, a finite ETA, and the same start and end.
//!
//! - on Kafka 3.9, `status` during and after the same restore.
//!
//! Kafka 4.x broker for the first two (CI time; the 3.4 app runs against
//! it); `KSBRIDGE_TEST_KAFKA=3.9` runs them on the 3.9 broker and the first
//! with a 3.9 app.

mod common;

use std::time::Duration;

use common::insight::{ksbridge, reason_codes, serve, status_json, until, value, Serve};
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

/// The line of `/apps/<id>`'s restore table for `who` (`all tasks`, `task 0_0`).
fn restore_row(page: &str, who: &str) -> Option<String> {
    page.lines()
        .find(|l| l.trim_start().starts_with(&format!("{who} ")) && l.contains(':'))
        .map(str::to_string)
}

/// The app's options for a restore that lasts seconds: one thread, record
/// caching off (every update reaches a changelog), restored batches of at
/// most 100 records with a 100 ms sleep after each (a slow disk).
fn slow_restore(line: Option<KafkaLine>) -> AppOptions {
    AppOptions {
        threads: 1,
        rate: 100.0,
        line,
        extra: vec![
            ("statestore.cache.max.bytes".into(), "0".into()),
            ("restore.consumer.max.poll.records".into(), "100".into()),
        ],
        jvm_args: vec!["-Dksbridge.lab.restoreDelayMs=100".into()],
        ..AppOptions::default()
    }
}

/// Waits until serve's `/apps/<id>` shows the client's restore ended.
fn page_restore_ended(s: &Serve, id: &str) -> String {
    lab::wait_until("/apps shows the restore's end", T, || {
        let (_, page) = s.get_text(&format!("/apps/{id}"))?;
        restore_row(&page, "all tasks")
            .is_some_and(|r| !r.contains("restoring"))
            .then_some(page)
    })
}

#[test]
fn stuck_while_paused_then_restore_after_a_state_wipe() {
    let broker = Broker::shared(line());
    let mut app = StreamsApp::start(broker, slow_restore(None));
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
    let r = &v["instances"][0]["restoring"][0];
    assert!(r["remaining"].as_f64().is_some_and(|r| r > 0.0), "{v}");
    assert_eq!(r["source"], "task_metric", "{v}");
    let (_, page) = s.get_text(&format!("/apps/{id}")).expect("the /apps page");
    assert!(
        restore_row(&page, "all tasks").is_some_and(|r| r.contains("restoring")),
        "{page}"
    );

    // Until the last restore the poller saw has ended: it can see two (on 3.9
    // the small `customers` tasks may restore and end before the others'
    // records show).
    let m = until(&s, "the restore's end", T, |m| {
        value(m, "kafka_streams_restores_total", &[&label]).is_some_and(|n| n >= 1.0)
            && remaining(m, &label) == Some(0.0)
            && value(m, "kafka_streams_restore_last_duration_seconds", &[&label]).is_some()
    });
    let took = value(&m, "kafka_streams_restore_last_duration_seconds", &[&label]).unwrap();
    assert!(took > 0.0, "{m}");
    eprintln!(
        "restores seen: {:?}, the last took {took} s",
        value(&m, "kafka_streams_restores_total", &[&label])
    );
    assert!(value(&m, "kafka_streams_restore_last_records", &[&label]).unwrap() > 0.0);
    assert!(value(&m, "kafka_streams_restore_eta_seconds", &[&label]).is_none());
    // Each task seen restoring has its own row, ended too.
    let page = page_restore_ended(&s, &id);
    let tasks: Vec<&str> = page
        .lines()
        .filter(|l| l.trim_start().starts_with("task ") && l.contains(':'))
        .collect();
    assert!(
        !tasks.is_empty() && tasks.iter().all(|l| !l.contains("restoring")),
        "{page}"
    );
    lab::wait_until("status healthy after the restore", T, || {
        (status_json(&[&pid]).0 == Some(0)).then_some(())
    });
    // Kafka's own restore listener in the app saw the same restore.
    app.wait_for_line("RESTORE-END store=department-totals ", T);
}

/// A Kafka Streams 3.4 app (no `restore-remaining-records-total`) restoring
/// after a state wipe: progress from its restore consumer's lag.
#[test]
fn restore_before_3_5_from_the_restore_consumers_lag() {
    let broker = Broker::shared(line());
    let mut app = StreamsApp::start(broker, slow_restore(Some(KafkaLine::V3_4)));
    let started = app.wait_for_line("KSB-APP ", T);
    assert!(started.contains(" kafka=3.4."), "{started}");
    app.wait_for_state("RUNNING", T);
    let id = app.app_id().to_string();
    let label = format!("application_id=\"{id}\"");
    let lag_source = "source=\"restore_consumer_lag\"";
    app.wait_processed(3000, T);
    app.restart(true);
    app.wait_for_line("STATE-WIPED", T);
    let pid = app.pid().to_string();
    let s = serve(app.pid(), "200ms", &[]);
    let m = until(
        &s,
        "records left from the restore consumer's lag, with an ETA",
        T,
        |m| {
            value(
                m,
                "kafka_streams_restore_source_info",
                &[&label, lag_source],
            ) == Some(1.0)
                && remaining(m, &label).is_some_and(|r| r > 0.0)
                && value(m, "kafka_streams_restore_eta_seconds", &[&label])
                    .is_some_and(|e| e.is_finite() && e > 0.0)
                && value(
                    m,
                    "kafka_streams_restore_last_start_timestamp_seconds",
                    &[&label],
                )
                .is_some_and(|t| t > 1.7e9)
        },
    );
    assert!(
        value(
            &m,
            "kafka_streams_restore_source_info",
            &[&label, "source=\"task_metric\""]
        )
        .is_none(),
        "{m}"
    );
    // status: restoring, per task with its stores, and where the numbers come from.
    let v = lab::wait_until(
        "status: restoring from the restore consumer's lag",
        T,
        || {
            let (code, v) = status_json(&[&pid]);
            (code == Some(1) && reason_codes(&v).contains(&"restoring".to_string())).then_some(v)
        },
    );
    let i = &v["instances"][0];
    assert_eq!(i["restore_source"], "restore_consumer_lag", "{v}");
    let restoring = i["restoring"].as_array().unwrap();
    assert!(
        restoring
            .iter()
            .all(|r| r["source"] == "restore_consumer_lag"
                && r["remaining"].as_f64().is_some_and(|x| x > 0.0)
                && r["task"].as_str().is_some_and(|t| !t.starts_with('?'))),
        "{v}"
    );
    let stores: Vec<&str> = restoring
        .iter()
        .flat_map(|r| r["stores"].as_array().into_iter().flatten())
        .filter_map(|x| x.as_str())
        .collect();
    let known = [
        "customers",
        "department-totals",
        "zip-counts",
        "stock-window",
        "stock-suppress-store",
    ];
    assert!(
        stores.iter().all(|s| known.contains(s)) && !stores.is_empty(),
        "{v}"
    );
    let text = String::from_utf8_lossy(&ksbridge(&["status", &pid]).stdout).into_owned();
    if text.contains("  restoring") {
        assert!(text.contains("from the restore consumer's lag"), "{text}");
    }

    let m = until(&s, "the restore's end", T, |m| {
        value(m, "kafka_streams_restores_total", &[&label]).is_some_and(|n| n >= 1.0)
            && remaining(m, &label).unwrap_or(0.0) == 0.0
    });
    assert!(value(&m, "kafka_streams_restore_last_duration_seconds", &[&label]).unwrap() > 0.0);
    assert!(
        value(&m, "kafka_streams_restore_eta_seconds", &[&label]).is_none(),
        "{m}"
    );
    page_restore_ended(&s, &id);
    lab::wait_until("status healthy after the restore", T, || {
        (status_json(&[&pid]).0 == Some(0)).then_some(())
    });
    // Kafka's own restore listener in the app saw it too.
    app.wait_for_line("RESTORE-END store=", T);
}

/// Kafka 3.9 (the state updater, as on 4.x): `status` sees the restore while
/// it runs, exit 1 `restoring`, then 0. Only `status` (no serve): the 4.x test
/// covers the metrics.
#[test]
fn restore_on_3_9_seen_by_status() {
    let broker = Broker::shared(KafkaLine::V3_9);
    let mut app = StreamsApp::start(broker, slow_restore(None));
    app.wait_for_state("RUNNING", T);
    app.wait_processed(3000, T);
    app.restart(true);
    app.wait_for_line("STATE-WIPED", T);
    let pid = app.pid().to_string();
    let v = lab::wait_until("status: restoring on 3.9, exit 1", T, || {
        let (code, v) = status_json(&[&pid]);
        (code == Some(1) && reason_codes(&v).contains(&"restoring".to_string())).then_some(v)
    });
    let r = &v["instances"][0]["restoring"][0];
    assert!(r["remaining"].as_f64().is_some_and(|x| x > 0.0), "{v}");
    assert_eq!(r["source"], "task_metric", "{v}");
    assert!(v["instances"][0]["version"]
        .as_str()
        .is_some_and(|x| x.starts_with("3.9.")));
    lab::wait_until("status healthy after the restore on 3.9", T, || {
        (status_json(&[&pid]).0 == Some(0)).then_some(())
    });
    app.wait_for_line("RESTORE-END store=department-totals ", T);
}
