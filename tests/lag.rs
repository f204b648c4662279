//! Consumer-group lag against the lab's real KRaft broker, checked against
//! Kafka's own `kafka-consumer-groups --describe` of the same version.
mod common;

use std::collections::{BTreeSet, HashMap};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::lab::{self, Broker, KafkaLine};
use ksbridge::lag::{
    self, Collector, CollectorSettings, Isolation, LagMonitor, LagReport, PartitionLag, Selection,
    Status,
};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

const T: Duration = Duration::from_secs(30);
const LINE: KafkaLine = KafkaLine::V4;

fn producer(b: &Broker, extra: &[(&str, &str)]) -> BaseProducer {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", b.bootstrap())
        .set("linger.ms", "0");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.create().expect("producer")
}

/// Writes `n` records to each (partition, n), timestamps `ts_ms` if given.
fn produce(b: &Broker, topic: &str, counts: &[(i32, usize)], ts_ms: Option<i64>) {
    let p = producer(b, &[]);
    for &(part, n) in counts {
        for i in 0..n {
            let v = format!("v{i}");
            let mut r = BaseRecord::to(topic).partition(part).key("k").payload(&v);
            if let Some(ts) = ts_ms {
                r = r.timestamp(ts);
            }
            p.send(r).map_err(|(e, _)| e).expect("send");
        }
    }
    p.flush(T).expect("flush");
}

fn consumer(b: &Broker, group: &str, isolation: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", b.bootstrap())
        .set("group.id", group)
        .set("client.id", format!("{group}-client"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", isolation)
        .create()
        .expect("consumer")
}

/// Commit `offsets` for `group` with a consumer that never joins (assign mode).
fn commit(b: &Broker, group: &str, topic: &str, offsets: &[(i32, i64)]) {
    let c = consumer(b, group, "read_uncommitted");
    let mut tpl = TopicPartitionList::new();
    for &(p, o) in offsets {
        tpl.add_partition_offset(topic, p, Offset::Offset(o))
            .unwrap();
    }
    // Right after the broker starts, the offsets topic may not have a leader yet.
    lab::wait_until("an offset commit to succeed", T, || {
        c.commit(&tpl, CommitMode::Sync).ok()
    });
}

/// A subscribed consumer that polls until it owns `partitions` partitions of `topic`.
fn member(b: &Broker, group: &str, topic: &str, partitions: usize) -> BaseConsumer {
    let c = consumer(b, group, "read_uncommitted");
    c.subscribe(&[topic]).expect("subscribe");
    lab::wait_until("the consumer's assignment", T, || {
        let _ = c.poll(Duration::from_millis(100));
        let a = c.assignment().ok()?;
        (a.count() == partitions).then_some(())
    });
    c
}

fn ksbridge(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ksbridge"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ksbridge");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "ksbridge {args:?} hung:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The rows of `kafka-consumer-groups --describe --group G`, as words.
fn tool_describe(b: &Broker, group: &str) -> Vec<Vec<String>> {
    let out = lab::kafka_tool_ok(
        b.line(),
        "consumer-groups",
        &[
            "--bootstrap-server",
            b.bootstrap(),
            "--describe",
            "--group",
            group,
        ],
    );
    rows(&out, group)
}

fn rows(text: &str, group: &str) -> Vec<Vec<String>> {
    let mut r: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|w| w.first().map(String::as_str) == Some(group))
        .collect();
    r.sort();
    r
}

fn collector(b: &Broker, window: usize) -> Collector {
    let settings = CollectorSettings {
        window,
        ..CollectorSettings::default()
    };
    Collector::new(lag::client_config(b.bootstrap(), &[]), T, settings).expect("collector")
}

fn only(group: &str) -> Selection {
    Selection {
        groups: BTreeSet::from([group.to_string()]),
        ..Selection::default()
    }
}

fn part<'a>(r: &'a LagReport, group: &str, p: i32) -> &'a PartitionLag {
    r.groups
        .iter()
        .find(|g| g.group == group)
        .unwrap_or_else(|| panic!("group {group} in {r:#?}"))
        .partitions
        .iter()
        .find(|x| x.partition == p)
        .unwrap_or_else(|| panic!("partition {p} of {group} in {r:#?}"))
}

