//! The JNI reader against real JVMs: the replay JVM (Kafka-shaped beans and
//! the faults a healthy app never shows) by pid and by remote JMX URL.

mod common;

use std::time::{Duration, Instant};

use common::replay::{ReplayJvm, ReplayOptions};
use ksbridge::jmx::{Snapshot, Value};
use ksbridge::jvm::{Credentials, Jvm, JvmError, Target};

const T: Duration = Duration::from_secs(20);
const CLIENT: &str =
    "kafka.streams:type=stream-metrics,client-id=zmart-3c1e7f6a-8d2b-4b5e-9f0a-1b2c3d4e5f60";
const THREAD: &str = "kafka.streams:type=stream-thread-metrics,thread-id=zmart-3c1e7f6a-8d2b-4b5e-9f0a-1b2c3d4e5f60-StreamThread-1";

fn jvm() -> Jvm {
    Jvm::get().expect("embedded JVM")
}

async fn read(jvm: &Jvm, target: Target, pattern: &str) -> Snapshot {
    let c = jvm.connect(target, T).await.expect("connect");
    let r = jvm.read(c, vec![pattern.into()], T).await.expect("read");
    jvm.close(c).await;
    r.snapshot
}

/// Same bean names, attribute names and runtime types as the capture.
fn assert_matches_capture(snap: &Snapshot) {
    let capture = Snapshot::load(&common::replay::default_capture()).unwrap();
    let got: Vec<&str> = snap.beans.iter().map(|b| b.name.as_str()).collect();
    let want: Vec<&str> = capture.beans.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(got, want);
    for (g, w) in snap.beans.iter().zip(&capture.beans) {
        assert_eq!(g.class_name, w.class_name, "{}", w.name);
        let gn: Vec<_> = g.attributes.iter().map(|a| a.name.as_str()).collect();
        let wn: Vec<_> = w.attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(gn, wn, "{}", w.name);
        for (ga, wa) in g.attributes.iter().zip(&w.attributes) {
            assert_eq!(
                ga.value.java_class(),
                wa.value.java_class(),
                "{} {}",
                w.name,
                wa.name
            );
            match (&ga.value, &wa.value) {
                (Value::Double(a), Value::Double(b)) if b.is_nan() => assert!(a.is_nan()),
                (a, b) => assert_eq!(a, b, "{} {}", w.name, wa.name),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_every_bean_by_pid_with_types_enums_and_quoted_names() {
    let replay = ReplayJvm::start(ReplayOptions::default());
    let jvm = jvm();
    let snap = read(&jvm, Target::Pid(replay.pid()), "kafka.*:*").await;
    assert_matches_capture(&snap);
    let client = snap.find(CLIENT).unwrap();
    // Read as its name by a JVM without kafka-streams on its classpath.
    assert_eq!(
        client.get("state"),
        Some(&Value::Enum {
            class: "org.apache.kafka.streams.KafkaStreams$State".into(),
            constant: "RUNNING".into()
        })
    );
    let store = snap
        .beans
        .iter()
        .find(|b| b.name.get("rocksdb-state-id").is_some())
        .unwrap();
    assert_eq!(store.name.get("rocksdb-state-id"), Some("orders:by/region"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_url_reads_the_same_and_bad_credentials_fail_typed() {
    let replay = ReplayJvm::start(ReplayOptions {
        jmx_auth: Some(("monitor".into(), "s3cret".into())),
        ..ReplayOptions::default()
    });
    let url = replay.jmx_url().unwrap();
    let jvm = jvm();
    let good = Target::Url {
        url: url.clone(),
        credentials: Some(Credentials {
            user: "monitor".into(),
            password: "s3cret".into(),
        }),
    };
    let snap = read(&jvm, good, "kafka.*:*").await;
    assert_matches_capture(&snap);
    let bad = Target::Url {
        url,
        credentials: Some(Credentials {
            user: "monitor".into(),
            password: "wrong".into(),
        }),
    };
    let e = jvm.connect(bad, T).await.unwrap_err();
    assert!(matches!(e, JvmError::Auth { .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_registrations_without_requerying_names() {
    let mut replay = ReplayJvm::start(ReplayOptions::default());
    let jvm = jvm();
    let c = jvm.connect(Target::Pid(replay.pid()), T).await.unwrap();
    let p = || vec!["kafka.streams:*".to_string()];
    let before = jvm.read(c, p(), T).await.unwrap().snapshot.beans.len();
    let added = "kafka.streams:type=stream-thread-metrics,thread-id=zmart-x-StreamThread-9";
    replay.add(&serde_json::json!({"name": added, "class": "org.apache.kafka.common.metrics.JmxReporter$KafkaMbean",
        "attributes": {"process-total": {"type": "java.lang.Double", "value": 5.0}}}));
    replay.command(&format!("remove {THREAD}"));
    // Notifications arrive asynchronously: wait until the read shows both changes.
    let deadline = Instant::now() + T;
    loop {
        let s = jvm.read(c, p(), T).await.unwrap().snapshot;
        if s.find(added).is_some() && s.find(THREAD).is_none() {
            assert_eq!(s.beans.len(), before);
            assert_eq!(s.find(added).unwrap().f64("process-total"), Some(5.0));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "registration changes never showed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(jvm.name_queries(c).await.unwrap(), 1);
    jvm.close(c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_attribute_costs_only_itself() {
    let mut replay = ReplayJvm::start(ReplayOptions::default());
    let jvm = jvm();
    let c = jvm.connect(Target::Pid(replay.pid()), T).await.unwrap();
    replay.command(&format!("throw {THREAD} commit-total boom"));
    replay.command(&format!("throwbulk {CLIENT}"));
    replay.command(&format!("enum {CLIENT} state FUTURE_STATE"));
    let s = jvm
        .read(c, vec!["kafka.streams:*".into()], T)
        .await
        .unwrap()
        .snapshot;
    let thread = s.find(THREAD).unwrap();
    match thread.get("commit-total") {
        Some(Value::Unreadable { error }) => assert!(error.contains("boom"), "{error}"),
        other => panic!("commit-total: {other:?}"),
    }
    assert_eq!(thread.f64("commit-rate"), Some(0.2));
    // getAttributes failed as a whole: every attribute still read one by one,
    // and the constant the stand-in enum lacks is still reported by name.
    let client = s.find(CLIENT).unwrap();
    assert_eq!(client.text("state"), Some("FUTURE_STATE"));
    assert_eq!(client.text("application-id"), Some("zmart"));
    jvm.close(c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_attribute_hits_the_deadline_with_a_typed_timeout() {
    let mut replay = ReplayJvm::start(ReplayOptions::default());
    let jvm = jvm();
    let c = jvm.connect(Target::Pid(replay.pid()), T).await.unwrap();
    replay.command(&format!("block {THREAD} commit-total 30"));
    let start = Instant::now();
    let e = jvm
        .read(c, vec!["kafka.streams:*".into()], Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(e, JvmError::Timeout { .. }), "{e:?}");
    // The message names the real deadline, whichever side noticed it.
    assert!(e.to_string().ends_with("timed out after 1s"), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    jvm.close(c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_target_mid_read_gives_a_typed_error_without_hanging() {
    let mut replay = ReplayJvm::start(ReplayOptions::default());
    let jvm = jvm();
    let c = jvm.connect(Target::Pid(replay.pid()), T).await.unwrap();
    replay.command(&format!("block {THREAD} commit-total 30"));
    let reader = {
        let jvm = jvm.clone();
        tokio::spawn(async move {
            jvm.read(c, vec!["kafka.streams:*".into()], Duration::from_secs(10))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start = Instant::now();
    replay.kill();
    let e = reader.await.unwrap().unwrap_err();
    assert!(
        matches!(e, JvmError::TargetGone { .. } | JvmError::Timeout { .. }),
        "{e:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(12));
    // The next read knows at once.
    let e = jvm
        .read(c, vec!["kafka.streams:*".into()], Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(e, JvmError::TargetGone { .. }), "{e:?}");
    jvm.close(c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_errors_for_missing_and_non_jvm_processes() {
    let jvm = jvm();
    let e = jvm.connect(Target::Pid(u32::MAX - 7), T).await.unwrap_err();
    assert!(matches!(e, JvmError::NoSuchProcess { .. }), "{e:?}");
    let mut sleeper = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let e = jvm
        .connect(Target::Pid(sleeper.id()), Duration::from_secs(10))
        .await
        .unwrap_err();
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(matches!(e, JvmError::NotAJvm { .. }), "{e:?}");
    let e = jvm
        .connect(
            Target::Url {
                url: "service:jmx:rmi:///jndi/rmi://127.0.0.1:1/jmxrmi".into(),
                credentials: None,
            },
            T,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, JvmError::Connect { .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_disabled_is_refused_clearly() {
    let replay = ReplayJvm::start(ReplayOptions {
        extra_jvm_args: vec!["-XX:+DisableAttachMechanism".into()],
        ..ReplayOptions::default()
    });
    let e = jvm()
        .connect(Target::Pid(replay.pid()), Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(
        matches!(e, JvmError::NotAJvm { .. } | JvmError::AttachRefused { .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("DisableAttachMechanism"), "{e}");
}
