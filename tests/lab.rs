//! Tests of the lab itself: the KRaft broker (transactions, restart, Kafka's CLI tools) under
//! both Kafka lines, the Kafka Streams demo app and the MBean capture tool.
mod common;

use std::time::Duration;

use common::lab::{self, Broker, KafkaLine};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::Message;

const T: Duration = Duration::from_secs(30);

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
