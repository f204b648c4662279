//! The JVM console commands (`jvm`, `threads`, `heap`, `heapdump`, `invoke`,
//! `mbeans --ops`, `dcmd`, `jfr`) against a real target JVM that this test
//! starts (tests/java/console) and compares with what that JVM reports about
//! itself, plus the documented exit codes on a dead pid, a non-JVM pid and a
//! remote URL with wrong credentials.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::console::TargetJvm;
use common::lab::wait_until;
use common::replay::{ReplayJvm, ReplayOptions};
use serde_json::Value;

fn ksbridge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ksbridge"))
        .args(args)
        .output()
        .expect("run ksbridge")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(o),
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(o)
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            stdout(o),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn names(v: &Value) -> Vec<String> {
    let mut n: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            x.as_str()
                .map(String::from)
                .unwrap_or_else(|| x["name"].as_str().unwrap().to_string())
        })
        .collect();
    n.sort();
    n
}

/// `a <= x <= b` for a figure read in-process before (`a`) and after (`b`) ksbridge read `x`.
fn bracketed(what: &str, a: &Value, x: i64, b: &Value) {
    let (a, b) = (a.as_i64().unwrap(), b.as_i64().unwrap());
    assert!(a <= x && x <= b, "{what}: {a} <= {x} <= {b} does not hold");
}

#[test]
fn jvm_figures_equal_what_the_targets_own_mxbeans_report() {
    let mut t = TargetJvm::start(&["--alloc"], &["-Dksbridge.test.marker=on"]);
    let pid = t.pid().to_string();
    let before = t.figures();
    let o = ksbridge(&["jvm", &pid, "--json", "--interval", "300ms"]);
    let after = t.figures();
    ok(&o);
    let j = json(&o);
    let ov = &j["overview"];
    assert_eq!(ov["runtime"]["vmVersion"], before["vmVersion"]);
    assert_eq!(ov["runtime"]["vmVendor"], before["vmVendor"]);
    assert_eq!(ov["runtime"]["startTimeMs"], before["startTimeMs"]);
    assert_eq!(ov["runtime"]["inputArguments"], before["inputArguments"]);
    assert_eq!(
        ov["runtime"]["systemProperties"]["java.version"],
        before["javaVersion"]
    );
    assert_eq!(
        ov["os"]["AvailableProcessors"],
        before["availableProcessors"]
    );
    assert_eq!(ov["memory"]["heap"]["max"], before["heapMax"]);
    assert_eq!(names(&ov["gc"]), names(&before["gc"]));
    assert_eq!(names(&ov["pools"]), names(&before["pools"]));
    // Counters move: ksbridge's reading lies between the target's own before and after.
    let gc: i64 = ov["gc"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["count"].as_i64().unwrap())
        .sum();
    bracketed("gc count", &before["gcCount"], gc, &after["gcCount"]);
    bracketed(
        "uptime",
        &before["uptimeMs"],
        ov["runtime"]["uptimeMs"].as_i64().unwrap(),
        &after["uptimeMs"],
    );
    bracketed(
        "process CPU",
        &before["processCpuTime"],
        ov["os"]["ProcessCpuTime"].as_i64().unwrap(),
        &after["processCpuTime"],
    );
    bracketed(
        "loaded classes",
        &before["totalLoadedClasses"],
        ov["classes"]["totalLoaded"].as_i64().unwrap(),
        &after["totalLoadedClasses"],
    );
    bracketed(
        "started threads",
        &before["totalStartedThreads"],
        ov["threads"]["totalStarted"].as_i64().unwrap(),
        &after["totalStartedThreads"],
    );
    // Rates over the 300 ms interval; the flags that differ from defaults include ours.
    let rates = &j["rates"];
    assert!(rates["interval_ms"].as_i64().unwrap() >= 250, "{rates}");
    assert!(rates["cpu_cores"].as_f64().unwrap() >= 0.0);
    assert!(ov["vmFlags"].as_str().unwrap().contains("-XX:+UseSerialGC"));
    assert_eq!(j["streams"], serde_json::json!([]));

    let text = ok(&ksbridge(&["jvm", &pid, "--interval", "0s"]));
    assert!(
        text.contains(before["vmVersion"].as_str().unwrap()),
        "{text}"
    );
    assert!(text.contains("ksbridge.console.Target --alloc"), "{text}");
    assert!(text.contains("  -XX:+UseSerialGC"), "{text}");
    assert!(
        !text.contains("ksbridge.test.marker = on"),
        "not a selected property: {text}"
    );
    let all = ok(&ksbridge(&[
        "jvm",
        &pid,
        "--interval",
        "0s",
        "--properties",
    ]));
    assert!(all.contains("ksbridge.test.marker = on"), "{all}");

    let watch = ok(&ksbridge(&[
        "jvm",
        &pid,
        "--watch",
        "--interval",
        "200ms",
        "--count",
        "3",
    ]));
    assert_eq!(watch.lines().count(), 3, "{watch}");
    assert!(
        watch
            .lines()
            .all(|l| l.contains("heap") && l.contains("gc")),
        "{watch}"
    );
}

