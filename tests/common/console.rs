//! Test helper for the console's target JVM (tests/java/console): compiles it
//! once per test process, starts it with feature flags (`--busy`, `--alloc`,
//! `--deadlock`), asks it for what its own platform MXBeans report, and kills
//! it on drop (it also exits when its stdin closes). Output: `TargetJvm` handles.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::OnceLock;
use std::time::Duration;

use super::replay::{java_bin, javac_bin};

fn classes() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let src = root.join("tests/java/console/ksbridge/console/Target.java");
        // Keyed by the source's content: an unchanged source is not recompiled, and
        // concurrent test processes never see half-written classes (compile, then rename).
        let text = std::fs::read(&src).expect("read Target.java");
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&text, &mut h);
        let base = root.join("target").join("console-classes");
        let out = base.join(format!("{:016x}", std::hash::Hasher::finish(&h)));
        if out.is_dir() {
            return out;
        }
        let tmp = base.join(format!("tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let status = Command::new(javac_bin())
            .args(["--release", "17", "-nowarn", "-encoding", "UTF-8", "-d"])
            .arg(&tmp)
            .arg(&src)
            .status()
            .expect("run javac");
        assert!(status.success(), "javac failed for {}", src.display());
        if std::fs::rename(&tmp, &out).is_err() {
            let _ = std::fs::remove_dir_all(&tmp); // another test process installed it first
        }
        out
    })
}

/// A running target JVM; dropping it kills and reaps it.
pub struct TargetJvm {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    pid: u32,
}

impl TargetJvm {
    /// Starts the target with the given flags plus extra JVM options, waits for READY.
    pub fn start(flags: &[&str], jvm_opts: &[&str]) -> TargetJvm {
        let mut cmd = Command::new(java_bin());
        cmd.args(["-Xms32m", "-Xmx256m", "-XX:+UseSerialGC"])
            .args(jvm_opts)
            .arg("-cp")
            .arg(classes())
            .arg("ksbridge.console.Target")
            .args(flags)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("spawn the console target JVM");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut t = TargetJvm {
            child,
            stdin,
            lines,
            pid: 0,
        };
        let ready = t.next_line(Duration::from_secs(60), "READY");
        t.pid = ready
            .trim_start_matches("READY pid=")
            .trim()
            .parse()
            .expect("pid in READY");
        t
    }

    fn next_line(&mut self, timeout: Duration, prefix: &str) -> String {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => continue,
                Err(e) => panic!("console target: no {prefix} line ({e:?})"),
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// What the target's own platform MXBeans report now.
    pub fn figures(&mut self) -> serde_json::Value {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "figures").expect("write to the target");
        stdin.flush().expect("flush");
        let line = self.next_line(Duration::from_secs(10), "{");
        serde_json::from_str(&line).expect("figures JSON")
    }

    /// Kills the JVM and waits for it (for "target gone" tests).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TargetJvm {
    fn drop(&mut self) {
        self.stdin.take();
        self.kill();
    }
}
