//! ksbridge's Grafana dashboards and Prometheus rules (`deploy/`) on ksbridge's
//! real output. Without the lab: the committed dashboards are what
//! `deploy/grafana/generate.py` (grafana-foundation-sdk) makes; each decodes
//! strictly against the SDK's dashboard model (a misspelled or mistyped field
//! is refused); an invented metric or label name is refused; `promtool check
//! rules` and `promtool test rules` pass, with every alert tested firing and
//! not firing. With the lab: a real Prometheus (rules loaded) scrapes `ksbridge
//! serve` reading the real ZMart Kafka Streams app (DEBUG recording, ksbridge's
//! interceptors, one thread failing and replaced) with lag on; every panel
//! query and every recording rule returns data through the HTTP API, except
//! the few listed with their reason; the thread-failed alert fires; every name
//! the dashboards and rules use is served (or in the golden files). With
//! `KSBRIDGE_RENDER=1` it also renders `docs/dashboard-overview.png`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::lab::{self, unique, wait_until, AppOptions, Broker, KafkaLine, StreamsApp};
use common::prom::{http_get, query, try_query, Prometheus};
use common::serve::Serve;

const WAIT: Duration = Duration::from_secs(90);
/// Prometheus's scrape and rule evaluation interval in the live test, seconds.
const SCRAPE: u32 = 5;

/// Panels (or recording rules) allowed to return no series in the lab's
/// healthy app, each with the reason.
const EMPTY_BY_DESIGN: &[(&str, &str)] = &[
    (
        "Restore ETA",
        "exported only while a task restores at a measurable rate; the lab app's stores restore from their changelogs within one scrape",
    ),
    (
        SCRAPE_ERRORS,
        "counted only after a failed read; the test kills the app at the end and checks this panel then",
    ),
];

/// Families the dashboards use that neither a healthy lab app nor the golden
/// files have, with the source file that emits them (checked to name them).
const ONLY_WHILE: &[(&str, &str, &str)] = &[
    (
        "kafka_streams_restore_eta_seconds",
        "src/streams/health.rs",
        "only while a task restores at a measurable rate",
    ),
    (
        "ksbridge_scrape_errors_total",
        "src/exposition/selfmetrics.rs",
        "only after a failed read (the test's end drives the panel into data)",
    ),
];

/// The ksbridge dashboard's panel of failed reads.
const SCRAPE_ERRORS: &str = "Scrape errors";

fn root() -> PathBuf {
    lab::repo_root()
}

fn python(args: &[&str]) -> Output {
    Command::new("python3")
        .args(args)
        .current_dir(root())
        .output()
        .expect("python3 (scripts/setup.sh installs grafana-foundation-sdk)")
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn dashboards() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("deploy/grafana/dashboards"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    assert!(v.len() >= 7, "dashboards: {v:?}");
    v
}

#[test]
fn committed_dashboards_are_the_generated_ones() {
    ok(
        &python(&["deploy/grafana/generate.py", "--check"]),
        "generate.py --check (run python3 deploy/grafana/generate.py)",
    );
    // The generator refuses a name ksbridge does not serve, and a label a
    // family does not have.
    for (expr, why) in [
        ("sum(kafka_streams_invented_total)", "unknown name"),
        ("kafka_streams_state{store=\"x\"}", "has no label 'store'"),
    ] {
        let out = python(&[
            "-c",
            &format!(
                "import sys; sys.path.insert(0, 'deploy/grafana'); import ksbridge_names as n; n.lint('{}')",
                expr.replace('\'', "\\'")
            ),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(why), "{expr}: {err}");
    }
    // Every panel sets a unit and queries through the datasource variable.
    for path in dashboards() {
        let d: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        no_fixed_datasource(&d, &path);
        for p in d["panels"].as_array().unwrap() {
            if p["type"] == "row" {
                continue;
            }
            assert_eq!(
                p["datasource"]["uid"], "${datasource}",
                "{path:?} {}",
                p["title"]
            );
            assert!(
                p["fieldConfig"]["defaults"]["unit"].is_string(),
                "{path:?}: panel {} has no unit",
                p["title"]
            );
            for t in p["targets"].as_array().unwrap() {
                let e = t["expr"].as_str().unwrap();
                assert!(
                    !e.contains("rate(") || e.contains("[$__rate_interval]") || e.contains("[1h]"),
                    "{path:?}: {e} (rates over $__rate_interval)"
                );
            }
        }
    }
}

#[test]
fn dashboards_decode_strictly_against_the_sdk_model() {
    let files = dashboards();
    let mut args = vec!["deploy/grafana/validate.py".to_string()];
    args.extend(files.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&python(&args), "validate.py");

    // A misspelled field, a mistyped value and a value outside an enum: refused.
    let mut d: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    let panels = d["panels"].as_array_mut().unwrap();
    let i = panels
        .iter()
        .position(|p| p["type"] == "timeseries")
        .unwrap();
    let grid = panels[i]["gridPos"].take();
    panels[i].as_object_mut().unwrap().remove("gridPos");
    panels[i]["gridPoz"] = grid;
    panels[i]["fieldConfig"]["defaults"]["custom"]["fillOpacity"] = "ten".into();
    d["graphTooltip"] = 7.into();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, d.to_string()).unwrap();
    let out = python(&["deploy/grafana/validate.py", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a bad dashboard passed");
    for want in [
        format!("$.panels[{i}].gridPoz: unknown field"),
        "fill_opacity: 'ten' is not of type".to_string(),
        "graph_tooltip: 7 is not of type".to_string(),
    ] {
        assert!(err.contains(&want), "missing {want:?} in:\n{err}");
    }
}

/// Every `datasource` reference in the dashboard is the variable.
fn no_fixed_datasource(v: &serde_json::Value, path: &Path) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                if k == "datasource" && x.get("uid").is_some() {
                    assert_eq!(
                        x["uid"], "${datasource}",
                        "{path:?}: a fixed datasource uid"
                    );
                }
                no_fixed_datasource(x, path);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| no_fixed_datasource(x, path)),
        _ => {}
    }
}

