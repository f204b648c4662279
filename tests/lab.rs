//! Tests of the lab itself: the KRaft broker (transactions, restart, Kafka's CLI tools) under
//! both Kafka lines, the Kafka Streams demo app and the MBean capture tool.
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use common::lab::{self, AppOptions, Broker, KafkaLine, OnFailure, StreamsApp};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::Message;

const T: Duration = Duration::from_secs(30);
/// Time for an app JVM to reach RUNNING or a state change; generous, the CI machine is small.
const APP_T: Duration = Duration::from_secs(120);

fn transactional_producer(broker: &Broker, txn_id: &str) -> BaseProducer {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("transactional.id", txn_id)
        .create()
        .expect("creating a producer");
    p.init_transactions(T).expect("init_transactions");
    p
}

fn send(p: &BaseProducer, topic: &str, value: &str) {
    p.send(BaseRecord::to(topic).key("k").payload(value))
        .map_err(|(e, _)| e)
        .expect("send");
}

/// Reads every value of `topic` (one partition) visible under `isolation`, until `n` arrive.
fn read_values(broker: &Broker, topic: &str, isolation: &str, n: usize) -> Vec<String> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", lab::unique("lab-read"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .create()
        .expect("creating a consumer");
    c.subscribe(&[topic]).expect("subscribe");
    let mut values = Vec::new();
    lab::wait_until(&format!("{n} {isolation} records from {topic}"), T, || {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            values.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
        (values.len() >= n).then_some(())
    });
    // Anything beyond n that is already there would be a bug in the isolation level.
    while let Some(Ok(m)) = c.poll(Duration::from_millis(500)) {
        values.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
    }
    values
}

fn transactions_work(line: KafkaLine) {
    let broker = Broker::shared(line);
    let topic = lab::unique("lab-txn");
    lab::create_topic(broker, &topic, 1);
    let p = transactional_producer(broker, &lab::unique("lab-txn-id"));
    p.begin_transaction().expect("begin");
    send(&p, &topic, "committed-1");
    send(&p, &topic, "committed-2");
    p.commit_transaction(T).expect("commit");
    p.begin_transaction().expect("begin");
    send(&p, &topic, "aborted");
    p.flush(T).expect("flush");
    p.abort_transaction(T).expect("abort");
    p.begin_transaction().expect("begin");
    send(&p, &topic, "committed-3");
    p.commit_transaction(T).expect("commit");

    let committed = read_values(broker, &topic, "read_committed", 3);
    assert_eq!(committed, ["committed-1", "committed-2", "committed-3"]);
    let uncommitted = read_values(broker, &topic, "read_uncommitted", 4);
    assert_eq!(
        uncommitted,
        ["committed-1", "committed-2", "aborted", "committed-3"]
    );
    // Kafka's own tools see the same log: 4 records + 2 commit markers + 1 abort marker.
    let offsets = lab::kafka_tool_ok(
        line,
        "get-offsets",
        &["--bootstrap-server", broker.bootstrap(), "--topic", &topic],
    );
    assert_eq!(
        offsets.trim(),
        format!("{topic}:0:7"),
        "GetOffsetShell output"
    );
}

#[test]
fn broker_4_transactions_and_read_committed() {
    transactions_work(KafkaLine::V4);
}

#[test]
fn broker_3_9_transactions_and_read_committed() {
    transactions_work(KafkaLine::V3_9);
}

/// A restarted broker keeps its ports, topics, records and committed group offsets.
fn restart_keeps_data(line: KafkaLine) {
    let mut broker = Broker::start(line);
    let bootstrap = broker.bootstrap().to_owned();
    let topic = lab::unique("lab-restart");
    let group = lab::unique("lab-group");
    lab::create_topic(&broker, &topic, 2);
    let produced = lab::kafka_tool_with_input(
        line,
        "console-producer",
        &["--bootstrap-server", &bootstrap, "--topic", &topic],
        "a\nb\nc\n",
    );
    assert!(produced.status.success(), "{produced:?}");
    let consumed = lab::kafka_tool_ok(
        line,
        "console-consumer",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--topic",
            &topic,
            "--group",
            &group,
            "--from-beginning",
            "--max-messages",
            "3",
            "--timeout-ms",
            "20000",
        ],
    );
    assert_eq!(
        consumed.lines().count(),
        3,
        "console-consumer read: {consumed}"
    );
    let first_pid = broker.pid();

    broker.restart();
    assert_eq!(broker.bootstrap(), bootstrap);
    assert_ne!(broker.pid(), first_pid);
    let described = lab::kafka_tool_ok(
        line,
        "consumer-groups",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--describe",
            "--group",
            &group,
        ],
    );
    let committed: u64 = described
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some(topic.as_str()))
        .map(|l| {
            l.split_whitespace()
                .nth(3)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("CURRENT-OFFSET in {l}"))
        })
        .sum();
    assert_eq!(
        committed, 3,
        "committed offsets after restart:\n{described}"
    );
    assert!(broker.log().contains("Kafka Server started"), "broker log");
    let dir = broker.dir().to_owned();
    drop(broker);
    assert!(!dir.exists(), "data directory left behind");
}

