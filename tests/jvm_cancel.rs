//! JNI work whose caller gave up, against real replay JVMs: a dropped state
//! poller closes its connection even while its read is blocked in the
//! target (the read is stopped too), and 50 reads of a slow target abandoned
//! after 30 ms each (a scrape whose HTTP client went away) are dropped or
//! stopped instead of piling up on the shared JNI workers: the next read of
//! a good target takes what it took before (a ratio against its own
//! baseline, measured in the same test).

mod common;

use std::time::{Duration, Instant};

use common::lab::wait_until;
use common::replay::{quoted, ReplayJvm, ReplayOptions};
use ksbridge::jvm::{Jvm, Target};
use ksbridge::source::state_poller::{StatePoller, PATTERNS};

const T: Duration = Duration::from_secs(60);
const THREAD: &str = "kafka.streams:type=stream-thread-metrics,thread-id=zmart-3c1e7f6a-8d2b-4b5e-9f0a-1b2c3d4e5f60-StreamThread-1";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Connections the embedded JVM has open to `pid`.
fn open_to(rt: &tokio::runtime::Runtime, jvm: &Jvm, pid: u32) -> usize {
    let mine = format!("pid {pid}");
    rt.block_on(jvm.open_connections())
        .expect("open connections")
        .iter()
        .filter(|t| **t == mine)
        .count()
}

#[test]
fn a_dropped_state_poller_closes_its_connection_even_mid_read() {
    let rt = runtime();
    let mut replay = ReplayJvm::start(ReplayOptions::default());
    let pid = replay.pid();
    let jvm = Jvm::get().expect("embedded JVM");
    // Every read of the thread bean (which the poller reads) blocks for 30 s.
    replay.command(&format!("block {} commit-total 30", quoted(THREAD)));
    let cancelled = rt.block_on(jvm.cancelled_reads()).unwrap();
    let poller = {
        let _in = rt.enter();
        StatePoller::start(jvm.clone(), Target::Pid(pid), Duration::from_millis(100))
    };
    // The first poll is in the target's getter: the poller holds its
    // connection in a read that will not answer for seconds.
    wait_until("the poller's read blocked in the target", T, || {
        (replay.blocked_reads() >= 1).then_some(())
    });
    assert_eq!(open_to(&rt, &jvm, pid), 1, "the poller's connection");
    // What discovery does when it replaces the poller's slot.
    drop(poller);
    let t0 = Instant::now();
    wait_until("the dropped poller's connection closed", T, || {
        (open_to(&rt, &jvm, pid) == 0).then_some(())
    });
    wait_until("its read stopped", T, || {
        (rt.block_on(jvm.cancelled_reads()).unwrap() > cancelled).then_some(())
    });
    eprintln!(
        "connection closed and read stopped {:?} after the drop",
        t0.elapsed()
    );
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

#[test]
fn abandoned_reads_of_a_slow_target_do_not_delay_a_good_one() {
    let rt = runtime();
    // About a second of real work per read (2,000 beans, one RMI round trip each).
    let slow = ReplayJvm::start(ReplayOptions::generated(2000, 10));
    let good = ReplayJvm::start(ReplayOptions::default());
    let jvm = Jvm::get().expect("embedded JVM");
    let pattern = || vec!["kafka.streams:*".to_string()];
    let patterns: Vec<String> = PATTERNS.iter().map(|p| p.to_string()).collect();
    let (s, g) = rt.block_on(async {
        let s = jvm.connect(Target::Pid(slow.pid()), T).await.expect("slow");
        let g = jvm.connect(Target::Pid(good.pid()), T).await.expect("good");
        (s, g)
    });
    let read_good = || {
        let t = Instant::now();
        let r = rt
            .block_on(jvm.read(g, patterns.clone(), T))
            .expect("good read");
        assert!(!r.snapshot.beans.is_empty());
        t.elapsed()
    };
    // Warm: the first reads fetch MBeanInfo.
    let whole = rt.block_on(jvm.read(s, pattern(), T)).expect("slow read");
    assert_eq!(whole.snapshot.beans.len(), 2000);
    read_good();
    let baseline = median((0..5).map(|_| read_good()).collect());
    let (dropped, cancelled) = (
        jvm.dropped_jobs(),
        rt.block_on(jvm.cancelled_reads()).unwrap(),
    );
    // 50 scrapes of the slow target whose caller goes away after 30 ms.
    let t0 = Instant::now();
    for _ in 0..50 {
        let gave_up = rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(30), jvm.read(s, pattern(), T))
                .await
                .is_err()
        });
        assert!(gave_up, "a read of 2,000 beans took under 30 ms");
    }
    let abandoning = t0.elapsed();
    let after = read_good();
    let stopped =
        (jvm.dropped_jobs() - dropped) + (rt.block_on(jvm.cancelled_reads()).unwrap() - cancelled);
    eprintln!(
        "good read: {baseline:?} before, {after:?} after 50 abandoned reads of the slow target \
         ({abandoning:?}); {stopped} of them dropped unrun or stopped"
    );
    assert!(
        after <= baseline * 2 + Duration::from_millis(500),
        "the good target's read took {after:?} after the abandoned reads, {baseline:?} before"
    );
    assert!(
        stopped >= 25,
        "only {stopped} of 50 abandoned reads were dropped or stopped"
    );
    // The slow target still reads whole when someone waits for it (once
    // the stopped reads' last beans are answered).
    wait_until("a whole read of the slow target", T, || {
        let r = rt.block_on(jvm.read(s, pattern(), T)).expect("slow read");
        (r.snapshot.beans.len() == 2000).then_some(())
    });
    rt.block_on(async {
        jvm.close(s).await;
        jvm.close(g).await;
    });
}

/// A read whose first part is cut off by the deadline before its first bean
/// answers: the other parts' beans still come back, the cut ones counted.
#[test]
fn a_read_whose_first_part_read_nothing_answers_with_the_rest() {
    let rt = runtime();
    // 200 beans: read in two or more parts on any machine.
    let mut replay = ReplayJvm::start(ReplayOptions::generated(200, 10));
    let jvm = Jvm::get().expect("embedded JVM");
    let conn = rt
        .block_on(jvm.connect(Target::Pid(replay.pid()), T))
        .expect("connect");
    let pattern = || vec!["kafka.streams:*".to_string()];
    let whole = rt.block_on(jvm.read(conn, pattern(), T)).expect("read");
    assert_eq!(whole.snapshot.beans.len(), 200);
    // The first bean in name order, the first of the first part, blocks.
    let first = &whole.snapshot.beans[0];
    let attr = &first.attributes[0].name;
    replay.command(&format!(
        "block {} {} 20",
        quoted(first.name.as_str()),
        quoted(attr)
    ));
    let r = rt
        .block_on(jvm.read(conn, pattern(), Duration::from_secs(3)))
        .expect("a read with its first part cut off");
    eprintln!("{} beans, cuts {:?}", r.snapshot.beans.len(), r.cuts);
    assert!(
        r.snapshot.beans.len() >= 50 && r.snapshot.beans.len() < 200,
        "{} beans",
        r.snapshot.beans.len()
    );
    assert!(r.snapshot.beans.iter().all(|b| b.name != first.name));
    assert!(r.cuts.get("time") > 0, "{:?}", r.cuts);
    rt.block_on(jvm.close(conn));
}