/// Alert names of the alert rules file.
fn alert_names() -> Vec<String> {
    let path = root().join("deploy/prometheus/rules/ksbridge-alerts.yml");
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for g in doc["groups"].as_sequence().unwrap() {
        for r in g["rules"].as_sequence().unwrap() {
            if let Some(a) = r["alert"].as_str() {
                out.push(a.to_string());
            }
        }
    }
    out
}

#[test]
fn rules_pass_promtool_with_every_alert_tested_firing_and_not() {
    let dir = root().join("deploy/prometheus/rules");
    let check = Command::new("promtool")
        .args([
            "check",
            "rules",
            "ksbridge-alerts.yml",
            "ksbridge-recording.yml",
        ])
        .current_dir(&dir)
        .output()
        .expect("promtool (Debian package prometheus)");
    ok(&check, "promtool check rules");
    let test = Command::new("promtool")
        .args(["test", "rules", "tests/ksbridge-alerts.test.yml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    ok(&test, "promtool test rules");

    let tests: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(dir.join("tests/ksbridge-alerts.test.yml")).unwrap(),
    )
    .unwrap();
    let mut firing = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for t in tests["tests"].as_sequence().unwrap() {
        for a in t["alert_rule_test"].as_sequence().into_iter().flatten() {
            let name = a["alertname"].as_str().unwrap().to_string();
            if a["exp_alerts"].as_sequence().is_some_and(|s| !s.is_empty()) {
                firing.insert(name);
            } else {
                silent.insert(name);
            }
        }
    }
    let alerts = alert_names();
    assert!(alerts.len() >= 9, "{alerts:?}");
    for a in &alerts {
        assert!(firing.contains(a), "no unit test of {a} firing");
        assert!(silent.contains(a), "no unit test of {a} not firing");
    }
    // Each alert has its runbook paragraph.
    let runbook = std::fs::read_to_string(root().join("docs/runbook.md")).unwrap();
    for a in &alerts {
        assert!(
            runbook.contains(&format!("## {a}")),
            "docs/runbook.md has no section for {a}"
        );
    }
}

/// Family (sample name) -> label names, from a text exposition.
fn labels_by_name(text: &str, into: &mut BTreeMap<String, BTreeSet<String>>) {
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, rest) = match line.find(['{', ' ']) {
            Some(i) => line.split_at(i),
            None => continue,
        };
        let set = into.entry(name.to_string()).or_default();
        if let Some(body) = rest.strip_prefix('{').and_then(|r| r.split_once('}')) {
            let mut s = body.0;
            // label="value" pairs; values may hold escaped quotes and commas.
            while let Some((k, v)) = s.split_once("=\"") {
                set.insert(k.trim_start_matches(',').to_string());
                let mut end = 0;
                let b = v.as_bytes();
                while end < b.len() && !(b[end] == b'"' && (end == 0 || b[end - 1] != b'\\')) {
                    end += 1;
                }
                s = &v[(end + 1).min(v.len())..];
            }
        }
    }
}