#[test]
fn broker_4_restart_keeps_data() {
    restart_keeps_data(KafkaLine::V4);
}

#[test]
fn broker_3_9_restart_keeps_data() {
    restart_keeps_data(KafkaLine::V3_9);
}

// ---------------------------------------------------------------------------------------
// The demo app and its MBeans

/// The kind of a bean: `<domain>:type=<type>` plus its sorted tag keys (values vary per run),
/// as tests/fixtures/analyze.py computes it.
fn kind(name: &str) -> String {
    let (domain, props) = name.split_once(':').expect("an ObjectName has a domain");
    let mut tags = Vec::new();
    let mut typ = "";
    let mut start = 0;
    let mut quoted = false;
    let mut parts = Vec::new();
    for (i, c) in props.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&props[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&props[start..]);
    for p in parts {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        if k == "type" {
            typ = v;
        } else {
            tags.push(k);
        }
    }
    tags.sort_unstable();
    let mut k = format!("{domain}:type={typ}");
    for t in tags {
        k.push(',');
        k.push_str(t);
    }
    k
}

fn beans(capture: &Value) -> &Vec<Value> {
    capture["beans"].as_array().expect("beans array")
}

fn kinds(capture: &Value) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for b in beans(capture) {
        *m.entry(kind(b["name"].as_str().expect("bean name")))
            .or_insert(0) += 1;
    }
    m
}

/// The numeric values of `attr` over the beans whose name contains every one of `parts`.
fn numbers(capture: &Value, parts: &[&str], attr: &str) -> Vec<f64> {
    beans(capture)
        .iter()
        .filter(|b| {
            let n = b["name"].as_str().unwrap_or("");
            parts.iter().all(|p| n.contains(p))
        })
        .filter_map(|b| b["attributes"][attr]["value"].as_f64())
        .collect()
}

/// Checks a capture against the value rules of the capture format (tests/fixtures/README.md).
fn assert_capture_format(capture: &Value) {
    assert_eq!(capture["format"], "ksbridge-capture/1");
    assert!(capture["captured_at_ms"].as_u64().is_some_and(|t| t > 0));
    assert!(capture["source"]["pid"].as_u64().is_some());
    let names: Vec<&str> = beans(capture)
        .iter()
        .map(|b| b["name"].as_str().expect("bean name"))
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "beans sorted by name");
    for b in beans(capture) {
        let name = b["name"].as_str().unwrap_or("");
        assert!(b["class"].is_string(), "{name}: class");
        for (attr, a) in b["attributes"].as_object().expect("attributes object") {
            let what = format!("{name} {attr}: {a}");
            assert!(a.get("declared").is_some(), "{what}");
            if let Some(e) = a.get("error") {
                assert!(e.as_str().is_some_and(|e| e.contains(": ")), "{what}");
                assert!(
                    a.get("value").is_none() && a.get("type").is_none(),
                    "{what}"
                );
                continue;
            }
            let (t, v) = (&a["type"], &a["value"]);
            let Some(t) = t.as_str() else {
                assert!(t.is_null() && v.is_null(), "{what}");
                continue;
            };
            if a.get("enum") == Some(&Value::Bool(true)) {
                assert!(v.is_string(), "{what}");
                continue;
            }
            match t {
                "java.lang.Double" | "java.lang.Float" => assert!(
                    v.is_f64()
                        || v.is_i64()
                        || v.is_u64()
                        || ["NaN", "Infinity", "-Infinity"].contains(&v.as_str().unwrap_or("")),
                    "{what}"
                ),
                "java.lang.Integer" | "java.lang.Long" | "java.lang.Short" | "java.lang.Byte" => {
                    assert!(v.is_i64() || v.is_u64(), "{what}")
                }
                "java.math.BigInteger" | "java.math.BigDecimal" => assert!(
                    v.as_str().is_some_and(|s| s.parse::<f64>().is_ok()),
                    "{what}"
                ),
                "java.lang.Boolean" => assert!(v.is_boolean(), "{what}"),
                t if t.starts_with('[') => {
                    assert!(v.as_str().is_some_and(|s| s.ends_with(']')), "{what}")
                }
                _ => assert!(v.is_string(), "{what}"),
            }
        }
    }
}

