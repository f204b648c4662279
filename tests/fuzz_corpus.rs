//! The fuzz corpora as a regression test on the stable toolchain: every
//! committed input of `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`
//! (inputs that once crashed it) goes through the same body the
//! libFuzzer binary runs (`fuzz/src/lib.rs`, included here), built with debug
//! assertions and overflow checks. A parser change that panics on an input
//! the fuzzers once found interesting fails here, without a nightly build.
//! Coverage-guided runs themselves: `scripts/fuzz.sh`, `docs/fuzzing.md`.

#[path = "../fuzz/src/lib.rs"]
mod harness;

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn body(target: &str) -> harness::Body {
    harness::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, f)| *f)
        .unwrap_or_else(|| panic!("no fuzz target {target} in fuzz/src/lib.rs"))
}

/// Runs every file of the target's corpus through its body; fails with the
/// names of the inputs that panicked.
fn replay(target: &str) {
    replay_with(target, body(target));
}

/// [`replay`] with another body for the target's inputs.
fn replay_with(target: &str, run: harness::Body) {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    // Inputs that once crashed the target, kept apart from the minimised corpus.
    if let Ok(rd) = std::fs::read_dir(fuzz_dir().join("regressions").join(target)) {
        files.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_file()));
    }
    files.sort();
    assert!(
        files.len() >= 5,
        "corpus {} has {} inputs: the committed corpus is missing",
        dir.display(),
        files.len()
    );
    let mut failed = Vec::new();
    for file in &files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if panic::catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
            failed.push(file.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} of {} corpus inputs panic (replay one with `cargo +nightly fuzz run {target} FILE`): {failed:#?}",
        failed.len(),
        files.len()
    );
}

#[test]
fn objectname_corpus() {
    replay("objectname");
}

#[test]
fn wire_corpus() {
    replay("wire");
}

#[test]
fn capture_json_corpus() {
    replay("capture_json");
}

#[test]
fn web_config_corpus() {
    replay("web_config");
}

#[test]
fn serve_config_corpus() {
    replay("serve_config");
}

#[test]
fn topology_corpus() {
    replay("topology");
    // The fuzzer renders a sample of the large inputs; here every one.
    replay_with("topology", harness::topology_all_renderers);
}

/// Every body has a libFuzzer binary (a `fuzz_targets/` file and a `[[bin]]`
/// in `fuzz/Cargo.toml`), a corpus and a replay test above; every binary and
/// corpus has a body: a target added on one side only fails here.
#[test]
fn targets_corpora_and_binaries_agree() {
    let dir = fuzz_dir();
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let this =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_corpus.rs"))
            .expect("this test's source");
    let names: Vec<&str> = harness::TARGETS.iter().map(|(n, _)| *n).collect();
    for name in &names {
        assert!(
            dir.join("fuzz_targets")
                .join(format!("{name}.rs"))
                .is_file(),
            "fuzz/fuzz_targets/{name}.rs missing"
        );
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "no [[bin]] {name} in fuzz/Cargo.toml"
        );
        assert!(
            this.contains(&format!("replay(\"{name}\")")),
            "no replay test of {name} in tests/fuzz_corpus.rs"
        );
    }
    for sub in ["fuzz_targets", "corpus"] {
        for e in std::fs::read_dir(dir.join(sub))
            .expect("fuzz dir")
            .flatten()
        {
            let p = e.path();
            let stem = p.file_stem().unwrap_or_default().to_string_lossy();
            assert!(
                names.contains(&stem.as_ref()),
                "fuzz/{sub}/{} has no body in fuzz/src/lib.rs",
                p.display()
            );
        }
    }
}

/// The fuzz crate's lock file pins the main lock file's versions: the quick
/// fuzz build (`scripts/fuzz.sh --ci`, in the main target dir) then reuses
/// the dependencies the main debug build compiled instead of compiling a
/// second version of each.
#[test]
fn fuzz_lock_file_matches_the_main_one() {
    let versions = |path: &Path| -> Vec<(String, String)> {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let lock: toml::Table = toml::from_str(&text).expect("a lock file");
        lock["package"]
            .as_array()
            .expect("[[package]]")
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().expect("name").to_string(),
                    p["version"].as_str().expect("version").to_string(),
                )
            })
            .collect()
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let main = versions(&root.join("Cargo.lock"));
    let differ: Vec<String> = versions(&fuzz_dir().join("Cargo.lock"))
        .into_iter()
        .filter(|(name, version)| {
            main.iter().any(|(n, _)| n == name)
                && !main.iter().any(|(n, v)| n == name && v == version)
        })
        .map(|(name, version)| format!("{name} {version}"))
        .collect();
    assert!(
        differ.is_empty(),
        "fuzz/Cargo.lock has versions the main Cargo.lock does not (align them with \
         `cargo update --manifest-path fuzz/Cargo.toml -p NAME --precise VERSION`): {differ:?}"
    );
}

/// The quick CI build reuses the main build's dependencies only while both
/// workspaces build them with the same dev profile.
#[test]
fn fuzz_dev_profile_matches_the_main_one() {
    let profile = |path: &Path| -> Option<toml::Value> {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let manifest: toml::Table = toml::from_str(&text).expect("a manifest");
        manifest.get("profile")?.get("dev").cloned()
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert_eq!(
        profile(&fuzz_dir().join("Cargo.toml")),
        profile(&root.join("Cargo.toml")),
        "[profile.dev] of fuzz/Cargo.toml and Cargo.toml differ"
    );
}
