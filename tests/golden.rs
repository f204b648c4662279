//! Golden files: every capture in tests/fixtures/captures/ (the lab's real apps)
//! and the replay JVM's default capture -> tests/golden/<name>.prom (0.0.4) and
//! <name>.om (OpenMetrics), byte for byte (`UPDATE_GOLDEN=1` rewrites them).
//! Every .prom passes `promtool check metrics` without a finding; every .om
//! passes the OpenMetrics grammar check below. Pinned names, recording-level
//! handling and NaN rules are checked on literal snapshots.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ksbridge::exposition::encode::{encode_openmetrics, encode_text};
use ksbridge::exposition::{Family, Kind};
use ksbridge::jmx::Snapshot;
use ksbridge::streams::families as families_of;
use ksbridge::streams::Options;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// (golden name, capture path)
fn captures() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let dir = root().join("tests/fixtures/captures");
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "json") {
                let stem = p.file_stem().unwrap().to_string_lossy().to_string();
                out.push((stem, p));
            }
        }
    }
    let replay = root().join("tests/fixtures/replay/default.json");
    if replay.exists() {
        out.push(("replay-default".to_string(), replay));
    }
    out.sort();
    out
}

fn promtool(text: &str) -> Result<(), String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run promtool (Debian package `prometheus`, installed by scripts/setup.sh): {e}"))?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && findings.trim().is_empty() {
        Ok(())
    } else {
        Err(format!(
            "promtool check metrics: {}: {findings}",
            out.status
        ))
    }
}

/// A small OpenMetrics 1.0 text grammar check: metadata before samples, one
/// block per family, known types, sample names matching their family's type,
/// label syntax, parsable values, `# EOF` last.
fn check_openmetrics(text: &str) -> Result<(), String> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    let mut seen = std::collections::HashSet::new();
    let mut family: Option<(String, String)> = None;
    let lines: Vec<&str> = text.split('\n').collect();
    if lines.last() != Some(&"") || lines.len() < 2 || lines[lines.len() - 2] != "# EOF" {
        return Err("does not end with \"# EOF\\n\"".into());
    }
    for (i, line) in lines[..lines.len() - 2].iter().enumerate() {
        let err = |m: &str| Err(format!("line {}: {m}: {line}", i + 1));
        if let Some(rest) = line.strip_prefix("# ") {
            let mut p = rest.splitn(3, ' ');
            let (kw, name) = (p.next().unwrap_or(""), p.next().unwrap_or(""));
            if !name_ok(name) {
                return err("bad metric name");
            }
            match kw {
                "TYPE" => {
                    let ty = p.next().unwrap_or("");
                    if !matches!(
                        ty,
                        "counter"
                            | "gauge"
                            | "stateset"
                            | "info"
                            | "histogram"
                            | "gaugehistogram"
                            | "summary"
                            | "unknown"
                    ) {
                        return err("bad type");
                    }
                    if family.as_ref().map(|f| f.0.as_str()) != Some(name)
                        && !seen.insert(name.to_string())
                    {
                        return err("family appears twice");
                    }
                    family = Some((name.to_string(), ty.to_string()));
                }
                "HELP" | "UNIT" => {
                    if family.as_ref().map(|f| f.0.as_str()) != Some(name) {
                        if !seen.insert(name.to_string()) {
                            return err("family appears twice");
                        }
                        family = Some((name.to_string(), "unknown".into()));
                    }
                }
                _ => return err("unknown descriptor"),
            }
            continue;
        }
        let Some((fam, ty)) = &family else {
            return err("sample before any descriptor");
        };
        let (series, value) = line
            .rsplit_once(' ')
            .ok_or("no value")
            .map_err(|e| format!("line {}: {e}", i + 1))?;
        let (name, labels) = match series.find('{') {
            Some(j) => (&series[..j], Some(&series[j..])),
            None => (series, None),
        };
        let expected = match ty.as_str() {
            "counter" => format!("{fam}_total"),
            "info" => format!("{fam}_info"),
            _ => fam.clone(),
        };
        if name != expected {
            return err(&format!("sample name should be {expected}"));
        }
        if let Some(l) = labels {
            if !l.ends_with('}') {
                return err("unterminated labels");
            }
            let inner = &l[1..l.len() - 1];
            let mut rest = inner;
            while !rest.is_empty() {
                let eq = rest
                    .find("=\"")
                    .ok_or("label without =\"")
                    .map_err(|e| format!("line {}: {e}", i + 1))?;
                if !name_ok(&rest[..eq]) {
                    return err("bad label name");
                }
                let mut chars = rest[eq + 2..].char_indices();
                let mut end = None;
                while let Some((k, c)) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some((_, '\\' | '"' | 'n')) => {}
                            _ => return err("bad escape"),
                        },
                        '"' => {
                            end = Some(eq + 2 + k);
                            break;
                        }
                        '\n' => return err("newline in label value"),
                        _ => {}
                    }
                }
                let end = end
                    .ok_or("unterminated label value")
                    .map_err(|e| format!("line {}: {e}", i + 1))?;
                rest = &rest[end + 1..];
                if let Some(r) = rest.strip_prefix(',') {
                    rest = r;
                } else if !rest.is_empty() {
                    return err("labels not comma-separated");
                }
            }
        }
        let v = match value {
            "NaN" => f64::NAN,
            "+Inf" | "Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse::<f64>()
                .map_err(|_| format!("line {}: bad value {v}", i + 1))?,
        };
        if ty == "counter" && (v.is_nan() || v < 0.0) {
            return err("counter value must be a non-negative number");
        }
        if ty == "stateset" && v != 0.0 && v != 1.0 {
            return err("stateset value must be 0 or 1");
        }
    }
    Ok(())
}

