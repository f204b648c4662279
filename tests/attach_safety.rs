//! Attaching fails closed: `ksbridge mbeans <pid>` and `get <pid>` against
//! non-Java processes (Python, a shell, a static C binary, a process whose
//! /proc evidence cannot be read) refuse at once with exit code 4, send no
//! signal (every process survives; SIGQUIT would kill each of them) and leave
//! no attach trigger file; JVMs started with `-Xrs` or
//! `-XX:+DisableAttachMechanism` are refused too, while a plain JVM is read.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::lab::wait_until;

/// `EXIT_CANNOT_ATTACH` in src/cli/mod.rs.
const EXIT_CANNOT_ATTACH: i32 = 4;

/// A child process killed and reaped when the test ends, passed or failed.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn spawn(cmd: &mut Command) -> Proc {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
        Proc(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

fn ksbridge(args: &[&str], proc_root: Option<&Path>) -> (Output, Duration) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ksbridge"));
    cmd.args(args).env_remove("KSBRIDGE_PROC_ROOT");
    if let Some(root) = proc_root {
        cmd.env("KSBRIDGE_PROC_ROOT", root);
    }
    let start = Instant::now();
    let out = cmd.output().expect("run ksbridge");
    (out, start.elapsed())
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Waits until the process has a thread other than its first, or at least
/// has run for a moment, so that it has set up whatever it handles.
fn settle(p: &Proc) {
    let comm = PathBuf::from(format!("/proc/{}/comm", p.pid()));
    wait_until("the process to start", Duration::from_secs(10), || {
        std::fs::read_to_string(&comm)
            .ok()
            .filter(|c| !c.is_empty())
    });
}

/// Runs `mbeans` and `get` against `p` and checks the refusal: exit code 4,
/// the expected words, fast, no attach file, and the process still alive.
fn assert_refused(p: &mut Proc, proc_root: Option<&Path>, expect: &str) {
    let pid = p.pid().to_string();
    for args in [
        vec!["mbeans", pid.as_str()],
        vec!["get", pid.as_str(), "java.lang:type=Runtime", "Uptime"],
    ] {
        let (o, took) = ksbridge(&args, proc_root);
        assert_eq!(
            o.status.code(),
            Some(EXIT_CANNOT_ATTACH),
            "{args:?}: {}",
            stderr(&o)
        );
        assert!(stderr(&o).contains(expect), "{args:?}: {}", stderr(&o));
        assert!(took < Duration::from_secs(10), "{args:?} took {took:?}");
        // The attach API creates .attach_pid<pid> before it signals: none may exist.
        for dir in [format!("/proc/{pid}/cwd"), "/tmp".to_string()] {
            let trigger = Path::new(&dir).join(format!(".attach_pid{pid}"));
            assert!(!trigger.exists(), "{} exists", trigger.display());
        }
        assert!(p.alive(), "pid {pid} died after {args:?}");
    }
}

#[test]
fn non_java_processes_are_refused_and_survive() {
    let dir = tempfile::tempdir().unwrap();
    let mut python =
        Proc::spawn(Command::new("python3").args(["-c", "import time\nwhile True: time.sleep(1)"]));
    let mut shell = Proc::spawn(Command::new("sh").args(["-c", "while :; do sleep 1; done"]));
    // A static binary (no libc to recognise it by), built here.
    let src = dir.path().join("spin.c");
    std::fs::write(
        &src,
        "#include <unistd.h>\nint main(void){for(;;)pause();}\n",
    )
    .unwrap();
    let bin = dir.path().join("spin");
    let cc = Command::new("cc")
        .arg("-static")
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("run cc");
    assert!(cc.status.success(), "cc -static: {}", stderr(&cc));
    let mut spin = Proc::spawn(&mut Command::new(&bin));
    for p in [&python, &shell, &spin] {
        settle(p);
    }
    assert_refused(&mut python, None, "not a HotSpot JVM");
    assert_refused(&mut shell, None, "not a HotSpot JVM");
    assert_refused(&mut spin, None, "not a HotSpot JVM");
}

/// Copies the parts of /proc/<pid> named in `keep` into `root/<pid>/`.
fn fixture_root(root: &Path, pid: u32, keep: &[&str]) {
    let dst = root.join(pid.to_string());
    std::fs::create_dir_all(&dst).unwrap();
    for f in keep {
        std::fs::copy(format!("/proc/{pid}/{f}"), dst.join(f)).unwrap();
    }
}

#[test]
fn unreadable_evidence_refuses_and_the_java_side_checks_again() {
    let mut python =
        Proc::spawn(Command::new("python3").args(["-c", "import time\nwhile True: time.sleep(1)"]));
    settle(&python);
    let pid = python.pid();
    // Threads, maps and fds unreadable (as for another user's process under a
    // restrictive ptrace policy): no evidence, no attach.
    let hidden = tempfile::tempdir().unwrap();
    fixture_root(hidden.path(), pid, &["status", "stat", "cmdline"]);
    assert_refused(
        &mut python,
        Some(hidden.path()),
        "cannot tell whether it is a JVM",
    );

    // A root that wrongly claims HotSpot threads: the Rust side lets it pass,
    // the Java side reads the real /proc, finds no Signal Dispatcher and refuses.
    let lying = tempfile::tempdir().unwrap();
    fixture_root(lying.path(), pid, &["status", "stat", "cmdline"]);
    for (tid, name) in [(1, "VM Thread"), (2, "Signal Dispatch")] {
        let t = lying.path().join(format!("{pid}/task/{tid}"));
        std::fs::create_dir_all(&t).unwrap();
        std::fs::write(t.join("comm"), format!("{name}\n")).unwrap();
    }
    assert_refused(
        &mut python,
        Some(lying.path()),
        "no HotSpot Signal Dispatcher",
    );
}

fn java() -> PathBuf {
    common::lab::java()
}

/// A JVM that idles (a one-file source program) with extra flags.
fn idle_jvm(dir: &Path, flags: &[&str]) -> Proc {
    let src = dir.join("Idle.java");
    std::fs::write(
        &src,
        "public class Idle { public static void main(String[] a) throws Exception { Thread.sleep(600_000); } }\n",
    )
    .unwrap();
    let p = Proc::spawn(
        Command::new(java())
            .args(["-Xmx32m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
            .args(flags)
            .arg(&src),
    );
    // Started: HotSpot's Signal Dispatcher runs, or (with -Xrs) the program's main thread does.
    let pid = p.pid();
    wait_until("the JVM to start", Duration::from_secs(30), || {
        let threads = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
        threads
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
            .any(|c| c.trim() == "Common-Cleaner")
            .then_some(())
    });
    p
}

#[test]
fn jvms_that_must_not_be_signalled_are_refused_and_a_plain_one_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut xrs = idle_jvm(dir.path(), &["-Xrs"]);
    assert_refused(&mut xrs, None, "-Xrs");
    let mut disabled = idle_jvm(dir.path(), &["-XX:+DisableAttachMechanism"]);
    assert_refused(&mut disabled, None, "DisableAttachMechanism");
    let mut plain = idle_jvm(dir.path(), &[]);
    let pid = plain.pid().to_string();
    // Attaching can be slow on a loaded machine: a generous timeout.
    let (o, _) = ksbridge(
        &[
            "get",
            &pid,
            "java.lang:type=Runtime",
            "Pid",
            "--timeout",
            "90s",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), pid);
    assert!(plain.alive());
}
