//! Times the model and the encoders on one capture (run by hand:
//! `cargo run --release --example bench_exposition -- capture.json`): how much
//! of a scrape is ksbridge's own work once the snapshot is read.

use std::time::Instant;

use ksbridge::exposition::encode::{encode_openmetrics, encode_text};
use ksbridge::jmx::Snapshot;
use ksbridge::streams::families as families_of;
use ksbridge::streams::Options;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: bench_exposition CAPTURE.json")?;
    let snapshot = Snapshot::load(std::path::Path::new(&path))?;
    let options = Options::default();
    let (mut build, mut text, mut om) = (Vec::new(), Vec::new(), Vec::new());
    let mut size = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let f = families_of(&snapshot, "bench", &options);
        build.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        size = encode_text(&f).len();
        text.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let _ = encode_openmetrics(&f).len();
        om.push(t.elapsed().as_secs_f64() * 1e3);
    }
    for v in [&mut build, &mut text, &mut om] {
        v.sort_by(f64::total_cmp);
    }
    println!(
        "beans {} bytes {size}: build median {:.1} ms, text 0.0.4 {:.1} ms, OpenMetrics {:.1} ms",
        snapshot.beans.len(),
        build[10],
        text[10],
        om[10]
    );
    Ok(())
}
