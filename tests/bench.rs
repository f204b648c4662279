//! The benchmark's quick mode (`scripts/bench.sh --quick`) runs end to end
//! with this build's binaries, so the benchmark cannot rot: small shapes, few
//! rounds, no timing assertions; it must finish and print every section of
//! its table with figures in them.

use std::path::PathBuf;
use std::process::Command;

/// `target/<profile>/examples/bench_model`, built here when missing (a lone
/// `cargo test --test bench` does not build examples).
fn model_bin() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_ksbridge"));
    let dir = exe.parent().expect("target dir");
    let bin = dir.join("examples").join("bench_model");
    if !bin.exists() {
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "--example", "bench_model"]);
        if dir.ends_with("release") {
            build.arg("--release");
        }
        let status = build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building examples/bench_model failed");
    }
    bin
}

#[test]
fn quick_benchmark_prints_its_table() {
    let json = tempfile::NamedTempFile::new().expect("temp file");
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/bench.sh"))
        .args(["--quick", "--json"])
        .arg(json.path())
        .env("KSB_BENCH_BIN", env!("CARGO_BIN_EXE_ksbridge"))
        .env("KSB_BENCH_MODEL_BIN", model_bin())
        .env("KSB_BENCH_PROFILE", "debug")
        .output()
        .expect("scripts/bench.sh runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench.sh failed:\n{stdout}\n{stderr}");
    println!("{stdout}");
    for section in [
        "## model + merge + encoding",
        "## warm /metrics",
        "## the RMI floor",
        "## many targets",
    ] {
        assert!(stdout.contains(section), "no {section:?} in:\n{stdout}");
    }
    let res: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json.path()).expect("json written")).expect("json");
    let peers = &res["scrape"]["peers"];
    for peer in ["ksbridge", "ksbridge_all_attributes"] {
        let samples = peers[peer]["samples"].as_u64().unwrap_or(0);
        assert!(samples > 0, "{peer} served no samples: {}", peers[peer]);
    }
    // Reading only the served attributes serves the same samples.
    assert_eq!(
        peers["ksbridge"]["samples"], peers["ksbridge_all_attributes"]["samples"],
        "{peers}"
    );
    assert_eq!(
        peers["ksbridge"]["exposition_bytes"]
            .as_u64()
            .map(|b| b > 0),
        Some(true)
    );
    let targets = res["targets"].as_array().expect("targets");
    assert_eq!(
        targets
            .iter()
            .map(|t| t["targets"].as_u64())
            .collect::<Vec<_>>(),
        vec![Some(1), Some(2)]
    );
    // The floor client read the same target, in both JVM settings.
    for run in ["rmi_floor_default_jit", "rmi_floor_embedded_flags"] {
        let median = res["floor"]["runs"][run]["median_ms"].as_f64();
        assert!(median.is_some_and(|m| m > 0.0), "{run}: {}", res["floor"]);
    }
    let model = res["model"].as_array().expect("model");
    assert!(model[0]["samples"].as_u64().unwrap_or(0) > 0, "{model:?}");
}
