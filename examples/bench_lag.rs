//! Lag benchmark (run by `scripts/bench-lag.sh`): many groups x partitions on
//! a real broker, timed cycle by cycle with the split network / record reads
//! / model; then the pure model alone fed `--model-partitions` recorded
//! partitions. Prints `key=value` lines the script turns into a summary.
//!
//! Usage: bench_lag BOOTSTRAP GROUPS PARTITIONS [MODEL_PARTITIONS]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use ksbridge::lag::{
    self, Collector, CollectorSettings, Fetched, FetchedGroup, LagReport, LagState, Selection,
};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

const T: Duration = Duration::from_secs(60);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: bench_lag BOOTSTRAP GROUPS PARTITIONS [MODEL_PARTITIONS]");
        std::process::exit(2);
    }
    let bootstrap = &args[1];
    let groups: usize = args[2].parse().expect("GROUPS");
    let partitions: i32 = args[3].parse().expect("PARTITIONS");
    let model_partitions: usize = args
        .get(4)
        .map_or(100_000, |s| s.parse().expect("MODEL_PARTITIONS"));
    let prefix = format!("bench-{}", std::process::id());
    let topic = format!("{prefix}-t");

    // Setup: one topic, records in every partition, every group commits on every partition.
    let setup = Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin");
    rt.block_on(admin.create_topics(
        &[NewTopic::new(
            &topic,
            partitions,
            TopicReplication::Fixed(1),
        )],
        &AdminOptions::new(),
    ))
    .expect("create topic");
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    std::thread::sleep(Duration::from_secs(1));
    for p in 0..partitions {
        for i in 0..20 {
            let v = format!("{i}");
            loop {
                match producer.send(BaseRecord::to(&topic).partition(p).key("k").payload(&v)) {
                    Ok(()) => break,
                    Err(_) => {
                        producer.poll(Duration::from_millis(50));
                    }
                }
            }
        }
    }
    producer.flush(T).expect("flush");
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| loop {
                let g = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if g >= groups {
                    break;
                }
                let c: BaseConsumer = ClientConfig::new()
                    .set("bootstrap.servers", bootstrap)
                    .set("group.id", format!("{prefix}-g{g:04}"))
                    .create()
                    .expect("consumer");
                let mut tpl = TopicPartitionList::new();
                for p in 0..partitions {
                    let o = ((g as i64) + p as i64) % 20;
                    tpl.add_partition_offset(&topic, p, Offset::Offset(o))
                        .expect("tpl");
                }
                for _ in 0..50 {
                    if c.commit(&tpl, CommitMode::Sync).is_ok() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            });
        }
    });
    println!("setup_seconds={:.1}", setup.elapsed().as_secs_f64());

    // Our cycles over the real broker: shared connections (the default)
    // first, so the process's threads and RSS are theirs; then the fallback,
    // one librdkafka client per group, as the baseline.
    let sel = Selection {
        all: true,
        ..Selection::default()
    };
    let (col, last) = cycles("", bootstrap, &sel, false);
    // Threads and resident memory with the default path.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for key in ["VmRSS", "Threads"] {
        if let Some(l) = status.lines().find(|l| l.starts_with(key)) {
            let v: String = l.split_whitespace().skip(1).collect::<Vec<_>>().join("");
            println!("process_{key}={v}");
        }
    }
    assert_eq!(
        last.partitions,
        groups * partitions as usize,
        "every partition measured"
    );
    if std::env::var_os("BENCH_LAG_NO_BASELINE").is_none() {
        let (base, _) = cycles("baseline_", bootstrap, &sel, true);
        drop(base);
    }

    // The reference: Kafka's own tool over the same groups, same broker, now.
    let lab = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/kafka-lab");
    let tool = |args: &[&str]| {
        let t = Instant::now();
        let out = std::process::Command::new("bash")
            .arg(lab)
            .args(["tool", "consumer-groups", "--bootstrap-server", bootstrap])
            .args(args)
            .output()
            .expect("kafka-lab tool");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            t.elapsed().as_secs_f64(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (list_s, _) = tool(&["--list"]);
    let (describe_s, text) = tool(&["--describe", "--all-groups"]);
    let rows = text
        .lines()
        .filter(|l| l.starts_with(&format!("{prefix}-g")))
        .count();
    println!(
        "tool_list_seconds={list_s:.3} tool_describe_all_seconds={describe_s:.3} tool_rows={rows} tool_partitions_per_second={:.0} tool_partitions_per_second_minus_startup={:.0}",
        rows as f64 / describe_s,
        rows as f64 / (describe_s - list_s).max(1e-3)
    );

    // The one-shot command a person types, with each path, rows compared to the tool's.
    let tool_rows = table_rows(&text, &prefix);
    for (label, extra) in [
        ("oneshot", &[][..]),
        ("baseline_oneshot", &["--bench.client-per-group"][..]),
    ] {
        if label.starts_with("baseline") && std::env::var_os("BENCH_LAG_NO_BASELINE").is_some() {
            continue;
        }
        let t = Instant::now();
        let out = std::process::Command::new(ksbridge_bin())
            .args([
                "lag",
                "--bootstrap-server",
                bootstrap,
                "--all-groups",
                "--json",
            ])
            .args(extra)
            .output()
            .expect("ksbridge lag");
        let secs = t.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ours = json_rows(&out.stdout, &prefix);
        let equal = ours == tool_rows;
        println!(
            "{label}_seconds={secs:.3} {label}_rows={} {label}_rows_equal_to_tool={equal} {label}_ratio_to_tool={:.3}",
            ours.len(),
            secs / describe_s
        );
        // Where the one-shot's time went (its own JSON carries the cycle's
        // phases; the rest is start-up and printing).
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) {
            for phase in [
                "network_seconds",
                "peek_seconds",
                "model_seconds",
                "total_seconds",
            ] {
                if let Some(x) = v["timings"][phase].as_f64() {
                    println!("{label}_cycle_{phase}={x:.3}");
                }
            }
        }
        assert!(equal, "{label}: rows differ from kafka-consumer-groups");
    }

    // The pure model: recorded offsets replicated to MODEL_PARTITIONS, offsets
    // moving between cycles, full status windows.
    let fetched = col.fetch(&sel).expect("fetch");
    let per_group = partitions as usize;
    let copies = model_partitions.div_ceil(per_group * fetched.groups.len().max(1));
    let mut groups_rec: Vec<FetchedGroup> = Vec::new();
    for c in 0..copies {
        for g in &fetched.groups {
            let mut g = g.clone();
            g.desc.group = format!("{}-copy{c}", g.desc.group);
            groups_rec.push(g);
        }
    }
    let recorded = Fetched {
        taken_at_ms: fetched.taken_at_ms,
        groups: groups_rec,
        missing: vec![],
    };
    let n: usize = recorded
        .groups
        .iter()
        .map(|g| g.partitions.as_ref().map_or(0, |p| p.len()))
        .sum();
    let mut state = LagState::new(CollectorSettings::default());
    let mut times = Vec::new();
    for cycle in 0..12 {
        let mut f = recorded.clone();
        f.taken_at_ms += cycle * 15_000;
        for g in &mut f.groups {
            if let Ok(ps) = &mut g.partitions {
                for p in ps.iter_mut() {
                    p.offsets.end = p.offsets.end.map(|e| e + cycle * 10);
                    p.offsets.stable = p.offsets.end;
                    p.offsets.committed = p.offsets.committed.map(|c| c + cycle * 9);
                }
            }
        }
        let t = Instant::now();
        state.record_ends(&f);
        let reqs = state.peek_requests(&f);
        let report = state.compute(f);
        let dt = t.elapsed().as_secs_f64();
        assert_eq!(report.iter().map(|g| g.partitions.len()).sum::<usize>(), n);
        std::hint::black_box((&reqs, &report));
        times.push(dt);
    }
    let warm = &times[2..];
    let avg = warm.iter().sum::<f64>() / warm.len() as f64;
    let max = warm.iter().cloned().fold(0.0, f64::max);
    println!(
        "model_partitions={n} model_first_cycle_seconds={:.3} model_avg_seconds={avg:.3} model_max_seconds={max:.3} model_partitions_per_second={:.0}",
        times[0],
        n as f64 / avg
    );
    // Cleanup: delete the groups and the topic (BENCH_LAG_KEEP=1 leaves them,
    // to run `ksbridge lag` against them by hand, e.g. under a profiler).
    if std::env::var_os("BENCH_LAG_KEEP").is_some() {
        return;
    }
    let names: BTreeSet<String> = (0..groups).map(|g| format!("{prefix}-g{g:04}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    for chunk in names.chunks(100) {
        let _ = rt.block_on(admin.delete_groups(chunk, &AdminOptions::new()));
    }
    let _ = rt.block_on(admin.delete_topics(&[&topic], &AdminOptions::new()));
    println!("topic={topic} prefix={prefix}");
}

/// Three cycles with one collector, timed; returns it and the last report.
fn cycles(
    label: &str,
    bootstrap: &str,
    sel: &Selection,
    client_per_group: bool,
) -> (Collector, LagReport) {
    let settings = CollectorSettings {
        client_per_group,
        ..CollectorSettings::default()
    };
    let mut col =
        Collector::new(lag::client_config(bootstrap, &[]), T, settings).expect("collector");
    let mut last = None;
    for i in 0..3 {
        let r = col.cycle(sel).expect("cycle");
        let total = r.timings.total_seconds;
        println!(
            "{label}cycle{i}_groups={} {label}cycle{i}_partitions={} {label}cycle{i}_total_seconds={:.3} {label}cycle{i}_network_seconds={:.3} {label}cycle{i}_peek_seconds={:.3} {label}cycle{i}_model_seconds={:.4} {label}cycle{i}_partitions_per_second={:.0}",
            r.groups.len(),
            r.partitions,
            total,
            r.timings.network_seconds,
            r.timings.peek_seconds,
            r.timings.model_seconds,
            r.partitions as f64 / total
        );
        last = Some(r);
    }
    (col, last.expect("a cycle"))
}

/// The release `ksbridge` next to this example (`target/release/ksbridge`).
fn ksbridge_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(|d| d.parent())
        .map(|d| d.join("ksbridge"))
        .expect("target dir")
}

/// GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG of the tool's table.
fn table_rows(text: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut v: Vec<Vec<String>> = text
        .lines()
        .map(|l| {
            l.split_whitespace()
                .take(6)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|w| w.len() == 6 && w[0].starts_with(prefix))
        .collect();
    v.sort();
    v
}

/// The same columns from `ksbridge lag --json` (null printed as the tool's `-`).
fn json_rows(json: &[u8], prefix: &str) -> Vec<Vec<String>> {
    let v: serde_json::Value = serde_json::from_slice(json).expect("json");
    let cell = |x: &serde_json::Value| match x {
        serde_json::Value::Null => "-".to_string(),
        x => x.to_string().trim_matches('"').to_string(),
    };
    let mut rows = Vec::new();
    for g in v["groups"].as_array().into_iter().flatten() {
        let name = g["group"].as_str().unwrap_or_default();
        if !name.starts_with(prefix) {
            continue;
        }
        for p in g["partitions"].as_array().into_iter().flatten() {
            rows.push(vec![
                name.to_string(),
                cell(&p["topic"]),
                cell(&p["partition"]),
                cell(&p["committed"]),
                cell(&p["end"]),
                cell(&p["lag"]),
            ]);
        }
    }
    rows.sort();
    rows
}