/// The panel queries and recording rules (generate.py --queries).
fn queries() -> Vec<serde_json::Value> {
    let out = ok(
        &python(&["deploy/grafana/generate.py", "--queries"]),
        "generate.py --queries",
    );
    serde_json::from_str::<Vec<serde_json::Value>>(&out).unwrap()
}

/// A panel expression as Grafana would send it for one application id and
/// every instance, thread and store.
fn substitute(expr: &str, app_id: &str) -> String {
    // Grafana's $__rate_interval: at least four scrape intervals.
    expr.replace("$__rate_interval", &format!("{}s", 4 * SCRAPE))
        .replace("$application_id", app_id)
        .replace("$instance", ".*")
        .replace("$thread", ".*")
        .replace("$store", ".*")
}

#[test]
fn every_panel_and_recording_rule_returns_data_from_the_lab_app() {
    let t0 = Instant::now();
    let broker = Broker::shared(KafkaLine::V4);
    let app_id = unique("ksb-dash");
    let app = StreamsApp::start(
        broker,
        AppOptions {
            app_id: app_id.clone(),
            recording_level: "DEBUG".into(),
            // One processor throws once: its thread fails and is replaced.
            fail_after: Some(400),
            classpath_extra: vec![lab::interceptor_jar()],
            extra: vec![
                (
                    "producer.interceptor.classes".into(),
                    "dev.ksbridge.interceptors.KsbridgeProducerInterceptor".into(),
                ),
                (
                    "main.consumer.interceptor.classes".into(),
                    "dev.ksbridge.interceptors.KsbridgeConsumerInterceptor".into(),
                ),
            ],
            ..AppOptions::default()
        },
    );
    app.wait_for_state("RUNNING", WAIT);
    let serve = Serve::start(&[
        "--target.match",
        &format!("^{app_id}$"),
        "--discovery.interval",
        "1s",
        "--kafka.bootstrap-servers",
        broker.bootstrap(),
        "--lag.interval",
        "2s",
    ]);
    let serve_port = serve.port;
    let rules = root().join("deploy/prometheus/rules");
    // Scrapes every SCRAPE seconds: a full read of the app at DEBUG level
    // takes seconds on a loaded 2-core machine, and ksbridge's read deadline
    // is 90% of Prometheus's scrape timeout.
    let prom = Prometheus::start_with_rules(
        &[serve_port],
        &format!("{SCRAPE}s"),
        &[
            rules.join("ksbridge-recording.yml"),
            rules.join("ksbridge-alerts.yml"),
        ],
    );
    let p = prom.port;
    let ctx = || {
        format!(
            "--- ksbridge log ---\n{}\n--- prometheus log ---\n{}\n--- app log ---\n{}",
            serve.log(),
            prom.log_tail(15),
            app.log()
        )
    };
    // The first full read of a DEBUG app (thousands of beans) is the slow one.
    wait_for("the app RUNNING in Prometheus", 2 * WAIT, &ctx, || {
        query(
            p,
            &format!("kafka_streams_state{{application_id=\"{app_id}\",state=\"RUNNING\"}} == 1"),
        )
        .filter(|r| !r.is_empty())
    });

    // Every query until it returns a series (rates need two scrapes, the lag
    // trend a few lag cycles, the failed thread its failure).
    let all = queries();
    let allowed: BTreeMap<&str, &str> = EMPTY_BY_DESIGN.iter().copied().collect();
    let mut pending: Vec<&serde_json::Value> = all.iter().collect();
    let deadline = Instant::now() + WAIT;
    let mut errors = Vec::new();
    while !pending.is_empty() && Instant::now() < deadline {
        pending.retain(|q| {
            let expr = substitute(q["expr"].as_str().unwrap(), &app_id);
            match try_query(p, &expr) {
                Ok(r) => r.is_empty(),
                Err(e) => {
                    errors.push(format!("{}: {expr}: {e}", q["panel"]));
                    false
                }
            }
        });
        if pending
            .iter()
            .all(|q| allowed.contains_key(q["panel"].as_str().unwrap()))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        errors.is_empty(),
        "queries Prometheus refused:\n{}",
        errors.join("\n")
    );
    let empty: Vec<String> = pending
        .iter()
        .filter(|q| !allowed.contains_key(q["panel"].as_str().unwrap()))
        .map(|q| format!("{} / {}: {}", q["dashboard"], q["panel"], q["expr"]))
        .collect();
    assert!(
        empty.is_empty(),
        "{} of {} queries returned no series:\n{}\n{}",
        empty.len(),
        all.len(),
        empty.join("\n"),
        ctx()
    );
    let checked = t0.elapsed();

    // The recording rules ran in Prometheus too, and the replaced thread fired
    // the thread alert.
    for q in all
        .iter()
        .filter(|q| q["dashboard"] == "ksbridge-recording.yml")
    {
        let record = q["panel"].as_str().unwrap();
        wait_until(&format!("recorded series {record}"), WAIT, || {
            query(p, record).filter(|r| !r.is_empty())
        });
    }
    wait_for("KafkaStreamsThreadFailed firing", WAIT, &ctx, || {
        let (_, body) = http_get(p, "/api/v1/alerts")?;
        let j: serde_json::Value = serde_json::from_str(&body).ok()?;
        j["data"]["alerts"]
            .as_array()?
            .iter()
            .any(|a| {
                a["labels"]["alertname"] == "KafkaStreamsThreadFailed"
                    && a["labels"]["application_id"] == app_id.as_str()
                    && a["state"] == "firing"
            })
            .then_some(())
    });

    // Every name the dashboards and rules use is served over the lab app, or
    // in the golden files (families of other shapes), with its labels.
    let names: serde_json::Value =
        serde_json::from_str(&ok(&python(&["deploy/grafana/ksbridge_names.py"]), "names")).unwrap();
    let mut served = BTreeMap::new();
    let (_, scrape) = http_get(serve_port, "/metrics").expect("ksbridge /metrics");
    labels_by_name(&scrape, &mut served);
    let mut known = served.clone();
    for e in std::fs::read_dir(root().join("tests/golden")).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "prom") {
            labels_by_name(&std::fs::read_to_string(&path).unwrap(), &mut known);
        }
    }
    let made: Vec<&str> = names["prometheus_made"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let mut missing = Vec::new();
    for (name, labels) in names["metrics"].as_object().unwrap() {
        if made.contains(&name.as_str()) {
            continue;
        }
        let Some(have) = known.get(name) else {
            match ONLY_WHILE.iter().find(|(n, _, _)| n == name) {
                Some((_, file, _)) => {
                    let src = std::fs::read_to_string(root().join(file)).unwrap();
                    assert!(
                        src.contains(&format!("\"{}\"", name.trim_end_matches("_total"))),
                        "{file} emits no {name}"
                    );
                }
                None => missing.push(format!("{name} (not served)")),
            }
            continue;
        };
        for l in labels.as_array().unwrap() {
            if !have.contains(l.as_str().unwrap()) {
                missing.push(format!("{name}: no label {l}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "names the dashboards/rules use that ksbridge does not serve:\n{}",
        missing.join("\n")
    );

    if std::env::var("KSBRIDGE_RENDER").is_ok_and(|v| v == "1") {
        render(p, &app_id, t0);
    }

    // A target that goes away counts a scrape error: the errors panel has data.
    let errors_panel = all
        .iter()
        .find(|q| q["panel"] == SCRAPE_ERRORS)
        .expect("the scrape errors panel");
    let errors_expr = substitute(errors_panel["expr"].as_str().unwrap(), &app_id);
    let mut app = app;
    app.kill();
    wait_until(&format!("{errors_expr}\n{}", serve.log()), WAIT, || {
        query(p, &errors_expr).filter(|r| !r.is_empty())
    });
    eprintln!(
        "dashboards: {} queries checked in {:.1}s (whole test {:.1}s)",
        all.len(),
        checked.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
}

/// `lab::wait_until` with the context (logs) taken when it times out.
fn wait_for<T>(
    what: &str,
    timeout: Duration,
    ctx: &dyn Fn() -> String,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}\n{}", ctx());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Renders the overview dashboard's main panels to docs/dashboard-overview.png
/// after a few minutes of history (deploy/grafana/render.py, matplotlib).
fn render(prom_port: u16, app_id: &str, t0: Instant) {
    let seconds: u64 = std::env::var("KSBRIDGE_RENDER_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(180);
    while t0.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_secs(1));
    }
    let out = root().join("docs/dashboard-overview.png");
    ok(
        &python(&[
            "deploy/grafana/render.py",
            "--prometheus",
            &format!("http://127.0.0.1:{prom_port}"),
            "--application-id",
            app_id,
            "--scrape-interval",
            &SCRAPE.to_string(),
            "--minutes",
            &format!("{}", t0.elapsed().as_secs_f64() / 60.0 - 0.5),
            "--out",
            out.to_str().unwrap(),
        ]),
        "render.py",
    );
    assert!(Path::new(&out).exists());
}
