//! The JNI workers start as concurrent jobs need them, against real replay
//! JVMs: reads of one target one after another keep one or two workers (each
//! worker that ran a job keeps its stack resident), while reads of four
//! targets whose getters block run side by side on four workers at once.

mod common;

use std::time::{Duration, Instant};

use common::replay::{quoted, ReplayJvm, ReplayOptions};
use ksbridge::jvm::{Jvm, Target};
use ksbridge::source::state_poller::PATTERNS;

const T: Duration = Duration::from_secs(60);
const THREAD: &str = "kafka.streams:type=stream-thread-metrics,thread-id=zmart-3c1e7f6a-8d2b-4b5e-9f0a-1b2c3d4e5f60-StreamThread-1";

#[test]
fn jni_workers_start_as_concurrent_reads_need_them() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let jvm = Jvm::get().expect("embedded JVM");
    let patterns: Vec<String> = PATTERNS.iter().map(|p| p.to_string()).collect();
    let mut replays: Vec<ReplayJvm> = (0..4)
        .map(|_| ReplayJvm::start(ReplayOptions::default()))
        .collect();
    let conns: Vec<_> = rt.block_on(async {
        let mut out = Vec::new();
        for r in &replays {
            out.push(jvm.connect(Target::Pid(r.pid()), T).await.expect("connect"));
        }
        out
    });
    for _ in 0..10 {
        let r = rt
            .block_on(jvm.read(conns[0], patterns.clone(), T))
            .expect("read");
        assert!(!r.snapshot.beans.is_empty());
    }
    let sequential = jvm.jni_workers();
    assert!(
        (1..=2).contains(&sequential),
        "{sequential} JNI workers after one-at-a-time jobs"
    );
    // Every read of the thread bean now takes 3 s in each target.
    for r in &mut replays {
        r.command(&format!("block {} commit-total 3", quoted(THREAD)));
    }
    let t0 = Instant::now();
    let reads = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for c in &conns {
            let (jvm, c, p) = (jvm.clone(), *c, patterns.clone());
            set.spawn(async move { jvm.read(c, p, T).await });
        }
        set.join_all().await
    });
    let took = t0.elapsed();
    for r in reads {
        assert!(!r.expect("blocked read").snapshot.beans.is_empty());
    }
    let concurrent = jvm.jni_workers();
    eprintln!("JNI workers: {sequential} one at a time, {concurrent} for 4 blocked reads at once ({took:?})");
    assert!(
        (4..=8).contains(&concurrent),
        "{concurrent} JNI workers for 4 concurrent blocked reads"
    );
    assert!(
        took < Duration::from_secs(9),
        "the 4 reads queued: {took:?}"
    );
    rt.block_on(async {
        for c in conns {
            jvm.close(c).await;
        }
    });
}
