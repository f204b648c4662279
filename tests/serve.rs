//! `ksbridge serve` end to end against real JVMs (the replay JVM registering a
//! capture's beans) and capture files: attach by pid, negotiation, gzip,
//! promtool on the live scrape, a killed JVM (success 0, series gone, 200 even
//! when every target failed, the agent keeps serving), discovery with
//! `--target.match` and re-attach after a restart, graceful SIGTERM.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::lab::{unique, wait_until};
use common::replay::{ReplayJvm, ReplayOptions};
use common::serve::{capture_for, line_with, Serve};

const WAIT: Duration = Duration::from_secs(60);

fn promtool(text: &str) -> String {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) must be installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "promtool: {out:?}");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn replay(capture: PathBuf) -> ReplayJvm {
    ReplayJvm::start(ReplayOptions {
        capture: Some(capture),
        ..ReplayOptions::default()
    })
}

#[test]
fn serves_a_jvm_by_pid_and_survives_its_death() {
    let dir = tempfile::tempdir().unwrap();
    let app = unique("ksb-serve-pid").replace('_', "-");
    let mut jvm = replay(capture_for(dir.path(), &app, "000001"));
    let pid = jvm.pid();
    let mut serve = Serve::start(&["--target", &pid.to_string()]);
    let target = format!("target=\"pid:{pid}\"");

    let text = wait_until("the app's state in /metrics", WAIT, || {
        let t = serve.metrics();
        line_with(
            &t,
            "kafka_streams_state{",
            &format!("application_id=\"{app}\""),
        )
        .is_some()
        .then_some(t)
    });
    assert!(
        text.contains(&format!("state=\"RUNNING\",{target}}} 1\n")),
        "RUNNING is 1:\n{text}"
    );
    assert!(line_with(
        &text,
        "kafka_streams_thread_process_total{",
        "thread=\"StreamThread-1\""
    )
    .is_some());
    assert!(line_with(&text, "ksbridge_scrape_success{", &target)
        .unwrap()
        .ends_with(" 1"));
    assert_eq!(
        promtool(&text).trim(),
        "",
        "promtool findings on the live scrape"
    );

    // OpenMetrics for Prometheus's Accept header, gzip on request.
    let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let om = serve
        .get(
            "/metrics",
            &[
                ("Accept", accept),
                ("X-Prometheus-Scrape-Timeout-Seconds", "5"),
            ],
        )
        .unwrap();
    assert_eq!(om.status, 200);
    assert!(om
        .header("content-type")
        .unwrap()
        .starts_with("application/openmetrics-text; version=1.0.0"));
    let om_text = om.text();
    assert!(om_text.ends_with("# EOF\n"));
    assert!(om_text.contains("# TYPE kafka_streams_state gauge\n"));
    let gz = serve
        .get("/metrics", &[("Accept-Encoding", "gzip")])
        .unwrap();
    assert_eq!(gz.header("content-encoding").as_deref(), Some("gzip"));
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_string(&mut unzipped)
        .unwrap();
    assert!(unzipped.contains("kafka_streams_state{"));
    let index = serve.get("/", &[]).unwrap().text();
    assert!(
        index.contains(&format!("pid:{pid}")) && index.contains(&app),
        "{index}"
    );

    // Kill the JVM: its series vanish, success goes 0, and the agent keeps
    // answering normally.
    jvm.kill();
    let resp = wait_until("the dead JVM's series to vanish", WAIT, || {
        let r = serve.get("/metrics", &[]).ok()?;
        let t = r.text();
        (!t.contains(&format!("application_id=\"{app}\""))).then_some(r)
    });
    let t = resp.text();
    assert!(
        line_with(&t, "ksbridge_scrape_success{", &target)
            .unwrap()
            .ends_with(" 0"),
        "{t}"
    );
    assert_eq!(resp.status, 200, "a gone JVM is no failure of the agent");
    assert_eq!(serve.get("/healthz", &[]).unwrap().status, 200);
    assert!(
        serve.stop().success(),
        "clean exit on SIGTERM:\n{}",
        serve.log()
    );
}

#[test]
fn discovers_by_match_and_follows_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = unique("ksb-serve-disc").replace('_', "-");
    let mut first = replay(capture_for(dir.path(), &app, "000001"));
    let pid1 = first.pid();
    // The replay JVM shows no Kafka Streams evidence in /proc: probing finds it.
    let mut serve = Serve::start(&[
        "--discovery.probe",
        "--target.match",
        &format!("^{app}$"),
        "--discovery.interval",
        "1s",
    ]);
    let client1 = format!("client_id=\"{app}-3c1e7f6a-8d2b-4b5e-9f0a-1b2c3d4e000001\"");
    wait_until("discovery of the first JVM", WAIT, || {
        let t = serve.metrics();
        (line_with(&t, "kafka_streams_state{", &client1).is_some()
            && t.contains(&format!(
                "ksbridge_scrape_success{{source=\"jmx\",target=\"pid:{pid1}\"}} 1"
            )))
        .then_some(())
    });

    // Restart: new pid, new client id, same application id.
    first.kill();
    let mut second = replay(capture_for(dir.path(), &app, "000002"));
    let pid2 = second.pid();
    assert_ne!(pid1, pid2);
    let client2 = format!("client_id=\"{app}-3c1e7f6a-8d2b-4b5e-9f0a-1b2c3d4e000002\"");
    let t = wait_until("re-attach to the restarted app", WAIT, || {
        let t = serve.metrics();
        line_with(&t, "kafka_streams_state{", &client2)
            .is_some()
            .then_some(t)
    });
    assert!(
        !t.contains(&client1),
        "no ghost series of the old process:\n{t}"
    );
    assert!(t.contains(&format!(
        "ksbridge_scrape_success{{source=\"jmx\",target=\"pid:{pid2}\"}} 1"
    )));
    assert!(
        !t.contains(&format!("target=\"pid:{pid1}\"")),
        "old target replaced:\n{t}"
    );
    second.kill();
    assert!(serve.stop().success(), "{}", serve.log());
}

