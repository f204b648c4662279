//! Read benchmark driver (run by `scripts/bench-jmx.sh`): attaches to a pid and
//! times warm full reads through the bulk path, per-attribute reads, and
//! re-querying names each read, all in one run. Prints one JSON object.

use std::time::{Duration, Instant};

use ksbridge::jvm::{Jvm, ReadMode, Target};

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let pid: u32 = args
        .next()
        .ok_or("usage: bench_read PID [ITERATIONS]")?
        .parse()?;
    let iterations: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(25);
    let rss_before = rss_kib();
    let jvm = Jvm::get()?;
    let rss_jvm = rss_kib();
    let conn = jvm
        .connect(Target::Pid(pid), Duration::from_secs(30))
        .await?;
    let patterns = || vec!["kafka.streams:*".to_string()];
    let modes = [
        ("bulk", ReadMode::default()),
        (
            "per_attribute",
            ReadMode {
                per_attribute: true,
                requery: false,
                all_attributes: false,
            },
        ),
        (
            "requery",
            ReadMode {
                per_attribute: false,
                requery: true,
                all_attributes: false,
            },
        ),
    ];
    let mut out = serde_json::Map::new();
    let mut beans = 0;
    let mut attrs = 0;
    for (name, mode) in modes {
        // Warm-up reads (JIT, caches, connections).
        for _ in 0..3 {
            jvm.read_with(conn, patterns(), Duration::from_secs(120), mode)
                .await?;
        }
        let mut ms = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let t = Instant::now();
            let r = jvm
                .read_with(conn, patterns(), Duration::from_secs(120), mode)
                .await?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            beans = r.snapshot.beans.len();
            attrs = r.snapshot.beans.iter().map(|b| b.attributes.len()).sum();
        }
        ms.sort_by(f64::total_cmp);
        out.insert(
            name.into(),
            serde_json::json!({"median_ms": pct(&ms, 0.5), "p95_ms": pct(&ms, 0.95)}),
        );
    }
    let median = |k: &str| out[k]["median_ms"].as_f64().unwrap_or(f64::NAN);
    let ratios = serde_json::json!({
        "per_attribute_over_bulk": median("per_attribute") / median("bulk"),
        "requery_over_bulk": median("requery") / median("bulk"),
    });
    out.insert("ratios".into(), ratios);
    out.insert("beans".into(), beans.into());
    out.insert("attributes".into(), attrs.into());
    out.insert("iterations".into(), iterations.into());
    out.insert(
        "rss_kib".into(),
        serde_json::json!({"before_jvm": rss_before, "jvm_started": rss_jvm, "after_reads": rss_kib()}),
    );
    jvm.close(conn).await;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
