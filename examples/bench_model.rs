//! Times ksbridge's own work on one snapshot once it is read: the Streams
//! model, the scrape's merge and both encoders, with allocation counts (run by
//! `scripts/bench.sh`; by hand: `cargo run --release --example bench_model --
//! [--beans N] [--attrs M] [--iterations K] [--dump DIR] [CAPTURE.json]...`;
//! `--dump` writes each snapshot's 0.0.4 and OpenMetrics text to `DIR`, to
//! compare the bytes served by two builds).
//!
//! Without a capture it builds the replay JVM's benchmark shape
//! (`tests/java/replay`, `--generate beans=N,attrs=M`: processor-node beans
//! of 4 threads x 8 subtopologies x 16 partitions, Kafka's attribute names,
//! every third bean's windowed stats NaN) in memory. Prints one JSON line per
//! snapshot.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ksbridge::exposition::encode::{encode_openmetrics, encode_text};
use ksbridge::exposition::{merge_served, Family};
use ksbridge::jmx::{Attribute, Bean, ObjectName, Snapshot, Value};
use ksbridge::streams::{families as families_of, Options};

/// Counts allocations, to show how much the hot paths allocate.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// Safety: delegates every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // Safety: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Safety: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // Safety: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The replay JVM's generated attribute names, in order (`Replay.BENCH_ATTRS`).
const BENCH_ATTRS: &[&str] = &[
    "process-rate",
    "process-total",
    "record-e2e-latency-avg",
    "record-e2e-latency-min",
    "record-e2e-latency-max",
    "suppression-emit-rate",
    "suppression-emit-total",
    "idempotent-update-skip-rate",
    "idempotent-update-skip-total",
    "emit-final-latency-avg",
    "emit-final-latency-max",
    "emit-final-records-rate",
    "emit-final-records-total",
];

/// The replay JVM's `--generate beans=N,attrs=M` shape, built in memory.
fn generated(beans: usize, attrs: usize) -> Snapshot {
    let client = "bench-6a1f4a8e-5b0e-3c8f-9d1a-2b3c4d5e6f70";
    let mut seed: u64 = 42;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out = Vec::with_capacity(beans);
    for n in 0..beans {
        let (thread, sub, part) = (n % 4 + 1, (n / 4) % 8, (n / 32) % 16);
        let raw = format!(
            "kafka.streams:type=stream-processor-node-metrics,thread-id={client}-StreamThread-{thread},task-id={sub}_{part},processor-node-id=KSTREAM-SOURCE-{n:010}"
        );
        let Ok(name) = ObjectName::parse(&raw) else {
            continue;
        };
        let attributes = (0..attrs)
            .map(|k| {
                let attr = BENCH_ATTRS
                    .get(k)
                    .map_or_else(|| format!("metric-{k}"), |s| s.to_string());
                let windowed =
                    attr.ends_with("-avg") || attr.ends_with("-min") || attr.ends_with("-max");
                let value = if windowed && n % 3 == 0 {
                    f64::NAN
                } else if attr.ends_with("-total") {
                    (next() * 1e6).floor()
                } else {
                    next() * 100.0
                };
                Attribute {
                    name: attr,
                    value: Value::Double(value),
                }
            })
            .collect();
        out.push(Bean {
            name,
            class_name: "org.apache.kafka.common.metrics.JmxReporter$KafkaMbean".into(),
            attributes,
        });
    }
    out.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
    Snapshot::new(0, out)
}

/// Median and allocations per run of `f` over `n` runs.
fn time<T>(n: usize, mut f: impl FnMut() -> T) -> (f64, u64, T) {
    let mut ms = Vec::with_capacity(n);
    let mut allocs = 0;
    let mut last = None;
    for _ in 0..n {
        let a0 = ALLOCS.load(Ordering::Relaxed);
        let t = Instant::now();
        let v = f();
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        allocs = ALLOCS.load(Ordering::Relaxed) - a0;
        last = Some(v);
    }
    ms.sort_by(f64::total_cmp);
    let v = last.unwrap_or_else(f);
    (ms[ms.len() / 2], allocs, v)
}