#[test]
fn fixtures_follow_the_capture_format() {
    let dir = lab::repo_root().join("tests/fixtures/captures");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("tests/fixtures/captures") {
        let path = e.expect("dir entry").path();
        if path.extension().is_some_and(|x| x == "json") {
            let text = std::fs::read_to_string(&path).expect("reading a capture");
            let capture: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_capture_format(&capture);
            n += 1;
        }
    }
    assert_eq!(n, 6, "six captures in {}", dir.display());
}

/// Bean kinds the demo app registers at every recording level under both Kafka lines
/// (measured: tests/fixtures/README.md).
const INFO_KINDS: &[&str] = &[
    "kafka.streams:type=stream-metrics,client-id",
    "kafka.streams:type=stream-thread-metrics,thread-id",
    "kafka.streams:type=stream-task-metrics,task-id,thread-id",
    "kafka.streams:type=stream-processor-node-metrics,processor-node-id,task-id,thread-id",
    "kafka.streams:type=stream-topic-metrics,processor-node-id,task-id,thread-id,topic",
    "kafka.streams:type=stream-state-metrics,rocksdb-state-id,task-id,thread-id",
    "kafka.streams:type=stream-state-metrics,rocksdb-window-state-id,task-id,thread-id",
    "kafka.streams:type=stream-state-metrics,in-memory-state-id,task-id,thread-id",
    "kafka.streams:type=stream-state-metrics,in-memory-suppression-state-id,task-id,thread-id",
    // Registered at INFO too (values only at DEBUG).
    "kafka.streams:type=stream-record-cache-metrics,record-cache-id,task-id,thread-id",
    // The state updater (restoration off the stream threads) is on in 3.9 and 4.x.
    "kafka.streams:type=stream-state-updater-metrics,thread-id",
    "kafka.consumer:type=consumer-fetch-manager-metrics,client-id",
    "kafka.consumer:type=consumer-fetch-manager-metrics,client-id,partition,topic",
    "kafka.consumer:type=consumer-coordinator-metrics,client-id",
    "kafka.producer:type=producer-metrics,client-id",
    "kafka.producer:type=producer-topic-metrics,client-id,topic",
    "kafka.admin.client:type=admin-client-metrics,client-id",
];

fn assert_kinds(capture: &Value, expected: &[&str], context: &str) {
    let have = kinds(capture);
    let missing: Vec<&&str> = expected
        .iter()
        .filter(|k| !have.contains_key(**k))
        .collect();
    assert!(
        missing.is_empty(),
        "{context}: bean kinds missing: {missing:?}\nfound: {:#?}",
        have.keys()
            .filter(|k| k.starts_with("kafka."))
            .collect::<Vec<_>>()
    );
}

