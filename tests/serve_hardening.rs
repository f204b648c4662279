//! `ksbridge serve` under restarts and load, and its request limits, end to
//! end against real JVMs (replay JVMs attached by pid, followed across
//! restarts by discovery): 50 target restarts leave ksbridge's threads
//! where the first restart left them (no RMI RenewClean thread per dead
//! connection); 200 concurrent clients share one bounded pool and one read
//! per target; a frozen only-target still gets a 200; requests beyond
//! `--web.max-requests` get a 503 at once; only GET and HEAD; SIGTERM with a
//! request in flight finishes it and exits 0 within the bound; a port taken
//! is a clear error.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::lab::{unique, wait_until};
use common::replay::{quoted, ReplayJvm, ReplayOptions};
use common::serve::{capture_for, http, http_get, line_with, Serve};

const WAIT: Duration = Duration::from_secs(120);

/// The processor-node bean of the default capture: read by full scrapes only
/// (not by the state poller), so blocking it freezes exactly the scrape.
const NODE: &str = "kafka.streams:type=stream-processor-node-metrics,thread-id=zmart-3c1e7f6a-8d2b-4b5e-9f0a-1b2c3d4e5f60-StreamThread-1,task-id=0_0,processor-node-id=KSTREAM-SOURCE-0000000000";

/// An empty but valid jar named like Kafka Streams' own, for a replay JVM's
/// class path.
fn streams_jar(dir: &Path) -> PathBuf {
    let path = dir.join("kafka-streams-4.0.0.jar");
    // The end-of-central-directory record of a zip with no entries.
    let mut eocd = vec![0x50, 0x4b, 0x05, 0x06];
    eocd.extend_from_slice(&[0; 18]);
    std::fs::write(&path, eocd).unwrap();
    path
}

/// A replay JVM shaped like a Kafka Streams app to discovery's `/proc`
/// evidence (the kafka-streams jar on its class path, a state directory's
/// `.lock` held open: the JVM's own log file, which it keeps open for its
/// life) with its application id on the command line, so discovery
/// (without `--discovery.probe`) attaches to it and to nothing else.
fn streams_replay(dir: &Path, app: &str, generation: usize) -> ReplayJvm {
    let state = dir.join(format!("state-{app}-{generation}"));
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("kafka-streams-process-metadata"), "{}").unwrap();
    ReplayJvm::start(ReplayOptions {
        capture: Some(capture_for(dir, app, &format!("{generation:06}"))),
        class_path_extra: vec![streams_jar(dir)],
        extra_jvm_args: vec![
            format!("-Dtest.application.id={app}"),
            format!("-Xlog:gc:file={}/.lock::filecount=0", state.display()),
        ],
        ..ReplayOptions::default()
    })
}