fn report(label: &str, snapshot: &Snapshot, iterations: usize, dump: Option<&std::path::Path>) {
    let options = Options::default();
    // Each run gets a snapshot of its own, as each scrape does (a clone
    // carries no index or cache built by an earlier run), cloned untimed.
    let mut fresh = Vec::with_capacity(iterations + 1);
    fresh.resize_with(iterations + 1, || snapshot.clone());
    // A used snapshot is dropped untimed: a JMX source keeps it beside the
    // families it built (the read's `Output`), so the model does not free it.
    let mut used = Vec::with_capacity(iterations + 1);
    let (model_ms, model_allocs, families) = time(iterations, || {
        let s = fresh.pop().unwrap_or_default();
        let families = model(&s, &options);
        used.push(s);
        families
    });
    drop(used);
    // What `Scraper::scrape` does with the sources' families: merge them with
    // the self-metrics into the list it serves.
    let served = [families.as_slice()];
    let (merge_ms, merge_allocs, merged) = time(iterations, || merge(&served));
    let (text_ms, text_allocs, text) = time(iterations, || text_0_0_4(&merged));
    let (om_ms, om_allocs, om) = time(iterations, || openmetrics(&merged));
    if let Some(dir) = dump {
        let file: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let _ = std::fs::write(dir.join(format!("{file}.prom")), &text);
        let _ = std::fs::write(dir.join(format!("{file}.om")), &om);
    }
    let samples: usize = merged.iter().map(|f| f.samples.len()).sum();
    let total = model_ms + merge_ms + text_ms;
    println!(
        "{}",
        serde_json::json!({
            "snapshot": label,
            "beans": snapshot.beans.len(),
            "attributes": snapshot.beans.iter().map(|b| b.attributes.len()).sum::<usize>(),
            "samples": samples,
            "bytes": text.len(),
            "iterations": iterations,
            "median_ms": {
                "model": round(model_ms), "merge": round(merge_ms),
                "text_0_0_4": round(text_ms), "openmetrics": round(om_ms),
                "model_merge_text": round(total),
            },
            "allocations": {
                "model": model_allocs, "merge": merge_allocs,
                "text_0_0_4": text_allocs, "openmetrics": om_allocs,
            },
        })
    );
}

// The timed phases, one function each, so that `valgrind --tool=callgrind
// --toggle-collect='bench_model::model'` (or `merge`, `text_0_0_4`,
// `openmetrics`) counts the instructions of one phase alone.

#[inline(never)]
fn model(s: &Snapshot, options: &Options) -> Vec<Family> {
    families_of(s, "bench", options)
}

#[inline(never)]
fn merge(served: &[&[Family]]) -> Vec<Family> {
    merge_served(served, Vec::<Family>::new())
}

#[inline(never)]
fn text_0_0_4(merged: &[Family]) -> String {
    encode_text(merged)
}

#[inline(never)]
fn openmetrics(merged: &[Family]) -> String {
    encode_openmetrics(merged)
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut beans, mut attrs, mut iterations) = (2000usize, 10usize, 21usize);
    let mut files = Vec::new();
    let mut dump = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |what: &str| -> Result<usize, Box<dyn std::error::Error>> {
            Ok(args
                .next()
                .ok_or(format!("{what} wants a number"))?
                .parse()?)
        };
        match a.as_str() {
            "--beans" => beans = value("--beans")?,
            "--attrs" => attrs = value("--attrs")?,
            "--iterations" => iterations = value("--iterations")?.max(1),
            "--dump" => {
                dump = Some(std::path::PathBuf::from(
                    args.next().ok_or("--dump wants a directory")?,
                ))
            }
            _ => files.push(a),
        }
    }
    report(
        &format!("generated {beans}x{attrs}"),
        &generated(beans, attrs),
        iterations,
        dump.as_deref(),
    );
    for f in files {
        let snapshot = Snapshot::load(std::path::Path::new(&f))?;
        report(&f, &snapshot, iterations, dump.as_deref());
    }
    Ok(())
}
