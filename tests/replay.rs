//! Integration tests of the replay JVM (tests/java/replay) and its Rust helper:
//! input is the default capture and the generated 2,000-bean shape, output is
//! what the reference Probe reads by pid and over remote JMX.
mod common;

use std::time::{Duration, Instant};

use common::replay::{
    default_capture, free_port, probe, probe_with, quoted, ProbeClasspath, ProbeRun, ProbeTarget,
    ReplayJvm, ReplayOptions,
};
use serde_json::{json, Value};

const CLIENT: &str =
    "kafka.streams:type=stream-metrics,client-id=zmart-3c1e7f6a-8d2b-4b5e-9f0a-1b2c3d4e5f60";
const THREAD: &str = "kafka.streams:type=stream-thread-metrics,thread-id=zmart-3c1e7f6a-8d2b-4b5e-9f0a-1b2c3d4e5f60-StreamThread-1";
const STORE: &str = "kafka.streams:type=stream-state-metrics,thread-id=zmart-3c1e7f6a-8d2b-4b5e-9f0a-1b2c3d4e5f60-StreamThread-1,task-id=0_0,rocksdb-state-id=\"orders:by/region\"";
const KAFKA_MBEAN: &str = "org.apache.kafka.common.metrics.JmxReporter$KafkaMbean";
const ALL_KAFKA: [&str; 4] = [
    "--pattern",
    "kafka.streams:*",
    "--pattern",
    "kafka.consumer:*",
];

fn fixture() -> Value {
    let text = std::fs::read_to_string(default_capture()).expect("read default capture");
    serde_json::from_str(&text).expect("default capture is JSON")
}

