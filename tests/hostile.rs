//! `ksbridge serve` with two well-behaved replay JVMs serving the same capture
//! (the same client.id) beside a hostile capture file (64 KB client ids, a
//! 1 MB string, a negative counter) and `file:/dev/zero`: the JVMs are read
//! correctly every time as two sets of series told apart by `target` whose
//! counters never go back; the capture costs what the limits allow and
//! `ksbridge_scrape_truncated_total` says what was cut; `/dev/zero` fails
//! alone with a clear error.

mod common;

use std::path::Path;
use std::time::Duration;

use common::lab::wait_until;
use common::replay::{ReplayJvm, ReplayOptions};
use common::serve::Serve;

const CLIENT: &str = "zmart-3c1e7f6a-8d2b-4b5e-9f0a-1b2c3d4e5f60";
fn thread_bean() -> String {
    format!("kafka.streams:type=stream-thread-metrics,thread-id={CLIENT}-StreamThread-1")
}

/// The value of the one sample of `family` whose line contains every one of `labels`.
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

/// A capture shaped like the one the issue measured (there 1 MB client ids):
/// client ids of 64 KB (a label on every series of the bean), a 1 MB string
/// attribute, a negative counter.
fn hostile_capture(dir: &Path) -> std::path::PathBuf {
    let id = "c".repeat(64 << 10);
    let mut beans = Vec::new();
    for n in 0..4 {
        beans.push(serde_json::json!({
            "name": format!("kafka.streams:type=stream-thread-metrics,thread-id={id}-{n}-StreamThread-1"),
            "attributes": {
                "process-total": {"type": "java.lang.Double", "value": 5.0},
                "commit-total": {"type": "java.lang.Double", "value": -3.0},
            }
        }));
    }
    beans.push(serde_json::json!({
        "name": "kafka.streams:type=stream-metrics,client-id=big",
        "attributes": {
            "version": {"type": "java.lang.String", "value": "v".repeat(1 << 20)},
            "alive-stream-threads": {"type": "java.lang.Integer", "value": 1},
        }
    }));
    let path = dir.join("hostile.json");
    std::fs::write(
        &path,
        serde_json::json!({"format": "ksbridge-capture/1", "beans": beans}).to_string(),
    )
    .unwrap();
    path
}

#[test]
fn two_processes_stay_apart_and_a_hostile_capture_costs_only_its_limits() {
    let mut good = [
        ReplayJvm::start(ReplayOptions::default()),
        ReplayJvm::start(ReplayOptions::default()),
    ];
    let pids: Vec<String> = good.iter().map(|j| j.pid().to_string()).collect();
    let dir = tempfile::tempdir().unwrap();
    let capture = format!("file:{}", hostile_capture(dir.path()).display());
    let mut args: Vec<&str> = Vec::new();
    for p in &pids {
        args.extend(["--target", p]);
    }
    args.extend([
        "--target",
        "file:/dev/zero",
        "--target",
        &capture,
        // Generous: attaching and reading on the shared, loaded CI machine.
        "--scrape.timeout",
        "20s",
    ]);
    let serve = Serve::start(&args);
    let sel: Vec<String> = pids.iter().map(|p| format!("target=\"pid:{p}\"")).collect();
    let scrape = || serve.get_text("/metrics").expect("scrape");
    // Attaching is a one-time cost (seconds on a loaded machine).
    wait_until("both JVMs read", Duration::from_secs(120), || {
        let t = serve.metrics();
        sel.iter()
            .all(|s| value(&t, "ksbridge_scrape_success", &[s]) == Some(1.0))
            .then_some(())
    });
    let mut last = [0.0f64; 2];
    let mut text = String::new();
    for i in 0..5 {
        // Different values under the same client id in the two JVMs, growing.
        for (k, jvm) in good.iter_mut().enumerate() {
            let v = (k as f64 + 1.0) * 1000.0 + i as f64;
            jvm.set(
                &thread_bean(),
                "process-total",
                &serde_json::json!({"type": "java.lang.Double", "value": v}),
            );
        }
        let (status, body) = scrape();
        text = body;
        assert_eq!(status, 200, "scrape {i}:\n{}", serve.log());
        for (k, s) in sel.iter().enumerate() {
            assert_eq!(
                value(&text, "ksbridge_scrape_success", &[s]),
                Some(1.0),
                "scrape {i}, {s}:\n{}",
                serve.log()
            );
            let alive = value(
                &text,
                "kafka_streams_client_alive_stream_threads",
                &[s, CLIENT],
            );
            assert_eq!(alive, Some(2.0), "scrape {i}, {s}");
            let total = value(&text, "kafka_streams_thread_process_total", &[s, CLIENT])
                .unwrap_or_else(|| panic!("scrape {i}: no process total for {s}"));
            assert_eq!(total, (k as f64 + 1.0) * 1000.0 + i as f64, "{s}");
            assert!(total >= last[k], "{s} went back: {} -> {total}", last[k]);
            last[k] = total;
        }
        // Two processes, one client id: two series, told apart by target.
        assert_eq!(
            count(&text, "kafka_streams_thread_process_total", CLIENT),
            2,
            "one series per process"
        );
        assert!(
            text.lines().all(|l| l.len() < 4096),
            "a long value became a label"
        );
    }
    assert!(text.len() < 1 << 20, "answer of {} bytes", text.len());
    let status = |s: &str| value(&text, "ksbridge_scrape_success", &[s]);
    assert_eq!(status("file:/dev/zero"), Some(0.0));
    assert!(serve.log().contains("/dev/zero is larger than"));
    // The capture file: read, its long values cut, its negative counter dropped.
    let file = format!("target=\"{capture}\"");
    assert_eq!(status(&file), Some(1.0), "{}", serve.log());
    for reason in ["label_length", "value_length", "negative_counter"] {
        let n = value(
            &text,
            "ksbridge_scrape_truncated_total",
            &[&file, &format!("reason=\"{reason}\"")],
        );
        assert!(n.unwrap_or(0.0) > 0.0, "nothing cut for {reason}:\n{text}");
    }
    // The four 64 KB thread ids differ only past the label limit: one bean is left.
    assert_eq!(count(&text, "kafka_streams_thread_process_total", &file), 1);
    assert_eq!(count(&text, "kafka_streams_thread_commit_total", &file), 0);
    for s in &sel {
        assert_eq!(count(&text, "ksbridge_scrape_truncated_total", s), 0, "{s}");
    }
    assert!(!serve.log().contains("OutOfMemoryError"));
}