fn check_golden(path: &Path, got: &str) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `UPDATE_GOLDEN=1 cargo test --test golden` to create it",
            path.display()
        )
    });
    if want != got {
        let line = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| want.lines().count().min(got.lines().count()));
        panic!(
            "{} differs from the output at line {} (UPDATE_GOLDEN=1 rewrites it):\n want: {:?}\n  got: {:?}",
            path.display(),
            line + 1,
            want.lines().nth(line),
            got.lines().nth(line)
        );
    }
}

#[test]
fn goldens_match_and_parse() {
    let caps = captures();
    assert!(!caps.is_empty(), "no captures found");
    let options = Options::default();
    for (name, path) in &caps {
        let snapshot = Snapshot::load(path).unwrap();
        let families = families_of(&snapshot, name, &options);
        assert!(!families.is_empty(), "{name}: no families");
        let prom = encode_text(&families);
        let om = encode_openmetrics(&families);
        check_golden(&root().join(format!("tests/golden/{name}.prom")), &prom);
        check_golden(&root().join(format!("tests/golden/{name}.om")), &om);
        promtool(&prom).unwrap_or_else(|e| panic!("{name}.prom: {e}"));
        check_openmetrics(&om).unwrap_or_else(|e| panic!("{name}.om: {e}"));
        // No NaN from unrecorded levels: every NaN sample is a windowed stat.
        for f in &families {
            for s in &f.samples {
                if s.value.is_nan() {
                    assert!(
                        f.kind == Kind::Gauge
                            && (f.name.contains("_avg")
                                || f.name.contains("_max")
                                || f.name.contains("_min")
                                || f.name.contains("ratio")),
                        "{name}: NaN in {} which is not a windowed stat",
                        f.name
                    );
                }
            }
        }
    }
}

#[test]
fn the_grammar_check_rejects_broken_text() {
    assert!(check_openmetrics("# TYPE a counter\na_total 1\n# EOF\n").is_ok());
    for bad in [
        "# TYPE a counter\na 1\n# EOF\n",
        "# TYPE a gauge\na 1\n",
        "a 1\n# EOF\n",
        "# TYPE a gauge\na{x=\"1} 1\n# EOF\n",
        "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\na 2\n# EOF\n",
        "# TYPE a stateset\na{a=\"x\"} 2\n# EOF\n",
    ] {
        assert!(check_openmetrics(bad).is_err(), "{bad}");
    }
    assert!(
        promtool("# TYPE a counter\na 1\n").is_err(),
        "promtool lints counters without _total"
    );
}

// ------------------------------------------------------------ literal snapshots

const CLIENT: &str = "app-0b8e6f7a-1c2d-4e5f-8a9b-0c1d2e3f4a5b";