/// `wait_until`, with `serve`'s log in the panic message.
fn wait_logged<T>(
    serve: &Serve,
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if t0.elapsed() > timeout {
            let log = serve.log();
            if let Some(path) = std::env::var_os("KSBRIDGE_TEST_SERVE_LOG") {
                let _ = std::fs::write(path, &log);
            }
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            panic!(
                "timed out after {timeout:?} waiting for {what}; serve log (last lines, newest first):\n{}",
                tail.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn renew_clean_threads(serve: &Serve) -> usize {
    serve
        .thread_names()
        .iter()
        .filter(|n| n.starts_with("RenewClean"))
        .count()
}

/// Every target `pid:P` of `pids` answered with success 1 in one scrape.
fn all_read(serve: &Serve, pids: &[u32]) -> bool {
    let t = serve.metrics();
    pids.iter().all(|p| {
        t.contains(&format!(
            "ksbridge_scrape_success{{source=\"jmx\",target=\"pid:{p}\"}} 1"
        ))
    })
}

/// 50 restarts (5 targets restarted 10 times, at once to keep the test
/// short) against the state after the first restart: threads within 3, no
/// RenewClean thread beyond one per live target, RSS within 0.3 MB per
/// restart (it was 0.5-0.7 MB while discovery listed JVMs through the
/// attach API every cycle).
#[test]
fn fifty_restarts_leave_threads_flat() {
    const TARGETS: usize = 5;
    const ROUNDS: usize = 11; // the first starts them, then 10 x 5 restarts
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique("ksb-restart").replace('_', "-");
    let apps: Vec<String> = (0..TARGETS).map(|i| format!("{prefix}-{i}")).collect();
    let serve = Serve::start(&[
        &format!(r"--target.match=-Dtest\.application\.id={prefix}-"),
        "--discovery.interval",
        "500ms",
        "--state-poller.interval",
        "0",
    ]);
    let mut jvms: Vec<ReplayJvm> = Vec::new();
    let mut first: Option<(usize, u64)> = None;
    let mut per_round = Vec::new();
    for round in 0..ROUNDS {
        for j in &mut jvms {
            j.kill();
        }
        jvms = std::thread::scope(|s| {
            let handles: Vec<_> = apps
                .iter()
                .map(|app| s.spawn(|| streams_replay(dir.path(), app, round)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let pids: Vec<u32> = jvms.iter().map(ReplayJvm::pid).collect();
        // Each new JVM read at least once (not necessarily in the same scrape).
        let mut read = std::collections::BTreeSet::<u32>::new();
        wait_logged(
            &serve,
            &format!("round {round}: every restarted target read"),
            WAIT,
            || {
                let t = serve.metrics();
                read.extend(pids.iter().filter(|p| {
                    t.contains(&format!(
                        "ksbridge_scrape_success{{source=\"jmx\",target=\"pid:{p}\"}} 1"
                    ))
                }));
                (read.len() == pids.len()).then_some(())
            },
        );
        // Connections to the previous round's JVMs are closed and their
        // leases gone: one RenewClean thread per live target at most.
        let settled = Instant::now();
        wait_until(
            &format!(
                "round {round}: RenewClean threads of dead targets to go ({:?})",
                serve.thread_names()
            ),
            Duration::from_secs(30),
            || (renew_clean_threads(&serve) <= TARGETS).then_some(()),
        );
        let now = (serve.threads(), serve.rss_kib());
        per_round.push((now, settled.elapsed()));
        if round == 1 {
            first = Some(now);
        }
        if let Some(nmt) = native_memory(&serve) {
            eprintln!("round {round}: RSS {} KiB; {nmt}", now.1);
        }
    }
    let (threads0, rss0) = first.unwrap();
    eprintln!("threads, RSS KiB, settle time per round: {per_round:?}");
    wait_until(
        &format!(
            "threads back within 3 of {threads0} after 50 restarts: {:?}",
            serve.thread_names()
        ),
        Duration::from_secs(30),
        || (serve.threads() <= threads0 + 3).then_some(()),
    );
    // RSS, each round's taken once the dead targets' leases are gone: what
    // is left grows by 0.1-0.16 MB per restart (docs/serving.md: the JIT
    // compiling more of the code, and one hsperfdata mapping per attach),
    // where discovery's listing of JVMs used to add 0.35 MB more. The bound
    // is 0.3 MB per restart after the first round (45 restarts).
    let rss_last = per_round.last().map(|((_, rss), _)| *rss).unwrap_or(0);
    let restarts = (TARGETS * (ROUNDS - 2)) as u64;
    eprintln!(
        "RSS: {rss0} KiB after the first restart, {rss_last} KiB after 50 ({:+.0} KiB per restart)",
        (rss_last as f64 - rss0 as f64) / restarts as f64
    );
    assert!(
        rss_last <= rss0 + restarts * 300,
        "RSS grew from {rss0} to {rss_last} KiB over {restarts} restarts: {per_round:?}"
    );
    assert!(renew_clean_threads(&serve) <= TARGETS);
    drop(jvms);
}

/// With `KSBRIDGE_TEST_NMT` set (and `KSBRIDGE_JVM_OPTIONS` giving the
/// embedded JVM `-XX:NativeMemoryTracking=summary -XX:+StartAttachListener`),
/// the embedded JVM's own account of its memory, by `jcmd`: committed KiB
/// per category. For finding where memory goes, not for asserting.
fn native_memory(serve: &Serve) -> Option<String> {
    std::env::var_os("KSBRIDGE_TEST_NMT")?;
    let jcmd = common::replay::java_bin().with_file_name("jcmd");
    let out = std::process::Command::new(jcmd)
        .args([&serve.pid().to_string(), "VM.native_memory", "summary"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = Vec::new();
    for l in text.lines() {
        let l = l.trim_start_matches(['-', ' ']);
        let Some((name, rest)) = l.split_once('(').or_else(|| l.split_once(':')) else {
            continue;
        };
        let Some(c) = rest.split("committed=").nth(1) else {
            continue;
        };
        let kb = c.trim_end_matches([')', ' ']).trim_end_matches("KB");
        if name.trim().is_empty() || l.starts_with('(') {
            continue;
        }
        parts.push(format!("{}={kb}", name.trim()));
    }
    Some(parts.join(" "))
}

/// Threads of the process sampled every 10 ms until `stop`: the peak.
fn sample_peak(serve_pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while !stop.load(Ordering::SeqCst) {
            if let Ok(d) = std::fs::read_dir(format!("/proc/{serve_pid}/task")) {
                peak = peak.max(d.count());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        peak
    })
}

/// 200 clients scrape at once while the only target is slow (1.5 s per
/// read): every answer is a 200, ksbridge's thread count stays within 8 of
/// its idle count (the blocking pool is 4 threads, the JNI workers 4, the
/// HTTP workers 2, whatever the number of clients), and single flight holds
/// (at most 2 reads of the target for all 200 scrapes).
#[test]
fn two_hundred_concurrent_clients_share_one_bounded_pool() {
    let mut jvm = ReplayJvm::start(ReplayOptions::default());
    let serve = Serve::start(&[
        "--target",
        &jvm.pid().to_string(),
        "--web.max-requests",
        "0",
        "--state-poller.interval",
        "0",
    ]);
    wait_until("the first read", WAIT, || {
        all_read(&serve, &[jvm.pid()]).then_some(())
    });
    // Idle: everything started once (a warm scrape, the blocking pool used).
    for _ in 0..3 {
        assert!(all_read(&serve, &[jvm.pid()]));
    }
    let idle = serve.threads();
    let rss_idle = serve.rss_kib();
    jvm.command(&format!(
        "block {} record-e2e-latency-avg 1.5",
        quoted(NODE)
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_peak(serve.pid(), stop.clone());
    let clients = 200;
    let barrier = Arc::new(Barrier::new(clients));
    let ok = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let (barrier, ok, port) = (barrier.clone(), ok.clone(), serve.port);
            std::thread::spawn(move || {
                barrier.wait();
                let r = http_get(port, "/metrics", &[]).expect("an answer");
                if r.status == 200 && r.text().contains("kafka_streams_state{") {
                    ok.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let took = t0.elapsed();
    let rss_busy = serve.rss_kib();
    stop.store(true, Ordering::SeqCst);
    let peak = sampler.join().unwrap();
    let reads = jvm.blocked_reads();
    eprintln!(
        "200 clients: {took:?}, threads idle {idle} peak {peak}, RSS idle {rss_idle} KiB after {rss_busy} KiB, reads of the target {reads}"
    );
    assert_eq!(
        ok.load(Ordering::SeqCst),
        clients,
        "every client got a 200 with the target's series"
    );
    assert!(
        peak <= idle + 8,
        "threads went from {idle} to {peak} with {clients} clients"
    );
    assert!(
        (1..=2).contains(&reads),
        "{reads} reads of the target for {clients} concurrent scrapes"
    );
}

/// A frozen only-target still gets a 200 (with success 0 and its last good
/// snapshot), within the request timeout; a request beyond
/// `--web.max-requests` is answered 503 with Retry-After at once.
#[test]
fn a_frozen_target_is_a_200_and_overload_a_quick_503() {
    let mut jvm = ReplayJvm::start(ReplayOptions::default());
    let pid = jvm.pid();
    let serve = Serve::start(&[
        "--target",
        &pid.to_string(),
        "--web.max-requests",
        "2",
        "--web.request-timeout",
        "3s",
    ]);
    wait_until("the first read", WAIT, || {
        all_read(&serve, &[pid]).then_some(())
    });
    jvm.command(&format!("block {} record-e2e-latency-avg 30", quoted(NODE)));
    let port = serve.port;
    let slow: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                let t = Instant::now();
                (http_get(port, "/metrics", &[]).unwrap(), t.elapsed())
            })
        })
        .collect();
    wait_until("both slow scrapes in flight", WAIT, || {
        (jvm.blocked_reads() >= 1).then_some(())
    });
    // Both permits are held (a third request is shed, not queued).
    let t = Instant::now();
    let shed = wait_until("a request shed", Duration::from_secs(3), || {
        http(port, "GET", "/healthz", &[])
            .ok()
            .filter(|r| r.status == 503)
    });
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(shed.header("retry-after").as_deref(), Some("1"));
    assert!(
        shed.text().contains("--web.max-requests 2"),
        "{}",
        shed.text()
    );
    for h in slow {
        let (r, took) = h.join().unwrap();
        assert_eq!(r.status, 200, "a frozen target is no failure of ksbridge");
        assert!(
            took < Duration::from_secs(3),
            "answered within the request timeout: {took:?}"
        );
        let t = r.text();
        // What failed is said per target: the read failed (success 0), or it
        // answered by its deadline without the frozen bean (cut for time).
        let failed = line_with(&t, "ksbridge_scrape_success{", &format!("pid:{pid}"))
            .unwrap()
            .ends_with(" 0");
        let cut = t.lines().any(|l| {
            l.starts_with("ksbridge_scrape_truncated_total{")
                && l.contains(&format!("pid:{pid}"))
                && l.contains("reason=\"time\"")
        });
        assert!(failed || cut, "{t}");
        assert!(
            t.contains("kafka_streams_state{"),
            "the last good snapshot is served:\n{t}"
        );
    }
    assert_eq!(http(port, "GET", "/healthz", &[]).unwrap().status, 200);
}

/// GET and HEAD only, on every path; the others are 405 with Allow.
#[test]
fn only_get_and_head() {
    let dir = tempfile::tempdir().unwrap();
    let capture = capture_for(dir.path(), "methods-app", "00000m");
    let serve = Serve::start(&["--target", &format!("file:{}", capture.display())]);
    let head = serve.request("HEAD", "/metrics").unwrap();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    for (method, path) in [
        ("POST", "/metrics"),
        ("PUT", "/"),
        ("DELETE", "/healthz"),
        ("PATCH", "/apps/methods-app"),
        ("OPTIONS", "/nowhere"),
    ] {
        let r = serve.request(method, path).unwrap();
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.header("allow").as_deref(), Some("GET, HEAD"));
    }
    assert_eq!(serve.get("/metrics", &[]).unwrap().status, 200);
}

/// SIGTERM while a scrape waits for a slow target: the scrape is answered
/// (200), new connections are refused, the JVM connections are closed, and
/// ksbridge exits 0 within the request timeout plus the close time.
#[test]
fn sigterm_finishes_the_request_in_flight_and_exits_zero() {
    let mut jvm = ReplayJvm::start(ReplayOptions::default());
    let pid = jvm.pid();
    let mut serve = Serve::start(&["--target", &pid.to_string(), "--web.request-timeout", "5s"]);
    wait_until("the first read", WAIT, || {
        all_read(&serve, &[pid]).then_some(())
    });
    jvm.command(&format!("block {} record-e2e-latency-avg 2", quoted(NODE)));
    let port = serve.port;
    let in_flight = std::thread::spawn(move || http_get(port, "/metrics", &[]));
    wait_until("the scrape in flight", WAIT, || {
        (jvm.blocked_reads() >= 1).then_some(())
    });
    let t = Instant::now();
    serve.terminate();
    let status = wait_until("exit after SIGTERM", Duration::from_secs(20), || {
        serve.try_wait()
    });
    let took = t.elapsed();
    let r = in_flight
        .join()
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("kafka_streams_state{"), "{}", r.text());
    assert!(status.success(), "exit 0:\n{}", serve.log());
    assert!(
        took < Duration::from_secs(5 + 3 + 2),
        "exited after {took:?}"
    );
    assert!(
        serve.log().contains("closed the JVM connections"),
        "{}",
        serve.log()
    );
    assert!(
        http_get(port, "/healthz", &[]).is_err(),
        "nothing listens any more"
    );
}

/// A taken port is a clear error naming the address and the flag.
#[test]
fn a_taken_port_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let capture = capture_for(dir.path(), "port-app", "00000p");
    let target = format!("file:{}", capture.display());
    let mut serve = Serve::spawn_on(port, &["--target", &target]);
    let status = wait_until("serve to give up", WAIT, || serve.try_wait());
    assert!(!status.success());
    let log = serve.log();
    assert!(
        log.contains(&format!(
            "cannot listen on 127.0.0.1:{port} (--web.listen-address)"
        )),
        "{log}"
    );
    assert!(
        log.to_lowercase().contains("address already in use"),
        "{log}"
    );
}
