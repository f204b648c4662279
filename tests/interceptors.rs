//! ksbridge's producer and consumer interceptors (java-shim/interceptors) inside real clients
//! on both Kafka lines: a plain producer and consumer (the lab's ClientDriver, beside a
//! throwing neighbour interceptor) and the lab's Kafka Streams app. Counts, failures by
//! exception class, committed offsets against `kafka-consumer-groups --describe`, histogram
//! counts, log files from the shipped snippets, MBeans gone after close(), and the
//! `kafka_interceptor_*` families of `ksbridge serve` checked by promtool.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use common::lab::{
    self, create_topic, free_port, unique, wait_until, AppOptions, Broker, ClientDriver,
    DriverOptions, KafkaLine, StreamsApp,
};
use ksbridge::jmx::{Bean, Snapshot};

const WAIT: Duration = Duration::from_secs(90);
const PRODUCER: &str = "dev.ksbridge.interceptors.KsbridgeProducerInterceptor";
const CONSUMER: &str = "dev.ksbridge.interceptors.KsbridgeConsumerInterceptor";

/// The interceptor jar, built once per test process (scripts/build-interceptors.sh).
fn jar() -> PathBuf {
    static JAR: OnceLock<PathBuf> = OnceLock::new();
    JAR.get_or_init(|| {
        let out = Command::new("bash")
            .arg(lab::repo_root().join("scripts/build-interceptors.sh"))
            .stdin(Stdio::null())
            .output()
            .expect("running scripts/build-interceptors.sh");
        assert!(
            out.status.success(),
            "building the interceptor jar failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
    .clone()
}

fn snippet(name: &str) -> PathBuf {
    lab::repo_root()
        .join("java-shim/interceptors/snippets")
        .join(name)
}

/// Logging flags that add the shipped snippet for the line's logging backend (log4j2 in the
/// Kafka 4 lab, reload4j in 3.9), writing the interceptor logs to `dir`.
fn logging(line: KafkaLine, dir: &Path) -> Vec<String> {
    let mut flags = match line {
        KafkaLine::V4 => vec![format!(
            "-Dlog4j2.configurationFile=ksb-file-log4j2.xml,{}",
            snippet("log4j2-interceptors.xml").display()
        )],
        KafkaLine::V3_9 | KafkaLine::V3_4 => vec![format!(
            "-Dlog4j.configuration=file:{}",
            snippet("log4j-interceptors.properties").display()
        )],
    };
    flags.push(format!(
        "-Dksb.log.file={}",
        dir.join("kafka.log").display()
    ));
    flags.push(format!("-Dksbridge.interceptor.log.dir={}", dir.display()));
    flags
}

/// The interceptor beans of JVM `pid` (the lab's capture tool).
fn beans(line: KafkaLine, pid: u32) -> Snapshot {
    let v = lab::capture(line, pid, &["ksbridge.interceptors:*"]);
    Snapshot::from_capture_json(&v.to_string()).expect("capture parses")
}

/// Beans of `type` whose key properties include every `(key, value)` of `keys`.
fn find<'a>(s: &'a Snapshot, ty: &'a str, keys: &[(&str, &str)]) -> Vec<&'a Bean> {
    s.of_type("ksbridge.interceptors", ty)
        .filter(|b| keys.iter().all(|(k, v)| b.name.get(k) == Some(v)))
        .collect()
}

/// The sum of `attr` over the beans `find` returns.
fn total(s: &Snapshot, ty: &str, keys: &[(&str, &str)], attr: &str) -> f64 {
    find(s, ty, keys).iter().filter_map(|b| b.f64(attr)).sum()
}

/// CURRENT-OFFSET per partition of `topic` from Kafka's own `kafka-consumer-groups --describe`.
fn tool_offsets(broker: &Broker, group: &str, topic: &str) -> BTreeMap<u32, i64> {
    let out = lab::kafka_tool_ok(
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
    out.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.len() > 3 && w[0] == group && w[1] == topic)
        .filter_map(|w| Some((w[2].parse().ok()?, w[3].parse().ok()?)))
        .collect()
}

/// `committed-offset` per partition of `topic` from the consumer-partition beans.
fn bean_offsets(s: &Snapshot, client: Option<&str>, topic: &str) -> BTreeMap<u32, i64> {
    let mut keys = vec![("topic", topic)];
    if let Some(c) = client {
        keys.push(("client-id", c));
    }
    let mut m = BTreeMap::new();
    for b in find(s, "consumer-partition", &keys) {
        let (Some(p), Some(o)) = (
            b.name.get("partition").and_then(|p| p.parse().ok()),
            b.f64("committed-offset"),
        ) else {
            continue;
        };
        if o >= 0.0 {
            m.insert(p, o as i64);
        }
    }
    m
}

fn count_lines(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn plain_clients_kafka_4() {
    plain_clients(KafkaLine::V4);
}

#[test]
fn plain_clients_kafka_3_9() {
    plain_clients(KafkaLine::V3_9);
}

#[test]
fn streams_app_kafka_4() {
    streams_app(KafkaLine::V4);
}

#[test]
fn streams_app_kafka_3_9() {
    streams_app(KafkaLine::V3_9);
}

/// A plain producer and consumer with the interceptors (logging on) beside a throwing
/// neighbour: exact counts, a rejected record, committed offsets, logs, /metrics, close().
/// One long scenario on purpose: each step checks what the steps before it left behind (the
/// same clients' beans, logs and scrape), and starting the JVMs once keeps the test fast.
fn plain_clients(line: KafkaLine) {
    const N: u64 = 500;
    let broker = Broker::shared(line);
    let topic = unique("ic-orders");
    create_topic(broker, &topic, 3);
    let logs = tempfile::tempdir().expect("tempdir");
    let logged = [
        ("ksbridge.interceptor.log".to_string(), "true".to_string()),
        (
            "ksbridge.interceptor.log.max.per.second".into(),
            "100000".into(),
        ),
    ];
    let mut producer = vec![
        (
            "interceptor.classes".to_string(),
            format!("ksbridge.lab.NeighbourInterceptor,{PRODUCER}"),
        ),
        ("max.request.size".into(), "10000".into()),
        // Every send timed (the default samples one in four), so the count is exact.
        (
            "ksbridge.interceptor.latency.sample.every".into(),
            "1".into(),
        ),
    ];
    producer.extend(logged.iter().cloned());
    let mut consumer = vec![("interceptor.classes".to_string(), CONSUMER.to_string())];
    consumer.extend(logged.iter().cloned());
    let mut d = ClientDriver::start(
        broker,
        DriverOptions {
            producer,
            consumer,
            classpath_extra: vec![jar()],
            logging: Some(logging(line, logs.path())),
            ..Default::default()
        },
    );

    let reply = d.command(&format!("produce {topic} {N}"), "PRODUCED ", WAIT);
    assert!(reply.ends_with(&format!("acked={N} failed=0")), "{reply}");
    let reply = d.command(&format!("produce-big {topic} 20000"), "PRODUCED-BIG ", WAIT);
    assert!(
        reply.ends_with("failed=org.apache.kafka.common.errors.RecordTooLargeException"),
        "{reply}"
    );
    let reply = d.command(&format!("consume {topic} {N}"), "CONSUMED ", WAIT);
    assert!(reply.ends_with(&format!("records={N}")), "{reply}");

    // The beans: exact counts.
    let (pid, pid_s) = (d.pid(), d.producer_id());
    let cid = d.consumer_id();
    let s = beans(line, pid);
    let p = [("client-id", pid_s.as_str()), ("topic", topic.as_str())];
    let c = [("client-id", cid.as_str()), ("topic", topic.as_str())];
    assert_eq!(
        total(&s, "producer", &p, "records-sent-total"),
        (N + 1) as f64
    );
    assert_eq!(total(&s, "producer", &p, "records-acked-total"), N as f64);
    assert_eq!(
        total(&s, "producer", &p, "send-ack-latency-seconds-count"),
        N as f64
    );
    assert!(total(&s, "producer", &p, "send-ack-latency-seconds-sum") > 0.0);
    assert!(total(&s, "producer", &p, "bytes-acked-total") > (N * 50) as f64);
    let failures = find(&s, "producer-failure", &p);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(
        failures[0].name.get("exception"),
        Some("org.apache.kafka.common.errors.RecordTooLargeException")
    );
    assert_eq!(failures[0].f64("records-failed-total"), Some(1.0));
    assert_eq!(
        total(&s, "consumer", &c, "records-consumed-total"),
        N as f64
    );
    assert_eq!(
        total(&s, "consumer", &c, "record-age-seconds-count"),
        N as f64
    );
    assert!(total(&s, "consumer", &c, "bytes-consumed-total") > (N * 50) as f64);
    let client = [("client-id", pid_s.as_str())];
    assert_eq!(
        total(&s, "producer-client", &client, "internal-errors-total"),
        0.0
    );
    assert_eq!(
        total(&s, "producer-client", &client, "log-suppressed-total"),
        0.0
    );

    // Committed offsets seen by onCommit equal the broker's view.
    let from_beans = bean_offsets(&s, Some(&cid), &topic);
    let from_tool = tool_offsets(broker, d.group(), &topic);
    assert_eq!(from_beans, from_tool);
    assert_eq!(from_beans.values().sum::<i64>(), N as i64);

    // The log files the snippet configures: one line per call, no payloads.
    let plog = std::fs::read_to_string(logs.path().join("producer_interceptor.log"))
        .expect("producer_interceptor.log");
    assert_eq!(
        count_lines(&plog, &format!("send topic={topic} ")),
        N as usize + 1
    );
    assert_eq!(
        count_lines(&plog, &format!("acknowledged topic={topic} ")),
        N as usize
    );
    assert_eq!(
        count_lines(&plog, "RecordTooLargeException"),
        1,
        "failed line:\n{plog}"
    );
    assert!(!plog.contains("electronics"), "a value was logged");
    let clog = std::fs::read_to_string(logs.path().join("consumer_interceptor.log"))
        .expect("consumer_interceptor.log");
    let consumed: u64 = clog
        .lines()
        .filter(|l| l.contains(&format!("consumed topic={topic} ")))
        .filter_map(|l| {
            l.split("records=")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert_eq!(consumed, N);
    assert!(
        count_lines(&clog, &format!("committed {topic}-")) >= 1,
        "{clog}"
    );

    // ksbridge serve: the families, right values, and promtool accepts the scrape.
    {
        let serve = Serve::start(pid);
        let want = format!(
            "kafka_interceptor_producer_sent_records_total{{application_id=\"\",client_id=\"{pid_s}\",thread=\"\",kafka_client_id=\"{pid_s}\",topic=\"{topic}\",target=\"pid:{pid}\"}} {}",
            N + 1
        );
        let text = wait_until("the interceptor families in /metrics", WAIT, || {
            let t = serve.metrics();
            t.contains(&want).then_some(t)
        });
        for needle in [
            format!("kafka_interceptor_producer_send_ack_latency_seconds_count{{application_id=\"\",client_id=\"{pid_s}\",thread=\"\",kafka_client_id=\"{pid_s}\",topic=\"{topic}\",target=\"pid:{pid}\"}} {N}"),
            format!("kafka_interceptor_consumer_record_age_seconds_bucket{{application_id=\"\",client_id=\"{cid}\",thread=\"\",kafka_client_id=\"{cid}\",topic=\"{topic}\",target=\"pid:{pid}\",le=\"+Inf\"}} {N}"),
            format!("kafka_interceptor_consumer_consumed_records_total{{application_id=\"\",client_id=\"{cid}\",thread=\"\",kafka_client_id=\"{cid}\",topic=\"{topic}\",target=\"pid:{pid}\"}} {N}"),
            format!("exception=\"org.apache.kafka.common.errors.RecordTooLargeException\",target=\"pid:{pid}\"}} 1"),
            "# TYPE kafka_interceptor_producer_send_ack_latency_seconds histogram".to_string(),
            "kafka_interceptor_consumer_committed_offset{".to_string(),
        ] {
            assert!(text.contains(&needle), "missing {needle} in:\n{text}");
        }
        promtool(&text);
        let om = serve.get_openmetrics();
        assert!(om.contains("# TYPE kafka_interceptor_consumer_record_age_seconds histogram"));
        assert!(om.ends_with("# EOF\n"));
    }

    // close() unregisters every bean of the client.
    d.command("close-producer", "CLOSED producer", WAIT);
    let s = beans(line, pid);
    assert!(find(&s, "producer", &client).is_empty());
    assert!(find(&s, "producer-failure", &client).is_empty());
    assert!(find(&s, "producer-client", &client).is_empty());
    assert!(!find(&s, "consumer", &c).is_empty());
    d.command("close-consumer", "CLOSED consumer", WAIT);
    let s = beans(line, pid);
    assert!(
        s.beans.is_empty(),
        "beans left after close: {:?}",
        s.beans.iter().map(|b| b.name.as_str()).collect::<Vec<_>>()
    );
    drop(d);

    // Logging off (the default): the same snippet writes nothing.
    let quiet = tempfile::tempdir().expect("tempdir");
    let mut d = ClientDriver::start(
        broker,
        DriverOptions {
            producer: vec![("interceptor.classes".into(), PRODUCER.into())],
            consumer: vec![("interceptor.classes".into(), CONSUMER.into())],
            classpath_extra: vec![jar()],
            logging: Some(logging(line, quiet.path())),
            ..Default::default()
        },
    );
    let t2 = unique("ic-quiet");
    create_topic(broker, &t2, 1);
    d.command(&format!("produce {t2} 20"), "PRODUCED ", WAIT);
    d.command(&format!("consume {t2} 20"), "CONSUMED ", WAIT);
    let s = beans(line, d.pid());
    let pid_q = d.producer_id();
    assert_eq!(
        total(
            &s,
            "producer",
            &[("client-id", pid_q.as_str())],
            "records-acked-total"
        ),
        20.0
    );
    for f in ["producer_interceptor.log", "consumer_interceptor.log"] {
        let text = std::fs::read_to_string(quiet.path().join(f)).unwrap_or_default();
        assert!(text.is_empty(), "{f} with logging off:\n{text}");
    }
}

/// The lab's Kafka Streams app with the interceptors on its producers and main consumers:
/// a known number of purchases in, exact counts on the input and the masked output topic,
/// committed offsets equal to the broker's, and the families with the application id.
/// One scenario over one app run (starting a Streams app costs seconds).
fn streams_app(line: KafkaLine) {
    const N: u64 = 300;
    let broker = Broker::shared(line);
    let app = StreamsApp::start(
        broker,
        AppOptions {
            generator: false,
            classpath_extra: vec![jar()],
            extra: vec![
                ("producer.interceptor.classes".into(), PRODUCER.into()),
                ("main.consumer.interceptor.classes".into(), CONSUMER.into()),
            ],
            ..Default::default()
        },
    );
    app.wait_for_state("RUNNING", WAIT);
    let purchases = app.topic("purchases");
    let masked = app.topic("purchases-masked");
    let mut d = ClientDriver::start(broker, DriverOptions::default());
    let reply = d.command(&format!("produce {purchases} {N}"), "PRODUCED ", WAIT);
    assert!(reply.ends_with(&format!("acked={N} failed=0")), "{reply}");
    app.wait_processed(N, WAIT);

    let input = [("topic", purchases.as_str())];
    let output = [("topic", masked.as_str())];
    let s = wait_until("every masked record acknowledged", WAIT, || {
        let s = beans(line, app.pid());
        (total(&s, "producer", &output, "records-acked-total") >= N as f64).then_some(s)
    });
    assert_eq!(
        total(&s, "consumer", &input, "records-consumed-total"),
        N as f64
    );
    assert_eq!(
        total(&s, "consumer", &input, "record-age-seconds-count"),
        N as f64
    );
    assert_eq!(
        total(&s, "producer", &output, "records-sent-total"),
        N as f64
    );
    assert_eq!(
        total(&s, "producer", &output, "records-acked-total"),
        N as f64
    );
    // The default samples every 4th send of each producer and topic: an exact count too.
    let sampled: f64 = find(&s, "producer", &output)
        .iter()
        .filter_map(|b| b.f64("records-sent-total"))
        .map(|sent| (sent / 4.0).floor())
        .sum();
    assert_eq!(
        total(&s, "producer", &output, "send-ack-latency-seconds-count"),
        sampled
    );
    assert!(sampled >= (N / 4 - 1) as f64, "{sampled}");
    assert!(find(&s, "producer-failure", &[]).is_empty());
    for b in find(&s, "consumer", &input) {
        let id = b.name.get("client-id").unwrap_or_default();
        assert!(
            id.ends_with("-consumer") && id.contains("-StreamThread-"),
            "{id}"
        );
    }

    // Committed offsets (the app commits every second) equal the broker's view.
    let (from_beans, from_tool) = wait_until("onCommit offsets to match the broker", WAIT, || {
        let b = bean_offsets(&beans(line, app.pid()), None, &purchases);
        let t = tool_offsets(broker, app.app_id(), &purchases);
        (b.values().sum::<i64>() == N as i64 && b == t).then_some((b, t))
    });
    assert_eq!(from_beans.len(), 2);
    assert_eq!(from_beans, from_tool);

    let serve = Serve::start(app.pid());
    let app_label = format!("application_id=\"{}\"", app.app_id());
    let text = wait_until("the interceptor families in /metrics", WAIT, || {
        let t = serve.metrics();
        t.lines()
            .any(|l| {
                l.starts_with("kafka_interceptor_consumer_consumed_records_total{")
                    && l.contains(&app_label)
                    && l.contains("thread=\"StreamThread-1\"")
            })
            .then_some(t)
    });
    let consumed: f64 = text
        .lines()
        .filter(|l| {
            l.starts_with("kafka_interceptor_consumer_consumed_records_total{")
                && l.contains(&format!("topic=\"{purchases}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(consumed, N as f64);
    promtool(&text);
    drop(serve);
    status_and_top_show_them(&app, &purchases, &masked, &from_tool, sampled);
}

/// `ksbridge status` (JSON and screen) and `ksbridge top`'s drill-in show the
/// interceptors' figures of the Streams app: `N` records in and out.
fn status_and_top_show_them(
    app: &StreamsApp,
    input: &str,
    output: &str,
    committed: &BTreeMap<u32, i64>,
    sampled: f64,
) {
    const N: f64 = 300.0;
    let pid = app.pid().to_string();
    let bin = env!("CARGO_BIN_EXE_ksbridge");
    let flows = wait_until("status --json to show the interceptors", WAIT, || {
        let o = Command::new(bin)
            .args(["status", &pid, "--json"])
            .output()
            .ok()?;
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
        let flows = j["instances"][0]["interceptors"].as_array()?.clone();
        let sum: i64 = flows.iter().find(|f| f["topic"] == input)?["committed"]
            .as_object()?
            .values()
            .filter_map(|v| v.as_i64())
            .sum();
        (sum == N as i64).then_some(flows)
    });
    let topic = |t: &str| flows.iter().find(|f| f["topic"] == t).expect(t);
    let (i, o) = (topic(input), topic(output));
    assert_eq!(i["consumed"].as_f64(), Some(N), "{i}");
    assert_eq!(i["record_age"]["count"].as_f64(), Some(N), "{i}");
    let by_partition: BTreeMap<u32, i64> = i["committed"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(p, v)| (p.parse().unwrap(), v.as_i64().unwrap()))
        .collect();
    assert_eq!(&by_partition, committed);
    assert!(i["commits"].as_f64().is_some_and(|c| c >= 1.0), "{i}");
    assert_eq!(o["sent"].as_f64(), Some(N), "{o}");
    assert_eq!(o["acked"].as_f64(), Some(N), "{o}");
    assert_eq!(
        o["send_ack_latency"]["count"].as_f64(),
        Some(sampled),
        "{o}"
    );
    assert!(o.get("failed").is_none(), "{o}");

    let out = Command::new(bin).args(["status", &pid]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("  interceptors (SEND-ACK"), "{text}");
    println!("status:\n{text}");
    let line = |t: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(&format!("{t} ")))
            .unwrap_or_else(|| panic!("no line for {t}:\n{text}"))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    // TOPIC SENT ACKED FAILED SEND-ACK CONSUMED RECORD-AGE COMMITS COMMITTED
    let (li, lo) = (line(input), line(output));
    assert_eq!((li[5].as_str(), li[8].as_str()), ("300", "300"), "{text}");
    assert_eq!(
        (lo[1].as_str(), lo[2].as_str(), lo[3].as_str()),
        ("300", "300", "0"),
        "{text}"
    );

    let tmux = common::tmux::Tmux::start(160, 50);
    tmux.keys(&[
        &format!("{bin} top --target {pid} --interval 1s --timeout 30s"),
        "Enter",
    ]);
    tmux.wait_for("top's row", |s| {
        s.contains(app.app_id()) && s.contains("RUNNING")
    });
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("the interceptors in the drill-in", |s| {
        s.contains(" interceptors (SEND-ACK")
            && s.lines().any(|l| {
                let cells: Vec<&str> = l
                    .trim_matches(|c: char| c == '│' || c.is_whitespace())
                    .split_whitespace()
                    .collect();
                cells.first() == Some(&input) && cells.get(5) == Some(&"300")
            })
            && s.lines().any(|l| {
                let cells: Vec<&str> = l
                    .trim_matches(|c: char| c == '│' || c.is_whitespace())
                    .split_whitespace()
                    .collect();
                cells.first() == Some(&output) && cells.get(1..4) == Some(&["300", "300", "0"][..])
            })
    });
    println!("top's drill-in with interceptors:\n{s}");
    tmux.keys(&["q"]);
}

/// A running `ksbridge serve --target <pid>` on a free loopback port; killed on drop.
struct Serve {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Serve {
    fn start(pid: u32) -> Serve {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_ksbridge"))
            .args([
                "serve",
                "--web.listen-address",
                &format!("127.0.0.1:{port}"),
                "--target",
                &pid.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("serve.log")).expect("log file"))
            .spawn()
            .expect("starting ksbridge serve");
        let s = Serve {
            child,
            port,
            _dir: dir,
        };
        wait_until("ksbridge serve to answer", WAIT, || {
            http_get(s.port, "/healthz", None).ok()
        });
        s
    }

    fn metrics(&self) -> String {
        http_get(self.port, "/metrics", None).unwrap_or_default()
    }

    fn get_openmetrics(&self) -> String {
        http_get(
            self.port,
            "/metrics",
            Some("application/openmetrics-text; version=1.0.0"),
        )
        .unwrap_or_default()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 GET of a 200 response's body (Connection: close, no gzip).
fn http_get(port: u16, path: &str, accept: Option<&str>) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(a) = accept {
        req.push_str(&format!("Accept: {a}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(head.to_string()));
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Ok(dechunk(body));
    }
    Ok(body.to_string())
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn promtool(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) must be installed");
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .expect("writing to promtool");
    }
    let out = child.wait_with_output().expect("promtool output");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool check metrics:\n{report}");
}

/// Caps and bad settings: beyond `max.topics` and `max.partitions` records and updates are
/// counted as overflow, not tracked; unparsable values keep their defaults with a warning and
/// never fail the client.
#[test]
fn caps_and_bad_settings_kafka_4() {
    let line = KafkaLine::V4;
    let broker = Broker::shared(line);
    let (a, b) = (unique("ic-cap-a"), unique("ic-cap-b"));
    create_topic(broker, &a, 3);
    create_topic(broker, &b, 1);
    let mut d = ClientDriver::start(
        broker,
        DriverOptions {
            producer: vec![
                ("interceptor.classes".into(), PRODUCER.into()),
                ("ksbridge.interceptor.max.topics".into(), "1".into()),
                ("ksbridge.interceptor.max.in.flight".into(), "abc".into()),
                ("ksbridge.interceptor.log".into(), "maybe".into()),
            ],
            consumer: vec![
                ("interceptor.classes".into(), CONSUMER.into()),
                ("ksbridge.interceptor.max.partitions".into(), "1".into()),
            ],
            classpath_extra: vec![jar()],
            ..Default::default()
        },
    );
    let reply = d.command(&format!("produce {a} 30"), "PRODUCED ", WAIT);
    assert!(reply.ends_with("acked=30 failed=0"), "{reply}");
    let reply = d.command(&format!("produce {b} 20"), "PRODUCED ", WAIT);
    assert!(reply.ends_with("acked=20 failed=0"), "{reply}");
    d.command(&format!("consume {a} 30"), "CONSUMED ", WAIT);

    let s = beans(line, d.pid());
    let (p, c) = (d.producer_id(), d.consumer_id());
    let pc = [("client-id", p.as_str())];
    assert_eq!(find(&s, "producer", &pc).len(), 1);
    assert_eq!(
        total(
            &s,
            "producer",
            &[("topic", a.as_str())],
            "records-acked-total"
        ),
        30.0
    );
    assert!(find(&s, "producer", &[("topic", b.as_str())]).is_empty());
    assert_eq!(
        total(&s, "producer-client", &pc, "overflow-records-total"),
        20.0
    );
    assert_eq!(
        total(&s, "producer-client", &pc, "internal-errors-total"),
        0.0
    );
    let cc = [("client-id", c.as_str())];
    assert_eq!(find(&s, "consumer-partition", &cc).len(), 1);
    assert!(
        total(
            &s,
            "consumer-client",
            &cc,
            "overflow-partition-updates-total"
        ) > 0.0
    );
    assert_eq!(total(&s, "consumer", &cc, "records-consumed-total"), 30.0);

    let log = std::fs::read_to_string(d.dir().join("driver.log")).unwrap_or_default();
    assert!(
        log.contains("ksbridge.interceptor.max.in.flight=abc is not a number; using 65536"),
        "no settings warning in:\n{log}"
    );
    assert!(log.contains("ksbridge.interceptor.log=maybe is not true or false"));
}