#[test]
fn a_real_deadlock_is_reported_first_with_both_threads_and_locks() {
    let t = TargetJvm::start(&["--deadlock"], &[]);
    let pid = t.pid().to_string();
    let o = ksbridge(&["threads", &pid]);
    assert_eq!(
        o.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = stdout(&o);
    assert!(
        text.starts_with("DEADLOCK: 2 threads are deadlocked"),
        "{text}"
    );
    let report: String = text
        .split("---- all threads ----")
        .next()
        .unwrap()
        .to_string();
    for needle in [
        "\"dl-a\"",
        "\"dl-b\"",
        "Target$LockA",
        "Target$LockB",
        "waiting to lock",
        "- locked",
    ] {
        assert!(
            report.contains(needle),
            "{needle} missing from the report:\n{report}"
        );
    }
    // The whole dump follows, with the main thread too.
    assert!(text.contains("\"main\" #1"), "{text}");

    let j = json(&ksbridge(&["threads", &pid, "--json"]));
    let ids: Vec<i64> = j["deadlocked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let threads = j["threads"].as_array().unwrap();
    let named = |n: &str| {
        threads
            .iter()
            .find(|t| t["name"] == n)
            .unwrap_or_else(|| panic!("{n}"))
    };
    let (a, b) = (named("dl-a"), named("dl-b"));
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&a["id"].as_i64().unwrap()) && ids.contains(&b["id"].as_i64().unwrap()));
    assert_eq!(a["state"], "BLOCKED");
    assert_eq!(a["lockOwnerName"], "dl-b");
    assert_eq!(b["lockOwnerName"], "dl-a");
    assert_eq!(a["lock"]["class"], "ksbridge.console.Target$LockB");
    assert_eq!(
        a["lockedMonitors"][0]["class"],
        "ksbridge.console.Target$LockA"
    );
}

#[test]
fn threads_top_names_the_thread_the_target_keeps_busy() {
    let t = TargetJvm::start(&["--busy"], &[]);
    let pid = t.pid().to_string();
    let o = ksbridge(&["threads", &pid, "--top", "3", "--interval", "1s", "--json"]);
    let rows = json(&o);
    ok(&o);
    let first = &rows[0];
    assert_eq!(first["name"], "ksbridge-busy", "{rows}");
    // Two cores shared with other work: the spinning thread gets less than a
    // core, but still more than any other thread of the target.
    let share = first["cpu_share"].as_f64().unwrap();
    assert!(share > 0.02, "{rows}");
    assert!(rows.as_array().unwrap()[1..]
        .iter()
        .all(|r| r["cpu_share"].as_f64().unwrap() < share));
    assert!(rows.as_array().unwrap().len() <= 3);
    let text = ok(&ksbridge(&[
        "threads",
        &pid,
        "--top",
        "1",
        "--interval",
        "500ms",
    ]));
    assert!(
        text.lines().nth(2).unwrap().contains("ksbridge-busy"),
        "{text}"
    );
}

#[test]
fn heap_diff_shows_the_class_the_target_keeps_allocating() {
    let t = TargetJvm::start(&["--alloc"], &[]);
    let pid = t.pid().to_string();
    let blob = "ksbridge.console.Target$Blob";
    let o = ksbridge(&["heap", &pid, "--diff", "1500ms", "--json", "--top", "10"]);
    let j = json(&o);
    ok(&o);
    let grew = j["grew"].as_array().unwrap();
    let row = grew
        .iter()
        .find(|g| g["class"] == blob)
        .unwrap_or_else(|| panic!("{blob} did not grow: {j}"));
    assert!(row["instances_delta"].as_i64().unwrap() >= 1000, "{row}");
    assert!(row["bytes_after"].as_i64().unwrap() > row["bytes_before"].as_i64().unwrap());
    let text = ok(&ksbridge(&["heap", &pid, "--top", "5"]));
    assert!(
        text.contains("INSTANCES") && text.contains("total "),
        "{text}"
    );
    assert_eq!(text.lines().count(), 7, "{text}");
}

