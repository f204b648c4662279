//! One `ksbridge serve` reading a hostile replay JVM (a getter that blocks
//! 60 s, one that throws, a bean with 100,000 attributes, a 10 MB string, 2,000
//! beans (over a 500-bean limit), deeply nested CompositeData, beans registering and unregistering in
//! a tight loop), `file:/dev/zero`, and two well-behaved replay JVMs serving
//! the same capture (the same client.id): every scrape answers within its
//! deadline, the well-behaved JVMs are read correctly every time as two sets
//! of series told apart by `target` whose counters never go back, the hostile
//! one costs what the limits allow and `ksbridge_scrape_truncated_total` says
//! what was cut, and the embedded JVM never runs out of heap.

mod common;

use std::time::{Duration, Instant};

use common::lab::wait_until;
use common::replay::{quoted, ReplayJvm, ReplayOptions};
use common::serve::Serve;

const CLIENT: &str = "zmart-3c1e7f6a-8d2b-4b5e-9f0a-1b2c3d4e5f60";
/// Prometheus's scrape timeout sent with every scrape; the read deadline is 90 % of it minus 100 ms.
const SCRAPE_TIMEOUT_S: f64 = 6.0;

fn thread_bean() -> String {
    format!("kafka.streams:type=stream-thread-metrics,thread-id={CLIENT}-StreamThread-1")
}

/// The value of the one sample of `family` whose labels contain every one of `labels`.
fn value(text: &str, family: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{family}{{")))
        .find(|l| labels.iter().all(|x| l.contains(x)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn count(text: &str, family: &str, needle: &str) -> usize {
    text.lines()
        .filter(|l| l.starts_with(&format!("{family}{{")) && l.contains(needle))
        .count()
}

#[test]
fn a_hostile_target_costs_only_itself_and_two_processes_stay_apart() {
    let mut good = [
        ReplayJvm::start(ReplayOptions::default()),
        ReplayJvm::start(ReplayOptions::default()),
    ];
    // The big ones at start-up, where they have the start-up timeout.
    let mut bad = ReplayJvm::start(ReplayOptions {
        extra_jvm_args: vec![
            "-Dksbridge.replay.hostile=many hostile 2000;wide hostile 100000;bigstring hostile 10000000"
                .into(),
        ],
        ..ReplayOptions::default()
    });
    let thread = quoted(&thread_bean());
    bad.command(&format!("block {thread} commit-rate 60"));
    bad.command(&format!("throw {thread} commit-total boom"));
    bad.command("nested hostile 64");
    bad.command("churn hostile 50");

    let pids: Vec<String> = good
        .iter()
        .chain([&bad])
        .map(|j| j.pid().to_string())
        .collect();
    let targets: Vec<String> = pids.iter().map(|p| format!("pid:{p}")).collect();
    let mut args: Vec<&str> = Vec::new();
    for p in &pids {
        args.extend(["--target", p]);
    }
    // Reading thousands of hostile beans per scrape would take longer than a
    // scrape on the shared 2-core CI machine: a low bean limit keeps the
    // hostile read within reach and still cuts.
    // The state poller is off: it reads the client and thread beans of each
    // JVM every 500 ms on its own connection, and this test is about what
    // the JMX source's reads cost.
    args.extend([
        "--target",
        "file:/dev/zero",
        "--limits.beans",
        "500",
        "--state-poller.interval",
        "0",
    ]);
    let serve = Serve::start(&args);
    let header = SCRAPE_TIMEOUT_S.to_string();
    let (good_a, good_b, hostile) = (
        format!("target=\"{}\"", targets[0]),
        format!("target=\"{}\"", targets[1]),
        format!("target=\"{}\"", targets[2]),
    );

    // Attaching is a one-time cost (seconds on a loaded machine): the checks
    // start once both well-behaved JVMs have been read.
    let scrape = || {
        serve
            .get(
                "/metrics",
                &[("X-Prometheus-Scrape-Timeout-Seconds", &header)],
            )
            .expect("scrape")
    };
    wait_until(
        "both well-behaved JVMs read",
        Duration::from_secs(120),
        || {
            let t = scrape().text();
            [&good_a, &good_b]
                .iter()
                .all(|sel| value(&t, "ksbridge_scrape_success", &[sel.as_str()]) == Some(1.0))
                .then_some(())
        },
    );
    let mut last = [0.0f64; 2];
    let mut text = String::new();
    for i in 0..6 {
        // Different values under the same client id in the two JVMs, growing.
        for (k, jvm) in good.iter_mut().enumerate() {
            let v = (k as f64 + 1.0) * 1000.0 + i as f64;
            jvm.set(
                &thread_bean(),
                "process-total",
                &serde_json::json!({"type": "java.lang.Double", "value": v}),
            );
        }
        let t = Instant::now();
        let r = scrape();
        let took = t.elapsed();
        text = r.text();
        assert_eq!(r.status, 200, "scrape {i}:\n{}", serve.log());
        assert!(
            took < Duration::from_secs_f64(SCRAPE_TIMEOUT_S),
            "scrape {i} took {took:?}, past Prometheus's timeout"
        );
        for (k, sel) in [&good_a, &good_b].into_iter().enumerate() {
            let ok = value(&text, "ksbridge_scrape_success", &[sel]);
            assert_eq!(ok, Some(1.0), "scrape {i}, {sel}:\n{}", serve.log());
            let alive = value(
                &text,
                "kafka_streams_client_alive_stream_threads",
                &[sel, CLIENT],
            );
            assert_eq!(alive, Some(2.0), "scrape {i}, {sel}");
            let total = value(&text, "kafka_streams_thread_process_total", &[sel, CLIENT])
                .unwrap_or_else(|| panic!("scrape {i}: no process total for {sel}"));
            assert_eq!(total, (k as f64 + 1.0) * 1000.0 + i as f64, "{sel}");
            assert!(total >= last[k], "{sel} went back: {} -> {total}", last[k]);
            last[k] = total;
        }
        // Two processes, one client id: two series, told apart by target.
        assert_eq!(
            count(&text, "kafka_streams_thread_process_total", CLIENT),
            2,
            "one series per process"
        );
        assert!(
            !text.contains(&"x".repeat(1024)),
            "a long string became a label"
        );
    }
    let status = |sel: &str| value(&text, "ksbridge_scrape_success", &[sel]);
    assert_eq!(status("file:/dev/zero"), Some(0.0));
    // The hostile JVM answered with what it could read within the limits.
    assert_eq!(status(&hostile), Some(1.0), "{}", serve.log());
    let cut = |reason: &str| {
        value(
            &text,
            "ksbridge_scrape_truncated_total",
            &[&hostile, &format!("reason=\"{reason}\"")],
        )
        .unwrap_or(0.0)
    };
    for reason in [
        "beans",
        "attributes",
        "value_length",
        "label_length",
        "depth",
        "time",
    ] {
        assert!(cut(reason) > 0.0, "nothing cut for {reason}:\n{text}");
    }
    for sel in [&good_a, &good_b] {
        assert_eq!(
            count(&text, "ksbridge_scrape_truncated_total", sel),
            0,
            "nothing cut from {sel}"
        );
    }
    let log = serve.log();
    assert!(!log.contains("OutOfMemoryError"), "{log}");
    assert!(log.contains("/dev/zero is larger than"), "{log}");
}