#[test]
fn plain_group_matches_kafka_consumer_groups() {
    plain_group_matches(KafkaLine::V4);
}

#[test]
fn plain_group_matches_kafka_consumer_groups_3_9() {
    plain_group_matches(KafkaLine::V3_9);
}

fn plain_group_matches(line: KafkaLine) {
    let b = Broker::shared(line);
    let topic = lab::unique("lag-plain");
    let group = lab::unique("g-plain");
    lab::create_topic(b, &topic, 3);
    produce(b, &topic, &[(0, 50), (1, 30), (2, 10)], None);
    // A live member owns all three partitions; offsets committed on two.
    let m = member(b, &group, &topic, 3);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Offset(20))
        .unwrap();
    tpl.add_partition_offset(&topic, 1, Offset::Offset(30))
        .unwrap();
    m.commit(&tpl, CommitMode::Sync).expect("commit");

    let tool = tool_describe(b, &group);
    let out = ksbridge(&[
        "lag",
        "--bootstrap-server",
        b.bootstrap(),
        "--group",
        &group,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let ours: Vec<Vec<String>> = rows(&text, &group)
        .into_iter()
        .map(|r| r[..9].to_vec())
        .collect();
    assert_eq!(tool.len(), 3, "tool output: {tool:?}");
    assert_eq!(ours, tool, "ksbridge:\n{text}");
    // The numbers themselves, not just agreement.
    let p0 = tool.iter().find(|r| r[2] == "0").unwrap();
    assert_eq!(&p0[3..6], &["20", "50", "30"]);
    let p2 = tool.iter().find(|r| r[2] == "2").unwrap();
    assert_eq!(&p2[3..6], &["-", "10", "-"], "no commit: no value");
    assert!(p0[6].starts_with(&format!("{group}-client")) || p0[8] == format!("{group}-client"));

    // JSON: no lag value where nothing was committed (null, not 0).
    let out = ksbridge(&[
        "lag",
        "--bootstrap-server",
        b.bootstrap(),
        "--group",
        &group,
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let parts = v["groups"][0]["partitions"].as_array().unwrap();
    let p2 = parts.iter().find(|p| p["partition"] == 2).unwrap();
    assert!(p2["lag"].is_null() && p2["committed"].is_null(), "{p2}");
    assert_eq!(v["groups"][0]["lag"], 30);
    drop(m);
}

#[test]
fn exactly_once_caught_up_is_zero_where_the_tool_shows_one() {
    exactly_once_caught_up(KafkaLine::V4);
}

#[test]
fn exactly_once_caught_up_is_zero_where_the_tool_shows_one_3_9() {
    exactly_once_caught_up(KafkaLine::V3_9);
}

fn exactly_once_caught_up(line: KafkaLine) {
    let b = Broker::shared(line);
    let topic = lab::unique("lag-eos");
    let group = lab::unique("g-eos");
    lab::create_topic(b, &topic, 2);
    let p = producer(b, &[("transactional.id", &lab::unique("txn"))]);
    p.init_transactions(T).expect("init");
    for round in 0..2 {
        p.begin_transaction().expect("begin");
        for part in 0..2 {
            for i in 0..5 {
                let v = format!("{round}-{i}");
                p.send(BaseRecord::to(&topic).partition(part).key("k").payload(&v))
                    .map_err(|(e, _)| e)
                    .expect("send");
            }
        }
        p.commit_transaction(T).expect("commit txn");
    }
    // 2 x (5 records + 1 marker) per partition: HW 12. A read_committed
    // consumer reads all 10 records and commits after the last one (offset
    // 10 + the marker before it = 11), as Kafka Streams does.
    let c = consumer(b, &group, "read_committed");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Beginning)
        .unwrap();
    tpl.add_partition_offset(&topic, 1, Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let mut last: HashMap<i32, i64> = HashMap::new();
    let mut n = 0;
    lab::wait_until("10 committed records per partition", T, || {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            use rdkafka::Message;
            last.insert(m.partition(), m.offset());
            n += 1;
        }
        (n == 20).then_some(())
    });
    let mut commit = TopicPartitionList::new();
    for (p, o) in &last {
        commit
            .add_partition_offset(&topic, *p, Offset::Offset(o + 1))
            .unwrap();
    }
    c.commit(&commit, CommitMode::Sync).unwrap();

    let tool = tool_describe(b, &group);
    assert_eq!(tool.len(), 2);
    for r in &tool {
        assert_eq!(
            &r[3..6],
            &["11", "12", "1"],
            "the tool's permanent lag 1: {r:?}"
        );
    }
    for iso in ["read_committed", "read_uncommitted"] {
        let out = ksbridge(&[
            "lag",
            "--bootstrap-server",
            b.bootstrap(),
            "--group",
            &group,
            "--isolation",
            iso,
            "--json",
        ]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        for p in v["groups"][0]["partitions"].as_array().unwrap() {
            assert_eq!(p["committed"], 11);
            assert_eq!(p["end"], 12);
            assert_eq!(p["stable"], 12);
            assert_eq!(p["offset_lag"], 1);
            assert_eq!(p["lag"], 0, "{iso}: {p}");
            assert_eq!(p["lag_seconds"], 0.0);
        }
    }
    // An open transaction: the LSO stays behind the HW; read_committed lag
    // counts up to the LSO only.
    p.begin_transaction().expect("begin");
    for i in 0..3 {
        let v = format!("open-{i}");
        p.send(BaseRecord::to(&topic).partition(0).key("k").payload(&v))
            .map_err(|(e, _)| e)
            .expect("send");
    }
    p.flush(T).expect("flush");
    let mut col = collector(b, 3);
    col.settings_mut()
        .isolation
        .insert(group.clone(), Isolation::ReadCommitted);
    let r = lab::wait_until("the open transaction's range read", T, || {
        let r = col.cycle(&only(&group)).expect("cycle");
        part(&r, &group, 0).probed.then_some(r)
    });
    let p0 = part(&r, &group, 0);
    assert_eq!((p0.end, p0.stable), (Some(15), Some(12)), "{p0:?}");
    assert_eq!(p0.lag, Some(0));
    p.abort_transaction(T).expect("abort");
    // Aborted records and the abort marker are no lag for a read_committed group.
    // (A read that misses the cycle's time budget on a loaded machine is
    // retried on the next cycle; until then the lag is counted in offsets.)
    let r = lab::wait_until("LSO past the aborted transaction, range read", T, || {
        let r = col.cycle(&only(&group)).expect("cycle");
        let p0 = part(&r, &group, 0);
        (p0.stable == Some(16) && p0.probed).then_some(r)
    });
    let p0 = part(&r, &group, 0);
    assert_eq!((p0.offset_lag, p0.lag), (Some(5), Some(0)), "{p0:?}");
}

#[test]
fn stop_stall_rewind_and_trend() {
    let b = Broker::shared(LINE);
    let topic = lab::unique("lag-status");
    lab::create_topic(b, &topic, 1);
    produce(b, &topic, &[(0, 40)], None);

    // STOP: committed with lag, nobody in the group.
    let stopped = lab::unique("g-stop");
    commit(b, &stopped, &topic, &[(0, 10)]);
    let mut col = collector(b, 3);
    let r = col.cycle(&only(&stopped)).unwrap();
    assert_eq!(part(&r, &stopped, 0).lag, Some(30));
    assert_eq!(part(&r, &stopped, 0).status, Status::Stop);
    assert_eq!(r.groups[0].status, Status::Stop);
    // --check fails for it, with the dedicated exit code.
    let out = ksbridge(&[
        "lag",
        "--bootstrap-server",
        b.bootstrap(),
        "--group",
        &stopped,
        "--check",
    ]);
    assert_eq!(out.status.code(), Some(6));

    // STALL: a live member owns the partition but the offset does not move.
    let stuck = lab::unique("g-stall");
    let m = member(b, &stuck, &topic, 1);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Offset(5))
        .unwrap();
    m.commit(&tpl, CommitMode::Sync).unwrap();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = col.cycle(&only(&stuck)).unwrap();
        statuses.push(part(&r, &stuck, 0).status);
    }
    assert_eq!(statuses, vec![Status::Ok, Status::Ok, Status::Stall]);

    // Catching up: the offset moves, lag shrinks: OK with a negative trend.
    let mut trend = None;
    for o in [15, 25, 35] {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Offset(o))
            .unwrap();
        m.commit(&tpl, CommitMode::Sync).unwrap();
        std::thread::sleep(Duration::from_millis(200)); // spread the observations in time
        let r = col.cycle(&only(&stuck)).unwrap();
        let p = part(&r, &stuck, 0);
        assert_eq!(p.status, Status::Ok);
        trend = Some(p.trend);
    }
    let trend = trend.unwrap();
    assert!(trend.records_per_second.unwrap() < 0.0, "{trend:?}");
    assert!(trend.seconds_to_zero.unwrap() > 0.0, "{trend:?}");
    drop(m);

    // REWIND: Kafka's own tool resets the stopped group to the earliest offset.
    let rewound = lab::unique("g-rewind");
    commit(b, &rewound, &topic, &[(0, 30)]);
    let r = col.cycle(&only(&rewound)).unwrap();
    assert_eq!(part(&r, &rewound, 0).status, Status::Stop);
    lab::kafka_tool_ok(
        LINE,
        "consumer-groups",
        &[
            "--bootstrap-server",
            b.bootstrap(),
            "--group",
            &rewound,
            "--reset-offsets",
            "--to-earliest",
            "--topic",
            &topic,
            "--execute",
        ],
    );
    let r = col.cycle(&only(&rewound)).unwrap();
    assert_eq!(part(&r, &rewound, 0).committed, Some(0));
    assert_eq!(part(&r, &rewound, 0).status, Status::Rewind);
}

