//! Compiles `java-shim/` with `javac --release 11` and generates
//! `shim_classes.rs`: every class file as `(internal name, bytes)`, embedded
//! in the binary and defined at run time from memory (no jar on disk).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `java-shim/interceptors/` is a separate Maven module (a jar users add to their
/// apps, built by scripts/build-interceptors.sh), not part of the embedded shim.
const NOT_SHIM: &str = "java-shim/interceptors";

fn java_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p == Path::new(NOT_SHIM) {
            continue;
        }
        if p.is_dir() {
            java_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "java") {
            out.push(p);
        }
    }
}

fn class_files(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            class_files(&p, root, out);
        } else if p.extension().is_some_and(|e| e == "class") {
            let rel = p.strip_prefix(root).expect("class under root");
            let name = rel
                .with_extension("")
                .to_string_lossy()
                .replace(std::path::MAIN_SEPARATOR, "/");
            out.push((name, p));
        }
    }
}

fn javac() -> PathBuf {
    if let Some(home) = env::var_os("JAVA_HOME") {
        let p = Path::new(&home).join("bin").join("javac");
        if p.exists() {
            return p;
        }
    }
    PathBuf::from("javac")
}

fn main() {
    // Without the `agent` feature (the fuzz build) nothing embeds the shim.
    if env::var_os("CARGO_FEATURE_AGENT").is_none() {
        return;
    }
    // Every shim directory (not the interceptors module, whose Maven output lives there).
    if let Ok(entries) = fs::read_dir("java-shim") {
        for e in entries.flatten() {
            let p = e.path();
            if p != Path::new(NOT_SHIM) {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
    println!("cargo:rerun-if-env-changed=JAVA_HOME");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let classes = out.join("shim-classes");
    let _ = fs::remove_dir_all(&classes);
    fs::create_dir_all(&classes).expect("create shim-classes");

    let mut sources = Vec::new();
    java_files(Path::new("java-shim"), &mut sources);
    for s in &sources {
        println!("cargo:rerun-if-changed={}", s.display());
    }
    let javac = javac();
    let status = Command::new(&javac)
        .args(["--release", "11", "-encoding", "UTF-8", "-nowarn", "-d"])
        .arg(&classes)
        .args(&sources)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "ksbridge's build needs javac (a JDK 11+) to compile java-shim/: running {} failed: {e}. Install a JDK (e.g. apt-get install openjdk-17-jdk-headless) or set JAVA_HOME.",
                javac.display()
            )
        });
    assert!(status.success(), "javac failed on java-shim/");

    let mut files = Vec::new();
    class_files(&classes, &classes, &mut files);
    let mut code = String::from("/// Shim classes: (internal name, class file bytes).\npub static CLASSES: &[(&str, &[u8])] = &[\n");
    for (name, path) in files {
        code.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    code.push_str("];\n");
    fs::write(out.join("shim_classes.rs"), code).expect("write shim_classes.rs");
}
