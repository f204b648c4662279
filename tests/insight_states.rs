//! The state poller against the lab's real app: a second instance of the
//! same application id joins, the first rebalances, and `ksbridge serve`
//! (reading only the test's own JVM, by pid) exports the transitions, the
//! time in each state and the rebalance duration; the exposition passes
//! promtool and the strict OpenMetrics parser of the Python client.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::insight::{metrics, metrics_as, serve, value};
use common::lab::{self, AppOptions, Broker, KafkaLine, StreamsApp};

const T: Duration = Duration::from_secs(120);

fn check_with(program: &str, args: &[&str], input: &str) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "{program} rejected the exposition: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The DOM of `url` after Chromium (headless, own profile dir) rendered it.
fn chromium_dom(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            &format!("--user-data-dir={}", profile.path().display()),
            "--dump-dom",
            url,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium (apt-get install chromium)");
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    let _ = child.wait();
    out
}

const PY_OPENMETRICS: &str = "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families\nn = sum(1 for _ in text_string_to_metric_families(sys.stdin.read()))\nprint(n)\n";

#[test]
fn rebalance_when_a_second_instance_joins() {
    let line = KafkaLine::V4;
    let broker = Broker::start(line);
    let first = StreamsApp::start(&broker, AppOptions::default());
    first.wait_for_state("RUNNING", T);
    let app = first.app_id().to_string();
    let s = serve(first.pid(), "200ms", &[]);
    let client = format!("application_id=\"{app}\"");
    // The poller has seen the first instance RUNNING.
    lab::wait_until("time in RUNNING", T, || {
        let m = metrics(&s)?;
        value(
            &m,
            "kafka_streams_state_seconds_total",
            &[&client, "state=\"RUNNING\""],
        )
        .filter(|v| *v > 0.0)
    });

    let second = StreamsApp::start(
        &broker,
        AppOptions {
            app_id: app.clone(),
            ..AppOptions::default()
        },
    );
    second.wait_for_state("RUNNING", T);
    let m = lab::wait_until("the rebalance seen by the poller", T, || {
        let m = metrics(&s)?;
        let back = value(
            &m,
            "kafka_streams_state_transitions_total",
            &[&client, "from=\"REBALANCING\",to=\"RUNNING\""],
        )?;
        let d = value(
            &m,
            "kafka_streams_rebalance_last_duration_seconds",
            &[&client],
        )?;
        (back >= 1.0 && d > 0.0).then_some(m)
    });
    assert!(
        value(
            &m,
            "kafka_streams_state_transitions_total",
            &[&client, "from=\"RUNNING\",to=\"REBALANCING\""]
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{m}"
    );
    let d = value(
        &m,
        "kafka_streams_rebalance_last_duration_seconds",
        &[&client],
    )
    .unwrap();
    assert!(d > 0.0 && d < 120.0, "rebalance took {d}s");
    assert!(
        value(
            &m,
            "kafka_streams_rebalance_last_start_timestamp_seconds",
            &[&client]
        )
        .unwrap()
            > 1.7e9
    );
    // Kafka 4.x threads have their own states: transitions per thread too
    // (of the threads the rebalance moved: a cooperative rebalance may leave
    // one thread RUNNING throughout, as seen at 200 ms polls).
    assert!(
        m.lines().any(
            |l| l.starts_with("kafka_streams_thread_state_transitions_total{")
                && l.contains("thread=\"StreamThread-")
        ),
        "{m}"
    );
    // The poller's series carry the JVM, as the JMX source's do.
    let target = format!("target=\"pid:{}\"", first.pid());
    assert!(
        m.lines().any(
            |l| l.starts_with("kafka_streams_rebalance_last_duration_seconds{")
                && l.contains(&target)
        ),
        "{m}"
    );
    assert!(m.contains("kafka_streams_health{"), "{m}");

    // The app's page renders in a real browser (headless Chromium) and shows
    // the state, the threads and the topology.
    let dom = chromium_dom(&format!("http://127.0.0.1:{}/apps/{app}", s.port));
    assert!(
        dom.contains("id=\"status\">HEALTHY<") || dom.contains("id=\"status\">DEGRADED<"),
        "{dom}"
    );
    assert!(dom.contains("state RUNNING"), "{dom}");
    assert!(dom.contains("StreamThread-1"), "{dom}");
    assert!(dom.contains("Sub-topology 1 (global store)"), "{dom}");
    assert!(
        dom.contains(&format!("reads  {app}-by-department-repartition")),
        "{dom}"
    );

    // Every format parses: promtool (0.0.4) and the Python OpenMetrics parser.
    check_with("promtool", &["check", "metrics"], &m);
    let om = metrics_as(&s, "application/openmetrics-text; version=1.0.0").unwrap();
    assert!(om.ends_with("# EOF\n"));
    check_with("python3", &["-c", PY_OPENMETRICS], &om);
    drop(second);
}

/// Every golden OpenMetrics exposition passes the strict parser of the
/// Python client (`prometheus_client.openmetrics.parser`, from PyPI).
#[test]
fn goldens_pass_the_python_openmetrics_parser() {
    let dir = lab::repo_root().join("tests/golden");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "om") {
            check_with(
                "python3",
                &["-c", PY_OPENMETRICS],
                &std::fs::read_to_string(&p).unwrap(),
            );
            n += 1;
        }
    }
    assert!(n >= 7, "{n} goldens");
}