#[test]
fn heapdump_is_written_by_the_target_and_refuses_an_existing_file() {
    let t = TargetJvm::start(&[], &[]);
    let pid = t.pid().to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.hprof");
    let f = file.to_str().unwrap();
    let text = ok(&ksbridge(&["heapdump", &pid, f]));
    assert!(text.contains("target's host"), "{text}");
    let head = std::fs::read(&file).unwrap();
    assert!(head.starts_with(b"JAVA PROFILE 1.0.2"), "not an hprof file");
    let o = ksbridge(&["heapdump", &pid, f]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("exists"));
    let o = ksbridge(&["heapdump", &pid, dir.path().join("x.bin").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "not .hprof");
}

#[test]
fn invoke_converts_int_long_string_and_boolean_by_the_declared_signature() {
    let t = TargetJvm::start(&[], &[]);
    let pid = t.pid().to_string();
    let bean = "ksbridge.test:type=Ops";
    assert_eq!(
        ok(&ksbridge(&["invoke", &pid, bean, "add", "40", "-2"])).trim(),
        "38"
    );
    assert_eq!(
        ok(&ksbridge(&[
            "invoke",
            &pid,
            bean,
            "add",
            "2147483647",
            "9000000000"
        ]))
        .trim(),
        "11147483647"
    );
    assert_eq!(
        ok(&ksbridge(&[
            "invoke",
            &pid,
            bean,
            "greet",
            "kafka streams",
            "true"
        ]))
        .trim(),
        "HELLO KAFKA STREAMS!"
    );
    let j = json(&ksbridge(&[
        "invoke", &pid, bean, "greet", "x", "false", "--json",
    ]));
    assert_eq!(j["result"], "hello x");
    assert_eq!(j["returnType"], "java.lang.String");
    // The target counted four calls; a void operation prints nothing.
    assert_eq!(ok(&ksbridge(&["get", &pid, bean, "Calls"])).trim(), "4");
    assert_eq!(ok(&ksbridge(&["invoke", &pid, bean, "reset"])), "");
    assert_eq!(ok(&ksbridge(&["get", &pid, bean, "Calls"])).trim(), "0");

    let bad = ksbridge(&["invoke", &pid, bean, "add", "forty", "2"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot convert \"forty\""));
    let bad = ksbridge(&["invoke", &pid, bean, "greet", "x", "maybe"]);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        ksbridge(&["invoke", &pid, bean, "add", "1"]).status.code(),
        Some(1),
        "wrong arity"
    );
    assert_eq!(
        ksbridge(&["invoke", &pid, bean, "nosuch"]).status.code(),
        Some(3)
    );
    assert_eq!(
        ksbridge(&["invoke", &pid, "ksbridge.test:type=Nope", "add"])
            .status
            .code(),
        Some(3)
    );

    let ops = json(&ksbridge(&["mbeans", &pid, bean, "--ops", "--json"]));
    let add = ops[0]["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "add")
        .unwrap();
    let types: Vec<&str> = add["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["int", "long"]);
    assert_eq!(add["returnType"], "long");
    let text = ok(&ksbridge(&["mbeans", &pid, bean, "--ops"]));
    assert!(
        text.contains("java.lang.String greet(java.lang.String p1, boolean p2)"),
        "{text}"
    );
}

#[test]
fn dcmd_runs_vm_flags_and_lists_the_commands() {
    let t = TargetJvm::start(&[], &[]);
    let pid = t.pid().to_string();
    let flags = ok(&ksbridge(&["dcmd", &pid, "VM.flags"]));
    assert!(flags.contains("-XX:+UseSerialGC"), "{flags}");
    assert!(flags.contains("-XX:MaxHeapSize=268435456"), "{flags}");
    let all = ok(&ksbridge(&["dcmd", &pid, "VM.flags", "-all"]));
    assert!(all.lines().count() > 100, "-all lists every flag");
    let list = ok(&ksbridge(&["dcmd", &pid]));
    for c in [
        "VM.flags",
        "Thread.print",
        "GC.class_histogram",
        "JFR.start",
    ] {
        assert!(
            list.lines().any(|l| l.starts_with(c)),
            "{c} not listed:\n{list}"
        );
    }
    assert_eq!(ksbridge(&["dcmd", &pid, "No.such"]).status.code(), Some(3));
}

#[test]
fn jfr_records_the_busy_method_and_summarizes_it() {
    let t = TargetJvm::start(&["--busy"], &[]);
    let pid = t.pid().to_string();
    let dir = tempfile::tempdir().unwrap();
    let started = ok(&ksbridge(&[
        "jfr",
        "start",
        &pid,
        "--name",
        "t1",
        "--settings",
        "profile",
        // Starting the recorder takes seconds on a busy machine.
        "--timeout",
        "90s",
    ]));
    assert!(started.contains("Started recording"), "{started}");
    assert!(ok(&ksbridge(&["jfr", "status", &pid, "--timeout", "60s"])).contains("name=t1"));
    // Execution samples come every 10-20 ms; dump until the busy method is in the hot list.
    let mut n = 0;
    let summary = wait_until(
        "the busy method in the hot list",
        Duration::from_secs(60),
        || {
            n += 1;
            let file = dir.path().join(format!("r{n}.jfr"));
            let f = file.to_str().unwrap();
            ok(&ksbridge(&[
                "jfr",
                "dump",
                &pid,
                f,
                "--name",
                "t1",
                "--timeout",
                "60s",
            ]));
            let s = json(&ksbridge(&["jfr", "summary", f, "--json"]));
            let hot = s["hot_methods"].as_array()?.first()?.clone();
            (hot[0] == "ksbridge.console.Target$Busy.spin").then_some(s)
        },
    );
    assert!(summary["execution_samples"].as_u64().unwrap() > 0);
    let text = ok(&ksbridge(&[
        "jfr",
        "summary",
        dir.path().join(format!("r{n}.jfr")).to_str().unwrap(),
    ]));
    assert!(
        text.contains("hot methods") && text.contains("Target$Busy.spin"),
        "{text}"
    );
    ok(&ksbridge(&[
        "jfr",
        "stop",
        &pid,
        "--name",
        "t1",
        "--timeout",
        "60s",
    ]));
    assert!(!ok(&ksbridge(&["jfr", "status", &pid, "--timeout", "60s"])).contains("name=t1"));
    let o = ksbridge(&[
        "jfr",
        "summary",
        dir.path().join("missing.jfr").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3));
}

#[test]
fn every_command_exits_with_the_documented_codes() {
    // A dead pid: a process this test started and reaped.
    let mut gone = Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    let dead = gone.id().to_string();
    // A live process that is not a JVM.
    let sleeper = Killed(Command::new("sleep").arg("120").spawn().unwrap());
    let sleeping = sleeper.0.id().to_string();
    let replay = ReplayJvm::start(ReplayOptions {
        jmx_auth: Some(("monitor".into(), "s3cret".into())),
        ..ReplayOptions::default()
    });
    let url = replay.jmx_url().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("creds");
    std::fs::write(&creds, "monitor wrong\n").unwrap();
    let creds = creds.to_str().unwrap().to_string();
    let hprof = dir.path().join("x.hprof").to_str().unwrap().to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec!["jvm"],
        vec!["threads"],
        vec!["heap"],
        vec!["dcmd", "VM.flags"],
        vec!["invoke", "java.lang:type=Memory", "gc"],
        vec!["mbeans", "--ops"],
        vec!["jfr", "status"],
        vec!["jfr", "start"],
        vec!["jfr", "dump", "/tmp/ksbridge-never-written.jfr"],
        vec!["jfr", "stop"],
        // `top` checks each --target before its screen opens.
        vec!["top", "--target"],
    ];
    for c in &commands {
        for (target, extra, code) in [
            (dead.as_str(), None, 3),
            (sleeping.as_str(), None, 4),
            (url.as_str(), Some(creds.as_str()), 4),
        ] {
            // The TARGET follows the command word(s); `jfr status`, `top --target` have two.
            let split = if c[0] == "jfr" || c[0] == "top" { 2 } else { 1 };
            let mut args: Vec<&str> = c[..split].to_vec();
            args.push(target);
            args.extend(&c[split..]);
            if let Some(f) = extra {
                args.extend(["--jmx.credentials-file", f]);
            }
            let o = ksbridge(&args);
            assert_eq!(
                o.status.code(),
                Some(code),
                "{args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    let o = ksbridge(&["heapdump", &dead, &hprof]);
    assert_eq!(o.status.code(), Some(3));
    let o = ksbridge(&["heapdump", &sleeping, &hprof]);
    assert_eq!(o.status.code(), Some(4));
    let o = ksbridge(&["heapdump", &url, &hprof, "--jmx.credentials-file", &creds]);
    assert_eq!(o.status.code(), Some(4));
    drop(sleeper);
}

/// A child process killed and reaped when the test ends, passed or failed.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