fn capture(level: Option<i32>, beans: &str) -> Snapshot {
    let level = level
        .map(|l| format!(r#","recording-level":{{"type":"java.lang.Integer","value":{l}}}"#))
        .unwrap_or_default();
    let text = format!(
        r#"{{"format":"ksbridge-capture/1","captured_at_ms":1,"beans":[
        {{"name":"kafka.streams:type=stream-metrics,client-id={CLIENT}","attributes":{{
            "application-id":{{"type":"java.lang.String","value":"app"}},
            "version":{{"type":"java.lang.String","value":"4.4.0"}},
            "state":{{"type":"org.apache.kafka.streams.KafkaStreams$State","enum":true,"value":"RUNNING"}}{level}}}}},
        {beans}]}}"#
    );
    Snapshot::from_capture_json(&text).unwrap()
}

fn beans() -> String {
    let t = format!("{CLIENT}-StreamThread-1");
    format!(
        r#"{{"name":"kafka.streams:type=stream-thread-metrics,thread-id={t}","attributes":{{
            "process-total":{{"type":"java.lang.Double","value":17.0}},
            "process-rate":{{"type":"java.lang.Double","value":0.5}},
            "commit-latency-avg":{{"type":"java.lang.Double","value":4.0}},
            "poll-latency-max":{{"type":"java.lang.Double","value":"NaN"}}}}}},
        {{"name":"kafka.streams:type=stream-task-metrics,thread-id={t},task-id=1_2","attributes":{{
            "dropped-records-total":{{"type":"java.lang.Double","value":3.0}},
            "process-latency-avg":{{"type":"java.lang.Double","value":"NaN"}},
            "process-total":{{"type":"java.lang.Double","value":0.0}}}}}},
        {{"name":"kafka.streams:type=stream-state-metrics,thread-id={t},task-id=1_2,rocksdb-window-state-id=\"a,b=c\"","attributes":{{
            "put-latency-avg":{{"type":"java.lang.Double","value":"NaN"}},
            "put-total":{{"type":"java.lang.Double","value":0.0}},
            "num-open-iterators":{{"type":"java.lang.Long","value":0}}}}}},
        {{"name":"kafka.streams:type=stream-state-metrics,thread-id={t},task-id=1_2,in-memory-state-id=mem","attributes":{{
            "put-latency-avg":{{"type":"java.lang.Double","value":1500.0}},
            "record-e2e-latency-avg":{{"type":"java.lang.Double","value":2.0}}}}}}"#
    )
}

fn find<'a>(families: &'a [Family], name: &str) -> Option<&'a Family> {
    families.iter().find(|f| f.name == name)
}

