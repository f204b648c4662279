//! End to end: a real Prometheus (Debian package `prometheus`, loopback, temp
//! storage, 1 s scrapes) scrapes `ksbridge serve`, which discovers the lab's
//! real Kafka Streams app (ZMart, Kafka 4) by `--target.match`. Checks through
//! Prometheus's HTTP API: the client state is RUNNING, `rate()` of the thread
//! process counter is positive, `up` and `ksbridge_scrape_success` are 1; after
//! the app's JVM is killed its series vanish and `ksbridge_scrape_success` is 0
//! while `up` stays 1; after a restart (new pid, new client id, same
//! application id) the app is re-attached. With `--kafka.bootstrap-servers`
//! the app's consumer-group lag is served too.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::lab::{free_port, unique, wait_until, AppOptions, Broker, KafkaLine, StreamsApp};
use common::prom::{http_get, query, Proc, Prometheus};

const WAIT: Duration = Duration::from_secs(90);

/// Waits until `q` returns exactly the single value `want`... or any series satisfying `ok`.
fn wait_query(
    port: u16,
    what: &str,
    q: &str,
    ok: impl Fn(&[(serde_json::Value, f64)]) -> bool,
) -> Vec<(serde_json::Value, f64)> {
    wait_until(what, WAIT, || query(port, q).filter(|r| ok(r)))
}

fn start_serve(app: &str, bootstrap: &str) -> (Proc, u16) {
    let port = free_port();
    let dir = std::env::temp_dir().join(unique("ksb-e2e-serve"));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("serve.log");
    let child = Command::new(env!("CARGO_BIN_EXE_ksbridge"))
        .args([
            "--log.level",
            "ksbridge=info",
            "serve",
            "--web.listen-address",
            &format!("127.0.0.1:{port}"),
            "--target.match",
            &format!("^{app}$"),
            "--discovery.interval",
            "1s",
            "--kafka.bootstrap-servers",
            bootstrap,
            "--lag.interval",
            "2s",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    (
        Proc {
            child,
            name: "ksbridge",
            log,
        },
        port,
    )
}

#[test]
fn prometheus_scrapes_ksbridge_reading_the_lab_app() {
    let t0 = Instant::now();
    let broker = Broker::shared(KafkaLine::V4);
    let app_id = unique("ksb-e2e");
    let mut app = StreamsApp::start(
        broker,
        AppOptions {
            app_id: app_id.clone(),
            ..AppOptions::default()
        },
    );
    app.wait_for_state("RUNNING", WAIT);
    let pid1 = app.pid();
    let (serve, serve_port) = start_serve(&app_id, broker.bootstrap());
    let prom = Prometheus::start(&[serve_port], "1s");
    let prom_port = prom.port;
    let ctx = || {
        let scrape = http_get(serve_port, "/metrics")
            .map(|(_, b)| b)
            .unwrap_or_default();
        let interesting: Vec<&str> = scrape
            .lines()
            .filter(|l| l.starts_with("kafka_streams_state{") || l.starts_with("ksbridge_"))
            .collect();
        let targets = http_get(prom_port, "/api/v1/targets")
            .map(|(_, b)| b)
            .unwrap_or_default();
        format!(
            "--- ksbridge log ---\n{}\n--- ksbridge /metrics (state, self) ---\n{}\n--- prometheus log (tail) ---\n{}",
            serve.log(),
            interesting.join("\n"),
            prom.log_tail(10)
        ) + "\n--- prometheus targets ---\n" + &targets
    };

    let sel = format!("application_id=\"{app_id}\"");
    let running = wait_until(&format!("RUNNING in Prometheus\n{}", ctx()), WAIT, || {
        query(
            prom_port,
            &format!("kafka_streams_state{{{sel},state=\"RUNNING\"}}"),
        )
        .filter(|r| r.len() == 1 && r[0].1 == 1.0)
    });
    let client1 = running[0].0["client_id"].as_str().unwrap().to_string();
    wait_query(
        prom_port,
        "positive process rate",
        &format!("rate(kafka_streams_thread_process_total{{{sel}}}[10s]) > 0"),
        |r| !r.is_empty(),
    );
    wait_query(prom_port, "up == 1", "up{job=\"ksbridge\"}", |r| {
        r.len() == 1 && r[0].1 == 1.0
    });
    wait_query(
        prom_port,
        "scrape success 1",
        &format!("ksbridge_scrape_success{{source=\"jmx\",target=\"pid:{pid1}\"}}"),
        |r| r.len() == 1 && r[0].1 == 1.0,
    );
    // Consumer-group lag measured by ksbridge itself (group = application id).
    wait_query(
        prom_port,
        "consumer-group lag of the app",
        &format!("kafka_consumergroup_lag{{group=\"{app_id}\"}}"),
        |r| !r.is_empty(),
    );
    let others = query(
        prom_port,
        &format!("kafka_streams_state{{{sel},state!=\"RUNNING\"}}"),
    )
    .unwrap();
    assert!(
        others.iter().all(|(_, v)| *v == 0.0),
        "every other state 0: {others:?}"
    );
    let attached = t0.elapsed();

    // Kill the app's JVM: its series vanish, success 0, the agent stays up.
    app.kill();
    wait_query(
        prom_port,
        "the dead app's series to vanish",
        &format!("kafka_streams_state{{{sel}}}"),
        |r| r.is_empty(),
    );
    wait_query(
        prom_port,
        "scrape success 0",
        &format!("ksbridge_scrape_success{{source=\"jmx\",target=\"pid:{pid1}\"}}"),
        |r| r.len() == 1 && r[0].1 == 0.0,
    );
    let up = query(prom_port, "up{job=\"ksbridge\"}").unwrap();
    assert_eq!(up[0].1, 1.0, "the agent did not fail\n{}", ctx());

    // Restart: re-attached (new pid, new client id, same application id).
    // Kafka 4 derives the default client id from a process id persisted in
    // the state directory, so a restart on the same state directory keeps the
    // client id; a redeploy with a fresh state directory (a new container)
    // gets a new one. Start the app again that way: same application id.
    drop(app);
    let app = StreamsApp::start(
        broker,
        AppOptions {
            app_id: app_id.clone(),
            ..AppOptions::default()
        },
    );
    app.wait_for_state("RUNNING", WAIT);
    let pid2 = app.pid();
    assert_ne!(pid1, pid2);
    let start = Instant::now();
    let again = loop {
        let r = query(
            prom_port,
            &format!("kafka_streams_state{{{sel},state=\"RUNNING\"}} == 1"),
        );
        if let Some(r) = r
            .clone()
            .filter(|r| r.len() == 1 && r[0].0["client_id"].as_str() != Some(client1.as_str()))
        {
            break r;
        }
        if start.elapsed() > WAIT {
            panic!("no re-attach after restart: last answer {r:?}\n{}", ctx());
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(again[0].0["application_id"].as_str(), Some(app_id.as_str()));
    wait_query(
        prom_port,
        "new target success 1",
        &format!("ksbridge_scrape_success{{source=\"jmx\",target=\"pid:{pid2}\"}}"),
        |r| r.len() == 1 && r[0].1 == 1.0,
    );
    eprintln!(
        "e2e: attached and checked in {:.1}s, whole test {:.1}s",
        attached.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    drop(app);
}