#[test]
fn lag_seconds_from_record_time_and_truncated_log() {
    let b = Broker::shared(LINE);
    let topic = lab::unique("lag-secs");
    let group = lab::unique("g-secs");
    lab::create_topic(b, &topic, 1);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    produce(b, &topic, &[(0, 10)], Some(now - 120_000));
    produce(b, &topic, &[(0, 10)], Some(now - 60_000));
    commit(b, &group, &topic, &[(0, 12)]);
    let mut col = collector(b, 3);
    let r = col.cycle(&only(&group)).unwrap();
    let p = part(&r, &group, 0);
    assert_eq!(p.lag, Some(8));
    let s = p.lag_seconds.expect("seconds");
    assert!((60.0..70.0).contains(&s), "lag seconds {s}");
    // Seconds keep growing while the consumer does not move (idle producers).
    std::thread::sleep(Duration::from_millis(1100));
    let r = col.cycle(&only(&group)).unwrap();
    assert!(part(&r, &group, 0).lag_seconds.unwrap() >= s + 1.0);

    // Retention deleted records below 15: lag counts from the log start.
    let group2 = lab::unique("g-trunc");
    commit(b, &group2, &topic, &[(0, 2)]);
    let json = format!(
        r#"{{"partitions":[{{"topic":"{topic}","partition":0,"offset":15}}],"version":1}}"#
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), json).unwrap();
    lab::kafka_tool_ok(
        LINE,
        "delete-records",
        &[
            "--bootstrap-server",
            b.bootstrap(),
            "--offset-json-file",
            &file.path().display().to_string(),
        ],
    );
    let r = col.cycle(&only(&group2)).unwrap();
    let p = part(&r, &group2, 0);
    assert_eq!((p.start, p.end, p.committed), (Some(15), Some(20), Some(2)));
    assert!(p.truncated);
    assert_eq!((p.lag, p.offset_lag), (Some(5), Some(18)));
    let tool = tool_describe(b, &group2);
    assert_eq!(&tool[0][3..6], &["2", "20", "18"]);
}