/// The chain of "class: message" strings of a failure, joined for `contains` checks.
fn chain(v: &Value) -> String {
    v.as_array()
        .unwrap_or_else(|| panic!("not an error chain: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" <- ")
}

fn bulk_names(bean: &Value) -> Vec<String> {
    bean["bulk"]
        .as_object()
        .unwrap_or_else(|| panic!("bulk read failed: {bean}"))
        .keys()
        .cloned()
        .collect()
}

/// Every fixture bean is seen under its exact name, with its class, every attribute
/// declared `double` in capture order, and bulk values equal to the capture's.
fn assert_matches_fixture(run: &ProbeRun) {
    assert_eq!(
        run.code,
        Some(0),
        "probe failed: {} {}",
        run.json,
        run.stderr
    );
    let fx = fixture();
    let beans = fx["beans"].as_array().expect("beans");
    let seen: Vec<&str> = run
        .beans()
        .iter()
        .map(|b| b["name"].as_str().unwrap_or_default())
        .collect();
    let wanted: Vec<&str> = beans
        .iter()
        .map(|b| b["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        seen, wanted,
        "bean names (exact spelling, sorted) differ from the capture"
    );
    for want in beans {
        let name = want["name"].as_str().expect("name");
        let got = run.bean(name);
        assert_eq!(got["class"], want["class"], "class of {name}");
        let attrs = want["attributes"].as_object().expect("attributes");
        let declared = got["declared"].as_array().expect("declared");
        assert_eq!(declared.len(), attrs.len(), "attribute count of {name}");
        // MBeanInfo keeps the capture's order (checked on the client bean: serde_json sorts keys).
        if name == CLIENT {
            let order: Vec<&str> = declared
                .iter()
                .map(|d| d["name"].as_str().unwrap_or_default())
                .collect();
            assert_eq!(
                order,
                [
                    "version",
                    "commit-id",
                    "application-id",
                    "topology-description",
                    "state",
                    "alive-stream-threads",
                    "failed-stream-threads"
                ]
            );
        }
        for d in declared {
            assert_eq!(d["type"], "double", "declared type of {name} {d}");
            assert_eq!(d["readable"], true);
            assert_eq!(d["writable"], false);
        }
        for (attr, spec) in attrs {
            let value = &got["bulk"][attr];
            assert_eq!(value["type"], spec["type"], "type of {name} {attr}");
            assert_eq!(value["value"], spec["value"], "value of {name} {attr}");
            assert_eq!(
                value.get("enum").is_some(),
                spec.get("enum").is_some(),
                "enum flag of {name} {attr}"
            );
        }
    }
}

fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn default_capture_reads_back_by_pid() {
    let mut jvm = ReplayJvm::start(ReplayOptions::default());
    let n = fixture()["beans"].as_array().expect("beans").len();
    assert_eq!(jvm.beans_at_start(), n);
    assert_eq!(jvm.count(), n);
    let run = probe(
        &ProbeTarget::Pid(jvm.pid()),
        ProbeClasspath::Replay,
        &ALL_KAFKA,
    );
    assert_matches_fixture(&run);
    // The quoted store name is registered as ObjectName.quote spells it.
    assert_eq!(
        run.bean(STORE)["bulk"]["estimate-num-keys"]["value"],
        "18446744073709551615"
    );
    eprintln!(
        "replay start-up {:?}, probe by pid {:?}",
        jvm.startup_time(),
        run.elapsed
    );
}

#[test]
fn commands_change_values_and_inject_faults() {
    let mut jvm = ReplayJvm::start(ReplayOptions::default());
    let target = ProbeTarget::Pid(jvm.pid());
    let c = quoted(CLIENT);

    // New values of every runtime class, and an enum constant by name.
    jvm.set(
        CLIENT,
        "failed-stream-threads",
        &json!({"type": "java.lang.Double", "value": "Infinity"}),
    );
    jvm.set(
        CLIENT,
        "alive-stream-threads",
        &json!({"type": "java.lang.Integer", "value": 1}),
    );
    jvm.set(CLIENT, "version", &json!({"type": null, "value": null}));
    jvm.set(
        STORE,
        "estimate-num-keys",
        &json!({"type": "java.math.BigInteger", "value": "123456789012345678901234567890"}),
    );
    jvm.set(
        STORE,
        "num-open-iterators",
        &json!({"type": "java.lang.Long", "value": 9007199254740993_i64}),
    );
    jvm.command(&format!("enum {c} state PENDING_ERROR"));
    jvm.set(
        THREAD,
        "state",
        &json!({"type": "org.apache.kafka.streams.processor.internals.StreamThread$State", "enum": true, "value": "PARTITIONS_ASSIGNED"}),
    );
    jvm.set(
        THREAD,
        "thread-state",
        &json!({"type": "org.apache.kafka.streams.processor.internals.GlobalStreamThread$State", "enum": true, "value": "PENDING_SHUTDOWN"}),
    );
    let run = probe(
        &target,
        ProbeClasspath::Replay,
        &["--name", CLIENT, "--name", STORE, "--name", THREAD],
    );
    let client = &run.bean(CLIENT)["bulk"];
    assert_eq!(client["failed-stream-threads"]["value"], "Infinity");
    assert_eq!(
        client["alive-stream-threads"],
        json!({"type": "java.lang.Integer", "value": 1})
    );
    assert_eq!(client["version"], json!({"type": null, "value": null}));
    assert_eq!(
        client["state"],
        json!({"type": "org.apache.kafka.streams.KafkaStreams$State", "enum": true, "value": "PENDING_ERROR"})
    );
    let store = &run.bean(STORE)["bulk"];
    assert_eq!(
        store["estimate-num-keys"]["value"],
        "123456789012345678901234567890"
    );
    assert_eq!(
        store["num-open-iterators"],
        json!({"type": "java.lang.Long", "value": 9007199254740993_i64})
    );
    let thread = &run.bean(THREAD)["bulk"];
    assert_eq!(thread["state"]["value"], "PARTITIONS_ASSIGNED");
    assert_eq!(thread["thread-state"]["value"], "PENDING_SHUTDOWN");

    // A throwing getter: the bulk read silently omits it (as Kafka's does), a single read fails.
    jvm.command(&format!(
        "throw {} commit-rate boom from the test",
        quoted(THREAD)
    ));
    // A bean whose getAttributes throws as a whole.
    jvm.command(&format!("throwbulk {c} bulk read refused"));
    let run = probe(
        &target,
        ProbeClasspath::Replay,
        &["--name", CLIENT, "--name", THREAD, "--single"],
    );
    let thread = run.bean(THREAD);
    let names = bulk_names(thread);
    assert_eq!(names.len(), 9, "one of ten attributes omitted: {names:?}");
    assert!(!names.contains(&"commit-rate".to_string()));
    let single = chain(&thread["single"]["commit-rate"]["error"]);
    assert!(
        single.starts_with("javax.management.RuntimeMBeanException")
            && single.contains("java.lang.RuntimeException: boom from the test"),
        "{single}"
    );
    let bulk = chain(&run.bean(CLIENT)["bulk_error"]);
    assert!(
        bulk.starts_with("javax.management.RuntimeMBeanException")
            && bulk.contains("java.lang.RuntimeException: bulk read refused"),
        "{bulk}"
    );
    assert_eq!(
        run.bean(CLIENT)["single"]["application-id"]["value"],
        "zmart"
    );

    // clear: the faults are gone.
    jvm.command(&format!("clear {} commit-rate", quoted(THREAD)));
    jvm.command(&format!("clear {c}"));
    let run = probe(
        &target,
        ProbeClasspath::Replay,
        &["--name", CLIENT, "--name", THREAD],
    );
    assert_eq!(bulk_names(run.bean(THREAD)).len(), 10);
    assert_eq!(bulk_names(run.bean(CLIENT)).len(), 7);

    // block: every read of the attribute sleeps first.
    jvm.command(&format!("block {} commit-total 1.5", quoted(THREAD)));
    let run = probe(&target, ProbeClasspath::Replay, &["--name", THREAD]);
    let ms = run.bean(THREAD)["bulk_ms"].as_u64().expect("bulk_ms");
    assert!(ms >= 1500, "blocked bulk read took only {ms} ms");
    assert_eq!(bulk_names(run.bean(THREAD)).len(), 10);
    // A reader-side RMI response timeout turns the blocked read into a failure.
    let run = probe_with(
        &target,
        ProbeClasspath::Replay,
        &["-Dsun.rmi.transport.tcp.responseTimeout=500"],
        &["--name", THREAD],
    );
    let err = chain(&run.bean(THREAD)["bulk_error"]);
    assert!(
        err.starts_with("java.rmi.UnmarshalException")
            && err.contains("java.net.SocketTimeoutException: Read timed out"),
        "{err}"
    );
    eprintln!("blocked read with responseTimeout=500: {err}");
    jvm.command(&format!("clear {} commit-total", quoted(THREAD)));
    let run = probe(&target, ProbeClasspath::Replay, &["--name", THREAD]);
    let ms = run.bean(THREAD)["bulk_ms"].as_u64().expect("bulk_ms");
    assert!(ms < 1500, "cleared bulk read still took {ms} ms");

    // add/remove, with a quoted name holding a space and a captured failing attribute.
    let added = "kafka.streams:type=stream-state-metrics,thread-id=t-StreamThread-1,task-id=1_3,in-memory-state-id=\"by region, sorted\"";
    jvm.add(&json!({
        "name": added,
        "class": KAFKA_MBEAN,
        "attributes": {
            "num-open-iterators": {"declared": "double", "type": "java.lang.Long", "value": 3},
            "broken": {"declared": "double", "error": "java.lang.IllegalStateException: store closed"}
        }
    }));
    assert_eq!(jvm.count(), 8);
    let run = probe(&target, ProbeClasspath::Replay, &["--single"]);
    let bean = run.bean(added);
    assert_eq!(bulk_names(bean), vec!["num-open-iterators".to_string()]);
    let broken = chain(&bean["single"]["broken"]["error"]);
    assert!(
        broken.contains("java.lang.IllegalStateException: store closed"),
        "{broken}"
    );
    // Faults on a name holding a space: the name is passed as a JSON string.
    jvm.command(&format!(
        "set {} broken {{\"type\":\"java.lang.String\",\"value\":\"fixed\"}}",
        quoted(added)
    ));
    jvm.command(&format!("remove {}", quoted(added)));
    assert_eq!(jvm.count(), 7);
    let run = probe(&target, ProbeClasspath::Replay, &[]);
    assert!(run.beans().iter().all(|b| b["name"] != added));

    // Every mistake is one `err` line, and the JVM keeps going.
    for bad in [
        "frobnicate".to_string(),
        format!("set {c} no-such-attr {{\"type\":\"java.lang.Double\",\"value\":1}}"),
        format!("enum {c} state NOT_A_STATE"),
        format!("enum {c} version RUNNING"),
        "remove kafka.streams:type=nothing".to_string(),
        format!("add {}", json!({"name": CLIENT, "attributes": {}})),
        "add {not json".to_string(),
        String::new(),
    ] {
        let reply = jvm.try_command(&bad).expect("a reply");
        assert!(reply.starts_with("err "), "{bad:?} -> {reply:?}");
    }
    assert_eq!(jvm.count(), 7);
}

#[test]
fn enum_classes_on_the_reading_side() {
    let mut jvm = ReplayJvm::start(ReplayOptions::default());
    let target = ProbeTarget::Pid(jvm.pid());

    // No Kafka classes on the reader: the enum fails the whole bulk read of its bean.
    let run = probe(&target, ProbeClasspath::Bare, &ALL_KAFKA);
    let client = run.bean(CLIENT);
    let err = chain(&client["bulk_error"]);
    assert!(
        err.starts_with("java.rmi.UnmarshalException: error unmarshalling return")
            && err.contains(
                "java.lang.ClassNotFoundException: org.apache.kafka.streams.KafkaStreams$State"
            ),
        "{err}"
    );
    // Other beans read fine.
    assert_eq!(bulk_names(run.bean(THREAD)).len(), 10);
    assert_eq!(bulk_names(run.bean(STORE)).len(), 6);
    let run = probe(
        &target,
        ProbeClasspath::Bare,
        &["--name", CLIENT, "--single"],
    );
    let single = &run.bean(CLIENT)["single"];
    assert!(chain(&single["state"]["error"]).contains("ClassNotFoundException"));
    assert_eq!(single["application-id"]["value"], "zmart");

    // Stub enums (no FUTURE_STATE): known constants read, an unknown one fails the bulk read.
    let run = probe(&target, ProbeClasspath::Stub, &["--name", CLIENT]);
    assert_eq!(run.bean(CLIENT)["bulk"]["state"]["value"], "RUNNING");
    jvm.command(&format!("enum {} state FUTURE_STATE", quoted(CLIENT)));
    let run = probe(
        &target,
        ProbeClasspath::Stub,
        &["--name", CLIENT, "--single"],
    );
    let client = run.bean(CLIENT);
    let err = chain(&client["bulk_error"]);
    assert!(
        err.starts_with("java.rmi.UnmarshalException: error unmarshalling return")
            && err.contains("java.io.InvalidObjectException: enum constant FUTURE_STATE does not exist in class org.apache.kafka.streams.KafkaStreams$State"),
        "{err}"
    );
    assert!(chain(&client["single"]["state"]["error"]).contains("InvalidObjectException"));
    assert_eq!(client["single"]["alive-stream-threads"]["value"], 2);

    // The replay's own classes know FUTURE_STATE.
    let run = probe(&target, ProbeClasspath::Replay, &["--name", CLIENT]);
    assert_eq!(run.bean(CLIENT)["bulk"]["state"]["value"], "FUTURE_STATE");
}

#[test]
fn generated_2000_beans() {
    let mut jvm = ReplayJvm::start(ReplayOptions::generated(2000, 10));
    eprintln!(
        "replay start-up with 2000x10 beans: {:?}",
        jvm.startup_time()
    );
    assert_eq!(jvm.beans_at_start(), 2000);
    assert_eq!(jvm.count(), 2000);
    let run = probe(
        &ProbeTarget::Pid(jvm.pid()),
        ProbeClasspath::Bare,
        &[
            "--pattern",
            "kafka.streams:type=stream-processor-node-metrics,*",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let beans = run.beans();
    assert_eq!(beans.len(), 2000);
    let mut nan = 0;
    for b in beans {
        assert_eq!(b["class"], KAFKA_MBEAN);
        let declared = b["declared"].as_array().expect("declared");
        assert_eq!(declared.len(), 10);
        assert!(declared.iter().all(|d| d["type"] == "double"));
        let bulk = b["bulk"].as_object().expect("bulk");
        assert_eq!(bulk.len(), 10);
        assert!(bulk.values().all(|v| v["type"] == "java.lang.Double"));
        nan += bulk.values().filter(|v| v["value"] == "NaN").count();
    }
    assert!(nan > 0, "some generated values are NaN");
    let first = beans[0]["name"].as_str().expect("name");
    assert!(
        first.starts_with("kafka.streams:type=stream-processor-node-metrics,thread-id=bench-")
            && first.contains("-StreamThread-")
            && first.contains(",task-id=")
            && first.contains(",processor-node-id=KSTREAM-SOURCE-"),
        "{first}"
    );
    eprintln!(
        "probe over 2000 beans: connect {} ms, read {} ms (getMBeanInfo + getAttributes per bean), total {:?}",
        run.json["connect_ms"], run.json["read_ms"], run.elapsed
    );
    drop(jvm);

    // Capture and generated shape combined.
    let mut both = ReplayJvm::start(ReplayOptions {
        generate: Some((2000, 10)),
        ..ReplayOptions::default()
    });
    assert_eq!(both.count(), 2007);
}

#[test]
fn remote_jmx_without_auth() {
    let jvm = ReplayJvm::start(ReplayOptions {
        jmx_port: true,
        ..ReplayOptions::default()
    });
    let url = jvm.jmx_url().expect("jmx url");
    assert!(
        url.starts_with("service:jmx:rmi:///jndi/rmi://127.0.0.1:") && url.ends_with("/jmxrmi"),
        "{url}"
    );
    let run = probe(
        &ProbeTarget::Url(url, None),
        ProbeClasspath::Replay,
        &ALL_KAFKA,
    );
    assert_matches_fixture(&run);
}

#[test]
fn remote_jmx_with_auth() {
    let creds = ("monitor".to_string(), "s3cret-pw".to_string());
    let jvm = ReplayJvm::start(ReplayOptions {
        jmx_auth: Some(creds.clone()),
        ..ReplayOptions::default()
    });
    let url = jvm.jmx_url().expect("jmx url");
    let run = probe(
        &ProbeTarget::Url(url.clone(), Some(creds.clone())),
        ProbeClasspath::Replay,
        &ALL_KAFKA,
    );
    assert_matches_fixture(&run);

    let wrong = probe(
        &ProbeTarget::Url(url.clone(), Some((creds.0.clone(), "wrong".to_string()))),
        ProbeClasspath::Replay,
        &[],
    );
    assert_eq!(wrong.code, Some(2));
    let err = chain(&wrong.json["connect_error"]);
    assert!(
        err.starts_with(
            "java.lang.SecurityException: Authentication failed! Invalid username or password"
        ),
        "{err}"
    );

    let none = probe(&ProbeTarget::Url(url, None), ProbeClasspath::Replay, &[]);
    assert_eq!(none.code, Some(2));
    let err = chain(&none.json["connect_error"]);
    assert!(
        err.starts_with("java.lang.SecurityException: Authentication failed! Credentials required"),
        "{err}"
    );
}

#[test]
fn lifecycle_exit_eof_kill() {
    // exit <code>
    let mut jvm = ReplayJvm::start(ReplayOptions::default());
    assert_eq!(jvm.command("exit 7"), "ok");
    let status = jvm.wait_exit(Duration::from_secs(10)).expect("exited");
    assert_eq!(status.code(), Some(7));

    // EOF on stdin: the JVM leaves at once.
    let mut jvm = ReplayJvm::start(ReplayOptions::default());
    jvm.close_stdin();
    let status = jvm
        .wait_exit(Duration::from_secs(10))
        .expect("exited on EOF");
    assert_eq!(status.code(), Some(0));

    // kill during a blocked read: the reader sees the connection die.
    let mut jvm = ReplayJvm::start(ReplayOptions::default());
    jvm.command(&format!("block {} commit-total 30", quoted(THREAD)));
    let target = ProbeTarget::Pid(jvm.pid());
    let reader =
        std::thread::spawn(move || probe(&target, ProbeClasspath::Replay, &["--name", THREAD]));
    wait_until(
        "the probe to reach the blocked getter",
        Duration::from_secs(30),
        || jvm.stderr_log().contains("blocking read of commit-total"),
    );
    jvm.kill();
    let run = reader.join().expect("probe thread");
    let err = chain(&run.bean(THREAD)["bulk_error"]);
    assert!(err.starts_with("java.rmi."), "{err}");
    eprintln!("reader's error when the JVM dies mid-read: {err}");
    assert!(run.elapsed < Duration::from_secs(25), "{:?}", run.elapsed);
    let pid = jvm.pid();
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    // Attaching to the pid of a JVM that is gone.
    let gone = probe(&ProbeTarget::Pid(pid), ProbeClasspath::Bare, &[]);
    assert_eq!(gone.code, Some(2));
    let err = chain(&gone.json["connect_error"]);
    // "Connection refused" when a killed JVM's attach socket file were left behind.
    assert!(
        err == "java.io.IOException: No such process"
            || err == "java.io.IOException: Connection refused",
        "{err}"
    );
}

#[test]
fn remote_jmx_nothing_listening() {
    let url = format!(
        "service:jmx:rmi:///jndi/rmi://127.0.0.1:{}/jmxrmi",
        free_port()
    );
    let run = probe(&ProbeTarget::Url(url, None), ProbeClasspath::Bare, &[]);
    assert_eq!(run.code, Some(2));
    let err = chain(&run.json["connect_error"]);
    assert!(
        err.starts_with("java.io.IOException: Failed to retrieve RMIServer stub")
            && err.ends_with("java.net.ConnectException: Connection refused"),
        "{err}"
    );
}

#[test]
fn capture_with_platform_beans_and_other_value_classes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let capture = dir.path().join("capture.json");
    let odd = "kafka.producer:type=producer-metrics,client-id=p-1";
    // Written as text: attribute order matters (serde_json's Map would sort the keys).
    let doc = r#"{"format": "ksbridge-capture/1", "captured_at_ms": 1764000000000,
  "source": {"note": "platform bean and every other value class"},
  "beans": [
    {"name": "java.lang:type=Memory", "class": "sun.management.MemoryImpl",
     "attributes": {"HeapMemoryUsage.used": {"declared": "javax.management.openmbean.CompositeData", "type": "java.lang.Long", "value": 1}}},
    {"name": "kafka.producer:type=producer-metrics,client-id=p-1", "class": "org.apache.kafka.common.metrics.JmxReporter$KafkaMbean",
     "attributes": {
        "f": {"declared": "double", "type": "java.lang.Float", "value": 1.5},
        "s": {"declared": "double", "type": "java.lang.Short", "value": -3},
        "b": {"declared": "double", "type": "java.lang.Byte", "value": 7},
        "dec": {"declared": "double", "type": "java.math.BigDecimal", "value": "0.1000000000000000055511151231257827"},
        "yes": {"declared": "boolean", "type": "java.lang.Boolean", "value": true},
        "arr": {"declared": "[J", "type": "[J", "value": "long[3]"},
        "on": {"declared": "double", "type": "javax.management.ObjectName", "value": "a:b=c"},
        "inf": {"declared": "double", "type": "java.lang.Double", "value": "-Infinity"}
     }}
  ]
}"#;
    std::fs::write(&capture, doc).expect("write capture");
    let jvm = ReplayJvm::start(ReplayOptions {
        capture: Some(capture),
        ..ReplayOptions::default()
    });
    assert_eq!(jvm.beans_at_start(), 1);
    assert_eq!(jvm.skipped_at_start(), 1);
    let run = probe(
        &ProbeTarget::Pid(jvm.pid()),
        ProbeClasspath::Bare,
        &["--name", odd],
    );
    let bean = run.bean(odd);
    let declared: Vec<(&str, &str)> = bean["declared"]
        .as_array()
        .expect("declared")
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap_or(""),
                d["type"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        declared,
        vec![
            ("f", "double"),
            ("s", "double"),
            ("b", "double"),
            ("dec", "double"),
            ("yes", "boolean"),
            ("arr", "[J"),
            ("on", "double"),
            ("inf", "double")
        ]
    );
    let bulk = &bean["bulk"];
    assert_eq!(bulk["f"], json!({"type": "java.lang.Float", "value": 1.5}));
    assert_eq!(bulk["s"], json!({"type": "java.lang.Short", "value": -3}));
    assert_eq!(bulk["b"], json!({"type": "java.lang.Byte", "value": 7}));
    assert_eq!(
        bulk["dec"],
        json!({"type": "java.math.BigDecimal", "value": "0.1000000000000000055511151231257827"})
    );
    assert_eq!(
        bulk["yes"],
        json!({"type": "java.lang.Boolean", "value": true})
    );
    assert_eq!(bulk["arr"], json!({"type": "[J", "value": "long[3]"}));
    // A class the replay cannot rebuild comes back as its string.
    assert_eq!(
        bulk["on"],
        json!({"type": "java.lang.String", "value": "a:b=c"})
    );
    assert_eq!(bulk["inf"]["value"], "-Infinity");
}