#[test]
fn capture_file_targets_fail_alone_and_the_deadline_header_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let a = capture_for(dir.path(), "file-app-a", "00000a");
    let b = capture_for(dir.path(), "file-app-b", "00000b");
    let serve = Serve::start(&[
        "--target",
        &format!("file:{}", a.display()),
        "--target",
        &format!("file:{}", b.display()),
        "--no-group.rocksdb",
    ]);
    let t = serve.metrics();
    assert!(
        t.contains("application_id=\"file-app-a\"") && t.contains("application_id=\"file-app-b\"")
    );
    assert!(!t.contains("kafka_streams_rocksdb_"), "--no-group.rocksdb");
    assert!(t.contains("ksbridge_targets 2\n"));

    std::fs::remove_file(&a).unwrap();
    let r = serve
        .get(
            "/metrics",
            &[("X-Prometheus-Scrape-Timeout-Seconds", "0.5")],
        )
        .unwrap();
    assert_eq!(r.status, 200, "one bad target never fails the response");
    let t = r.text();
    assert!(!t.contains("application_id=\"file-app-a\""));
    assert!(t.contains("application_id=\"file-app-b\""));
    assert!(line_with(&t, "ksbridge_scrape_success{", "file-app-a")
        .unwrap()
        .ends_with(" 0"));
    assert!(t.contains("ksbridge_scrape_errors_total{kind=\"gone\"}"));

    // Every remaining target failing (not gone: unreadable) is still a 200:
    // ksbridge answered, and the body says what failed (Prometheus drops
    // the body of a non-2xx answer).
    std::fs::write(&b, "{not json").unwrap();
    let r = serve.get("/metrics", &[]).unwrap();
    assert_eq!(r.status, 200);
    let t = r.text();
    assert!(t.contains("ksbridge_scrape_errors_total{kind=\"read\"}"));
    assert!(line_with(&t, "ksbridge_scrape_success{", "file-app-b")
        .unwrap()
        .ends_with(" 0"));
    assert!(
        t.contains("application_id=\"file-app-b\""),
        "the last good snapshot is served:\n{t}"
    );
}

/// A password-protected remote JMX URL named in a config file with its
/// credentials file: read like any target; wrong credentials are a connect
/// failure (success 0), never a crash; flags win over the file.
#[test]
fn config_file_targets_a_password_protected_url() {
    let replay = ReplayJvm::start(ReplayOptions {
        jmx_auth: Some(("monitor".into(), "s3cret".into())),
        ..ReplayOptions::default()
    });
    let url = replay.jmx_url().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.cred");
    std::fs::write(&good, "monitor s3cret\n").unwrap();
    let bad = dir.path().join("bad.cred");
    std::fs::write(&bad, "monitor wrong\n").unwrap();
    let config = |cred: &Path| {
        let p = dir.path().join(format!("{}.toml", unique("serve")));
        std::fs::write(
            &p,
            format!(
                "targets = [\"{url}\"]\nscrape-timeout = \"20s\"\nlisten-address = \"127.0.0.1:1\"\n\n[target-credentials]\n\"{url}\" = \"{}\"\n",
                cred.display()
            ),
        )
        .unwrap();
        p
    };
    // The file's listen address (port 1) loses to the flag Serve::start passes.
    let s = Serve::start(&["--config.file", config(&good).to_str().unwrap()]);
    let ok = format!("ksbridge_scrape_success{{source=\"jmx\",target=\"{url}\"}} 1");
    let text = wait_until(&format!("a scrape of {url}\n{}", s.log()), WAIT, || {
        Some(s.metrics()).filter(|m| m.contains(&ok))
    });
    assert!(
        text.contains("kafka_streams_state{application_id=\"zmart\""),
        "{text}"
    );
    assert!(!s.log().contains("s3cret"), "no password in the log");
    drop(s);

    let s = Serve::start(&["--config.file", config(&bad).to_str().unwrap()]);
    let failed = format!("ksbridge_scrape_success{{source=\"jmx\",target=\"{url}\"}} 0");
    wait_until("a failed scrape with wrong credentials", WAIT, || {
        Some(s.metrics()).filter(|m| m.contains(&failed))
    });
    assert!(s.log().to_lowercase().contains("auth"), "{}", s.log());
    assert!(!s.log().contains("wrong"), "no password in the log");
}

/// Unknown keys, bad values and unknown groups in a config file are named.
#[test]
fn config_file_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (text, want) in [
        ("bogus = 1\n", "unknown key \"bogus\""),
        ("scrape-timeout = \"3 parsecs\"\n", "--scrape.timeout"),
        ("[groups]\nnope = true\n", "unknown metric group \"nope\""),
        ("rates = \"yes\"\n", "expected true or false"),
    ] {
        let p = dir.path().join("c.toml");
        std::fs::write(&p, text).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_ksbridge"))
            .args(["serve", "--config.file", p.to_str().unwrap()])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{text}");
        assert!(err.contains(want), "{text}: {err}");
    }
}