fn labels(f: &Family, i: usize) -> Vec<(&str, &str)> {
    f.samples[i]
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn pinned_names_labels_and_units() {
    let s = capture(Some(1), &beans());
    let f = families_of(&s, "t", &Options::default());
    let text = encode_text(&f);

    let p = find(&f, "kafka_streams_thread_process").expect("thread process");
    assert_eq!(p.kind, Kind::Counter);
    assert_eq!(
        labels(p, 0),
        vec![
            ("application_id", "app"),
            ("client_id", CLIENT),
            ("thread", "StreamThread-1"),
            ("target", "t")
        ]
    );
    assert!(text.contains(&format!(
        "kafka_streams_thread_process_total{{application_id=\"app\",client_id=\"{CLIENT}\",thread=\"StreamThread-1\",target=\"t\"}} 17\n"
    )));
    let c = find(&f, "kafka_streams_thread_commit_latency_avg_seconds").unwrap();
    assert_eq!((c.kind, c.samples[0].value), (Kind::Gauge, 0.004));
    let d = find(&f, "kafka_streams_task_dropped_records").unwrap();
    assert_eq!(d.kind, Kind::Counter);
    assert_eq!(
        labels(d, 0)[3..].to_vec(),
        vec![
            ("task", "1_2"),
            ("subtopology", "1"),
            ("partition", "2"),
            ("target", "t")
        ]
    );
    let put = find(&f, "kafka_streams_store_put_latency_avg_seconds").unwrap();
    let mem = put
        .samples
        .iter()
        .find(|s| s.labels.iter().any(|(k, v)| k == "store" && v == "mem"))
        .unwrap();
    assert_eq!(mem.value, 1.5e-6, "ns -> seconds");
    assert!(mem
        .labels
        .contains(&("store_type".into(), "in-memory".into())));
    assert!(
        put.samples.iter().any(|s| {
            s.labels.contains(&("store".into(), "a,b=c".into()))
                && s.labels
                    .contains(&("store_type".into(), "rocksdb-window".into()))
                && s.value.is_nan()
        }),
        "quoted store names are decoded; a recorded avg without samples is NaN"
    );
    assert!(text.contains(&format!(
        "kafka_streams_state{{application_id=\"app\",client_id=\"{CLIENT}\",state=\"RUNNING\",target=\"t\"}} 1\n"
    )));
    assert!(text.contains(&format!(
        "kafka_streams_state{{application_id=\"app\",client_id=\"{CLIENT}\",state=\"ERROR\",target=\"t\"}} 0\n"
    )));
    let om = encode_openmetrics(&f);
    // A gauge per state, not a StateSet: strict OpenMetrics parsers want a
    // StateSet label named after the family (docs/insight.md).
    assert!(om.contains("# TYPE kafka_streams_state gauge\n"));
    assert!(om.contains("# TYPE kafka_streams_thread_process counter\n"));
    check_openmetrics(&om).unwrap();
    promtool(&text).unwrap();
    // Rates are off by default and on with the option.
    assert!(find(&f, "kafka_streams_thread_process_rate").is_none());
    let with_rates = families_of(
        &s,
        "t",
        &Options {
            rates: true,
            ..Options::default()
        },
    );
    assert!(find(&with_rates, "kafka_streams_thread_process_rate").is_some());
    // Groups can be turned off.
    let no_store = Options {
        groups: Options::default()
            .groups
            .into_iter()
            .filter(|g| *g != "store")
            .collect(),
        ..Options::default()
    };
    assert!(find(
        &families_of(&s, "t", &no_store),
        "kafka_streams_store_put_latency_avg_seconds"
    )
    .is_none());
}

#[test]
fn recording_levels_gate_debug_and_trace_metrics() {
    // INFO (declared): DEBUG metrics (task process latency, store put) and TRACE (store e2e) absent.
    let info = families_of(&capture(Some(0), &beans()), "t", &Options::default());
    for absent in [
        "kafka_streams_task_process_latency_avg_seconds",
        "kafka_streams_task_process",
        "kafka_streams_store_put_latency_avg_seconds",
        "kafka_streams_store_put",
        "kafka_streams_store_record_e2e_latency_avg_seconds",
    ] {
        assert!(find(&info, absent).is_none(), "{absent} at INFO");
    }
    assert!(find(&info, "kafka_streams_store_num_open_iterators").is_some());
    assert!(find(&info, "kafka_streams_task_dropped_records").is_some());
    // DEBUG: DEBUG present, TRACE absent.
    let debug = families_of(&capture(Some(1), &beans()), "t", &Options::default());
    assert!(find(&debug, "kafka_streams_task_process").is_some());
    assert!(find(&debug, "kafka_streams_store_record_e2e_latency_avg_seconds").is_none());
    // TRACE: store e2e latency (ms) present.
    let trace = families_of(&capture(Some(2), &beans()), "t", &Options::default());
    let e2e = find(&trace, "kafka_streams_store_record_e2e_latency_avg_seconds").unwrap();
    assert_eq!(e2e.samples[0].value, 0.002);
    // No recording-level attribute (Kafka 3.x): inferred from values. The
    // in-memory store's put latency carries a value, so DEBUG is inferred.
    let inferred = families_of(&capture(None, &beans()), "t", &Options::default());
    let lvl = find(&inferred, "kafka_streams_recording_level").unwrap();
    assert!(
        lvl.samples[0]
            .labels
            .contains(&("level".into(), "TRACE".into()))
            || lvl.samples[0]
                .labels
                .contains(&("level".into(), "DEBUG".into()))
    );
    assert!(lvl.samples[0]
        .labels
        .contains(&("source".into(), "inferred".into())));
    // Without any DEBUG value, INFO is inferred and DEBUG NaN/0 series are not emitted.
    let idle = beans()
        .replace("1500.0", "\"NaN\"")
        .replace("\"value\":2.0", "\"value\":\"NaN\"");
    let idle = families_of(&capture(None, &idle), "t", &Options::default());
    assert!(find(&idle, "kafka_streams_store_put_latency_avg_seconds").is_none());
    assert!(find(&idle, "kafka_streams_task_process").is_none());
    let lvl = find(&idle, "kafka_streams_recording_level").unwrap();
    assert!(lvl.samples[0]
        .labels
        .contains(&("level".into(), "INFO".into())));
}