/// The app reaches RUNNING, processes records, and its MBeans (captured by pid, no JMX flags)
/// cover the metric groups its recording level records.
fn app_runs(line: KafkaLine, eos: bool, level: &str) {
    let broker = Broker::shared(line);
    let app = StreamsApp::start(
        broker,
        AppOptions {
            eos,
            recording_level: level.to_owned(),
            ..AppOptions::default()
        },
    );
    let started = std::time::Instant::now();
    app.wait_for_state("RUNNING", APP_T);
    eprintln!(
        "Kafka {line} {level} eos={eos}: app RUNNING {} ms after start",
        started.elapsed().as_millis()
    );
    let threads = app.wait_for_line("THREADS ", T);
    assert_eq!(
        threads.matches("-StreamThread-").count(),
        2,
        "two stream threads: {threads}"
    );
    app.wait_processed(200, APP_T);
    let capture = app.capture(&[]);
    assert_capture_format(&capture);
    let context = format!("Kafka {line} {level} eos={eos}");
    assert_eq!(
        capture["source"]["kafka_version"].as_str(),
        Some(line.version().as_str()),
        "{context}"
    );
    let mut expected = INFO_KINDS.to_vec();
    if line == KafkaLine::V4 {
        // 4.x: client-state, recording-level and thread-state carry a process-id tag.
        expected.extend([
            "kafka.streams:type=stream-metrics,client-id,process-id",
            "kafka.streams:type=stream-thread-metrics,process-id,thread-id",
        ]);
    }
    assert_kinds(&capture, &expected, &context);

    // Values, not just names: the client state, thread counts, records processed.
    let state = beans(&capture)
        .iter()
        .find(|b| {
            kind(b["name"].as_str().unwrap_or("")) == "kafka.streams:type=stream-metrics,client-id"
        })
        .map(|b| b["attributes"]["state"].clone())
        .expect("a stream-metrics bean with state");
    assert_eq!(state["value"], "RUNNING", "{context}: {state}");
    // 3.9 registers the KafkaStreams.State enum object itself; 4.x registers its name.
    match line {
        KafkaLine::V3_9 | KafkaLine::V3_4 => {
            assert_eq!(state["enum"], true, "{context}: {state}");
            assert_eq!(
                state["type"], "org.apache.kafka.streams.KafkaStreams$State",
                "{context}"
            );
        }
        KafkaLine::V4 => assert_eq!(state["type"], "java.lang.String", "{context}: {state}"),
    }
    assert_eq!(
        numbers(&capture, &["type=stream-metrics"], "alive-stream-threads"),
        [2.0],
        "{context}"
    );
    let processed: f64 = numbers(&capture, &["type=stream-thread-metrics"], "process-total")
        .iter()
        .sum();
    assert!(processed > 0.0, "{context}: process-total {processed}");
    // DEBUG metrics are registered at every level but record values only at DEBUG and above.
    let task_process: f64 = numbers(
        &capture,
        &["type=stream-task-metrics", "task-id="],
        "process-total",
    )
    .iter()
    .sum();
    if level == "INFO" {
        assert_eq!(task_process, 0.0, "{context}: task process-total is DEBUG");
    } else {
        assert!(
            task_process > 0.0,
            "{context}: task process-total {task_process}"
        );
    }
    let txn = numbers(
        &capture,
        &["kafka.producer:type=producer-metrics", "StreamThread"],
        "txn-commit-time-ns-total",
    );
    if eos {
        assert!(
            txn.iter().any(|v| *v > 0.0),
            "{context}: stream thread producers commit transactions: {txn:?}"
        );
    } else {
        assert!(
            txn.iter().all(|v| *v == 0.0),
            "{context}: no transactions: {txn:?}"
        );
    }
}

#[test]
fn app_4_at_least_once_debug() {
    app_runs(KafkaLine::V4, false, "DEBUG");
}

#[test]
fn app_4_exactly_once_info() {
    app_runs(KafkaLine::V4, true, "INFO");
}

#[test]
fn app_3_9_at_least_once_debug() {
    app_runs(KafkaLine::V3_9, false, "DEBUG");
}

#[test]
fn app_3_9_exactly_once_info() {
    app_runs(KafkaLine::V3_9, true, "INFO");
}

fn stream_metric(app: &StreamsApp, attr: &str) -> Vec<f64> {
    let c = app.capture(&["kafka.streams:type=stream-metrics,*"]);
    numbers(&c, &["type=stream-metrics"], attr)
}

/// A processor throws after N records; REPLACE_THREAD starts StreamThread-3 in its place.
fn thread_failure_replaced(line: KafkaLine) {
    let broker = Broker::shared(line);
    let app = StreamsApp::start(
        broker,
        AppOptions {
            fail_after: Some(100),
            on_failure: OnFailure::ReplaceThread,
            ..AppOptions::default()
        },
    );
    let failed = app.wait_for_line("THREAD-FAILED ", APP_T);
    assert!(failed.contains("scripted failure"), "{failed}");
    // The failure may come before or after the first RUNNING; either way a later RUNNING
    // lists the replacement thread.
    let threads = lab::wait_until("a THREADS line with StreamThread-3", APP_T, || {
        app.run_log()
            .lines()
            .find(|l| l.starts_with("THREADS ") && l.contains("-StreamThread-3"))
            .map(str::to_owned)
    });
    assert_eq!(threads.matches("-StreamThread-").count(), 2, "{threads}");
    let failed_threads = lab::wait_until("failed-stream-threads = 1", T, || {
        let v = stream_metric(&app, "failed-stream-threads");
        (v == [1.0]).then_some(v)
    });
    assert_eq!(failed_threads, [1.0]);
    assert_eq!(stream_metric(&app, "alive-stream-threads"), [2.0]);
    let c = app.capture(&["kafka.streams:type=stream-thread-metrics,*"]);
    assert!(
        beans(&c).iter().any(|b| b["name"]
            .as_str()
            .unwrap_or("")
            .ends_with("-StreamThread-3")),
        "thread metrics of StreamThread-3"
    );
}