#[test]
fn deleted_group_disappears_and_missing_groups_say_so() {
    let b = Broker::shared(LINE);
    let topic = lab::unique("lag-del");
    let group = lab::unique("g-del");
    lab::create_topic(b, &topic, 1);
    produce(b, &topic, &[(0, 5)], None);
    commit(b, &group, &topic, &[(0, 3)]);
    let prefix = group.clone();
    let pattern = Selection {
        pattern: Some(regex::Regex::new(&format!("^{}$", regex::escape(&prefix))).unwrap()),
        ..Selection::default()
    };
    let mut col = collector(b, 3);
    let r = col.cycle(&pattern).unwrap();
    assert_eq!(r.groups.len(), 1);
    assert_eq!(part(&r, &group, 0).lag, Some(2));
    lab::kafka_tool_ok(
        LINE,
        "consumer-groups",
        &[
            "--bootstrap-server",
            b.bootstrap(),
            "--delete",
            "--group",
            &group,
        ],
    );
    let r = col.cycle(&pattern).unwrap();
    assert!(r.groups.is_empty(), "{r:#?}");
    let r = col.cycle(&only(&group)).unwrap();
    assert!(r.groups.is_empty());
    assert_eq!(r.missing, vec![group.clone()]);
    let out = ksbridge(&[
        "lag",
        "--bootstrap-server",
        b.bootstrap(),
        "--group",
        &group,
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}

#[test]
fn librdkafka_settings_pass_through() {
    let b = Broker::shared(LINE);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        "# settings\nsocket.timeout.ms=5000\nno.such.setting=1\n",
    )
    .unwrap();
    let path = file.path().display().to_string();
    let args = [
        "lag",
        "--bootstrap-server",
        b.bootstrap(),
        "--all-groups",
        "--command-config",
        &path,
    ];
    let out = ksbridge(&args);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no.such.setting"), "{err}");
    // -X wins over the file; a valid set works.
    std::fs::write(file.path(), "socket.timeout.ms=5000\n").unwrap();
    let out = ksbridge(&[&args[..], &["-X", "client.id=ksbridge-test"]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unreachable_broker_fails_fast() {
    let port = lab::free_port();
    let addr = format!("127.0.0.1:{port}");
    let start = Instant::now();
    let out = ksbridge(&[
        "lag",
        "--bootstrap-server",
        &addr,
        "--group",
        "g",
        "--timeout",
        "2s",
    ]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broker"));
}

#[test]
fn monitor_recovers_when_the_broker_restarts() {
    let mut b = Broker::start(LINE);
    let topic = lab::unique("lag-restart");
    let group = lab::unique("g-restart");
    lab::create_topic(&b, &topic, 1);
    produce(&b, &topic, &[(0, 7)], None);
    commit(&b, &group, &topic, &[(0, 2)]);
    let mon = LagMonitor::start(
        lag::client_config(b.bootstrap(), &[]),
        Duration::from_secs(2),
        Duration::from_millis(300),
        Selection::default(),
        CollectorSettings::default(),
    )
    .unwrap();
    // Groups added at run time are measured from the next cycle on.
    mon.add_groups([group.clone()]);
    let lag_of = |m: &LagMonitor| {
        let s = m.latest();
        let r = s.report?;
        let g = r.groups.iter().find(|g| g.group == group)?;
        Some((s.success, g.lag))
    };
    assert_eq!(
        lab::wait_until("a first lag report", T, || lag_of(&mon)),
        (true, Some(5))
    );
    let fams = ksbridge::exposition::lag::families(
        &mon.latest().report.unwrap(),
        &HashMap::from([(group.clone(), group.clone())]),
    );
    assert!(fams
        .iter()
        .any(|f| f.name == "kafka_consumergroup_lag" && f.samples.iter().any(|s| s.value == 5.0)));

    b.stop();
    lab::wait_until("the monitor to notice the broker is down", T, || {
        let s = mon.latest();
        (!s.success).then_some(())
    });
    // The last good report is still served, getting older; reading never blocks.
    let t = Instant::now();
    let s = mon.latest();
    assert!(t.elapsed() < Duration::from_millis(50));
    assert!(s.report.is_some() && s.error.is_some());
    // (`ksbridge_scrape_success{source="lag"}` 0 follows from `!s.success`:
    // the scrape loop reports every source; see `source::lag`.)
    assert!(!s.success);

    b.restart();
    commit(&b, &group, &topic, &[(0, 4)]);
    lab::wait_until(
        "the monitor to recover",
        Duration::from_secs(60),
        || match lag_of(&mon) {
            Some((true, Some(3))) => Some(()),
            _ => None,
        },
    );
    assert!(mon.latest().age.unwrap() < Duration::from_secs(5));
    drop(mon);
}

/// After a broker restart the shared connections fail once and that cycle
/// falls back to one librdkafka client per group; those clients (threads
/// and sockets each) go as soon as the shared connections answer again, so
/// broker restarts do not leave clients behind.
#[test]
fn fallback_clients_go_when_shared_connections_answer() {
    let b = Broker::start(LINE);
    let topic = lab::unique("lag-fallback");
    let group = lab::unique("g-fallback");
    lab::create_topic(&b, &topic, 1);
    produce(&b, &topic, &[(0, 5)], None);
    commit(&b, &group, &topic, &[(0, 2)]);
    let client = lag::offsets::OffsetClient::new(
        lag::client_config(b.bootstrap(), &[]),
        Duration::from_secs(10),
    )
    .unwrap();
    let base = client.clients();
    let tp = lag::model::TopicPartition::new(&topic, 0);
    // The per-group path, as in a cycle whose shared connections failed.
    let r = client.committed_many(&[(group.clone(), vec![tp.clone()])]);
    assert_eq!(r[0].1.as_ref().unwrap().get(&tp), Some(&2));
    assert_eq!(client.clients(), base + 1, "the fallback keeps its client");
    let md = client.metadata().unwrap();
    let shared = client
        .committed_shared(&md.brokers, std::slice::from_ref(&group))
        .expect("a plaintext broker: the shared path applies");
    assert_eq!(shared[0].1.as_ref().unwrap().get(&tp), Some(&2));
    assert_eq!(client.clients(), base, "kept fallback clients dropped");
}

/// The lab's ZMart Streams app, fed by this test (no generator, so offsets
/// stand still once it caught up), compared with `kafka-consumer-groups`.
fn streams_app_matches_tool(eos: bool) {
    use common::lab::{AppOptions, StreamsApp};
    let b = Broker::shared(LINE);
    let app = StreamsApp::start(
        b,
        AppOptions {
            eos,
            generator: false,
            threads: 1,
            ..AppOptions::default()
        },
    );
    app.wait_for_state("RUNNING", Duration::from_secs(120));
    let group = app.app_id().to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let p = producer(b, &[]);
    let purchases = app.topic("purchases");
    let stocks = app.topic("stock-transactions");
    for i in 0..40 {
        let c = format!("C{:03}", i % 40);
        let v = format!(
            "{c}|{}-1234-5678-9012|electronics|tv|12.50|1|S{}|10052|{now}",
            4000 + i % 40,
            i % 8
        );
        p.send(BaseRecord::to(&purchases).key(&c[..]).payload(&v))
            .map_err(|(e, _)| e)
            .expect("send");
    }
    for i in 0..20 {
        let v = format!("ZMRT|buy|{}|{now}", i + 1);
        p.send(BaseRecord::to(&stocks).key("ZMRT").payload(&v))
            .map_err(|(e, _)| e)
            .expect("send");
    }
    p.flush(T).expect("flush");
    // Caught up by ksbridge's measure, and stable (no commit moved) for 3 s.
    let json = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec![
            "lag",
            "--bootstrap-server",
            b.bootstrap(),
            "--group",
            &group,
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = ksbridge(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json")
    };
    let mut last = String::new();
    let mut since = Instant::now();
    lab::wait_until(
        "the app to catch up and commit",
        Duration::from_secs(90),
        || {
            let v = json(&[]);
            let parts = v["groups"][0]["partitions"].as_array()?.clone();
            let caught_up = !parts.is_empty()
                && parts
                    .iter()
                    .all(|p| p["lag"] == 0 || p["committed"].is_null())
                && parts.iter().any(|p| p["topic"] == purchases.as_str());
            let key: String = parts
                .iter()
                .map(|p| format!("{}:{}:{} ", p["topic"], p["partition"], p["committed"]))
                .collect();
            if key != last || !caught_up {
                last = key;
                since = Instant::now();
                return None;
            }
            (since.elapsed() > Duration::from_secs(3)).then_some(())
        },
    );
    let tool = tool_describe(b, &group);
    let out = ksbridge(&[
        "lag",
        "--bootstrap-server",
        b.bootstrap(),
        "--group",
        &group,
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let ours = rows(&text, &group);
    assert_eq!(ours.len(), tool.len(), "tool {tool:?}\nours:\n{text}");
    let mut markers = 0;
    for (o, t) in ours.iter().zip(&tool) {
        // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET exactly as the tool.
        assert_eq!(&o[..5], &t[..5], "ours:\n{text}\ntool: {tool:?}");
        // CONSUMER-ID HOST CLIENT-ID.
        assert_eq!(&o[6..9], &t[6..9], "ours:\n{text}\ntool: {tool:?}");
        if t[3] == "-" {
            // No commit there: no value, on both sides.
            assert_eq!(o[5], "-", "{o:?}");
            continue;
        }
        assert_eq!(o[5], "0", "caught up: {o:?}");
        if t[5] == "1" {
            markers += 1;
        } else {
            assert_eq!(t[5], "0", "{t:?}");
        }
        assert_eq!(o[10], "OK", "{o:?}");
    }
    if !eos {
        assert_eq!(markers, 0, "{tool:?}");
    }
    // Under EOS the repartition topics carry commit markers. Kafka Streams 4.x
    // commits its consumer position once its buffers are drained, which is
    // past the marker, so the tool mostly shows 0 too; where it shows the
    // marker as lag 1 (`markers` rows), ksbridge shows 0 (asserted above).
    eprintln!("eos={eos}: partitions where the tool counted a marker as lag: {markers}");
}

#[test]
fn streams_app_at_least_once_matches_tool() {
    streams_app_matches_tool(false);
}

#[test]
fn streams_app_exactly_once_matches_tool_and_never_counts_markers() {
    streams_app_matches_tool(true);
}

/// Groups `prefix-NN`, each committed on a varying set of `topic`'s
/// partitions (group i: partitions 0..=i % partitions, offset i + p), the
/// last one also on `other` (a topic it is not assigned: manual commits).
fn many_groups(b: &Broker, prefix: &str, n: usize, topic: &str, other: &str, partitions: i32) {
    lab::create_topic(b, topic, partitions as u32);
    lab::create_topic(b, other, 1);
    let counts: Vec<(i32, usize)> = (0..partitions).map(|p| (p, 40)).collect();
    produce(b, topic, &counts, None);
    produce(b, other, &[(0, 5)], None);
    for i in 0..n {
        let group = format!("{prefix}-{i:02}");
        let offsets: Vec<(i32, i64)> = (0..=(i as i32 % partitions))
            .map(|p| (p, (i as i64 + p as i64) % 40))
            .collect();
        commit(b, &group, topic, &offsets);
        if i + 1 == n {
            commit(b, &group, other, &[(0, 2)]);
        }
    }
}

/// (group, topic, partition, committed, end) of one reported partition.
type Row = (String, String, i32, Option<i64>, Option<i64>);

/// Committed offsets per (group, topic, partition) of a report's groups
/// starting with `prefix`.
fn committed_of(r: &LagReport, prefix: &str) -> Vec<Row> {
    let mut v: Vec<_> = r
        .groups
        .iter()
        .filter(|g| g.group.starts_with(prefix))
        .flat_map(|g| {
            g.partitions.iter().map(|p| {
                (
                    g.group.clone(),
                    p.topic.clone(),
                    p.partition,
                    p.committed,
                    p.end,
                )
            })
        })
        .collect();
    v.sort();
    v
}

/// `ksbridge lag --all-groups` (committed offsets of every group over shared
/// connections) prints the same rows as `kafka-consumer-groups --describe
/// --all-groups`, and the same offsets as the one-client-per-group path.
#[test]
fn all_groups_one_shot_matches_tool_and_the_client_per_group_path() {
    let b = Broker::shared(LINE);
    let prefix = lab::unique("g-many");
    let topic = lab::unique("lag-many");
    let other = lab::unique("lag-many-other");
    let n = 24;
    many_groups(b, &prefix, n, &topic, &other, 4);

    let t = Instant::now();
    let text = lab::kafka_tool_ok(
        b.line(),
        "consumer-groups",
        &[
            "--bootstrap-server",
            b.bootstrap(),
            "--describe",
            "--all-groups",
        ],
    );
    let tool_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let out = ksbridge(&["lag", "--bootstrap-server", b.bootstrap(), "--all-groups"]);
    let ours_s = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours_text = String::from_utf8_lossy(&out.stdout);
    let pick = |text: &str| -> Vec<Vec<String>> {
        let mut r: Vec<Vec<String>> = text
            .lines()
            .map(|l| {
                l.split_whitespace()
                    .take(9)
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .filter(|w| w.first().is_some_and(|g| g.starts_with(&prefix)))
            .collect();
        r.sort();
        r
    };
    let (tool, ours) = (pick(&text), pick(&ours_text));
    // 24 groups: 1 + 2 + 3 + 4 partitions each, six times, plus one manual commit.
    assert_eq!(tool.len(), 6 * 10 + 1, "tool:\n{text}");
    assert_eq!(ours, tool, "ksbridge:\n{ours_text}");
    eprintln!("one-shot --all-groups: ksbridge {ours_s:.2}s, kafka-consumer-groups {tool_s:.2}s, ratio {:.2}", ours_s / tool_s);

    // The fallback path (one librdkafka client per group) reads the same offsets.
    let sel = Selection {
        pattern: Some(regex::Regex::new(&format!("^{}-", regex::escape(&prefix))).unwrap()),
        ..Selection::default()
    };
    let shared = collector(b, 3).cycle(&sel).expect("shared cycle");
    let settings = CollectorSettings {
        client_per_group: true,
        ..CollectorSettings::default()
    };
    let mut per_group =
        Collector::new(lag::client_config(b.bootstrap(), &[]), T, settings).expect("collector");
    let fallback = per_group.cycle(&sel).expect("per-group cycle");
    assert_eq!(shared.groups.len(), n);
    assert_eq!(
        committed_of(&shared, &prefix),
        committed_of(&fallback, &prefix)
    );
}

/// Two `serve` replicas with `--lag.shard 0/2` and `1/2` against one broker:
/// every group measured by exactly one of them, the one its hash names.
#[test]
fn two_lag_shards_cover_every_group_exactly_once() {
    let b = Broker::shared(LINE);
    let prefix = lab::unique("g-shard");
    let topic = lab::unique("lag-shard");
    let other = lab::unique("lag-shard-other");
    let n = 16;
    many_groups(b, &prefix, n, &topic, &other, 2);
    let all: BTreeSet<String> = (0..n).map(|i| format!("{prefix}-{i:02}")).collect();
    let pattern = format!("^{}-", regex::escape(&prefix));
    let replicas: Vec<common::serve::Serve> = ["0/2", "1/2"]
        .iter()
        .map(|shard| {
            common::serve::Serve::start(&[
                "--discovery",
                "false",
                "--kafka.bootstrap-servers",
                b.bootstrap(),
                "--lag.group.match",
                &pattern,
                "--lag.shard",
                shard,
                "--lag.interval",
                "1s",
            ])
        })
        .collect();
    let groups_of = |s: &common::serve::Serve| -> Option<BTreeSet<String>> {
        let text = s.get_text("/metrics").filter(|(code, _)| *code == 200)?.1;
        let found: BTreeSet<String> = text
            .lines()
            .filter(|l| l.starts_with("kafka_consumergroup_lag_sum{"))
            .filter_map(|l| {
                l.split("group=\"")
                    .nth(1)?
                    .split('"')
                    .next()
                    .map(str::to_string)
            })
            .filter(|g| g.starts_with(&prefix))
            .collect();
        Some(found)
    };
    let seen = lab::wait_until(
        "both shards to report their groups",
        Duration::from_secs(60),
        || {
            let a = groups_of(&replicas[0])?;
            let b = groups_of(&replicas[1])?;
            (a.len() + b.len() >= n).then_some((a, b))
        },
    );
    let (zero, one) = seen;
    assert!(
        zero.is_disjoint(&one),
        "measured twice: {:?}",
        zero.intersection(&one).collect::<Vec<_>>()
    );
    let union: BTreeSet<String> = zero.union(&one).cloned().collect();
    assert_eq!(union, all, "shard 0 log:\n{}", replicas[0].log());
    assert!(!zero.is_empty() && !one.is_empty(), "{zero:?} / {one:?}");
    for g in &zero {
        assert_eq!(lag::Shard::of(g, 2), 0, "{g}");
    }
    for g in &one {
        assert_eq!(lag::Shard::of(g, 2), 1, "{g}");
    }
    drop(replicas);
}