#[test]
fn app_4_thread_failure_replace_thread() {
    thread_failure_replaced(KafkaLine::V4);
}

#[test]
fn app_3_9_thread_failure_replace_thread() {
    thread_failure_replaced(KafkaLine::V3_9);
}

/// SHUTDOWN_CLIENT: the client goes PENDING_ERROR -> ERROR and stays there (the JVM lives on).
fn thread_failure_shuts_down(line: KafkaLine) {
    let broker = Broker::shared(line);
    let app = StreamsApp::start(
        broker,
        AppOptions {
            fail_after: Some(100),
            on_failure: OnFailure::ShutdownClient,
            threads: 1,
            ..AppOptions::default()
        },
    );
    app.wait_for_line("THREAD-FAILED ", APP_T);
    app.wait_for_state("PENDING_ERROR", APP_T);
    app.wait_for_state("ERROR", APP_T);
    assert!(app.is_running(), "the JVM outlives its KafkaStreams client");
    assert!(
        !app.run_log().contains("STATE RUNNING PENDING_ERROR"),
        "no recovery expected"
    );
}

#[test]
fn app_4_thread_failure_shutdown_client() {
    thread_failure_shuts_down(KafkaLine::V4);
}

#[test]
fn app_3_9_thread_failure_shutdown_client() {
    thread_failure_shuts_down(KafkaLine::V3_9);
}

/// Sums LAG over the partitions of `topic` in kafka-consumer-groups --describe output.
fn group_lag(broker: &Broker, group: &str, topic: &str) -> Option<u64> {
    let out = lab::kafka_tool(
        broker.line(),
        "consumer-groups",
        &[
            "--bootstrap-server",
            broker.bootstrap(),
            "--describe",
            "--group",
            group,
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lags: Vec<Option<u64>> = text
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some(topic))
        .map(|l| l.split_whitespace().nth(5).and_then(|v| v.parse().ok()))
        .collect();
    if lags.is_empty() || lags.iter().any(Option::is_none) {
        return None;
    }
    Some(lags.into_iter().flatten().sum())
}

/// Pausing makes the group's lag grow (as kafka-consumer-groups sees it) and resuming
/// drains it; a restart with wiped state restores the stores from their changelogs.
#[test]
fn app_4_pause_resume_and_restore_after_wipe() {
    let broker = Broker::shared(KafkaLine::V4);
    let mut app = StreamsApp::start(
        broker,
        AppOptions {
            threads: 1,
            rate: 100.0,
            ..AppOptions::default()
        },
    );
    app.wait_for_state("RUNNING", APP_T);
    app.wait_processed(300, APP_T);
    let purchases = app.topic("purchases");
    let group = app.app_id().to_owned();
    lab::wait_until("committed offsets on the purchases topic", T, || {
        group_lag(broker, &group, &purchases)
    });

    app.pause();
    let lag = lab::wait_until("lag > 100 while paused", T, || {
        group_lag(broker, &group, &purchases).filter(|l| *l > 100)
    });
    app.resume();
    lab::wait_until(&format!("lag below {lag} after resume"), T, || {
        group_lag(broker, &group, &purchases).filter(|l| *l < lag / 2)
    });

    app.restart(true);
    app.wait_for_line("STATE-WIPED", APP_T);
    app.wait_for_state("RUNNING", APP_T);
    let restored: u64 = app
        .run_log()
        .lines()
        .filter(|l| l.starts_with("RESTORE-END store=department-totals "))
        .filter_map(|l| l.rsplit("records=").next()?.parse::<u64>().ok())
        .sum();
    assert!(
        restored > 0,
        "department-totals restored from its changelog:\n{}",
        app.run_log()
    );
}
