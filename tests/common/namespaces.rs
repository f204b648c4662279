//! A JVM in PID and mount namespaces of its own, as a container runs it: `unshare` with a
//! private `/tmp` (a tmpfs only that JVM sees). Input: the lab directory to keep visible
//! inside; output: the command prefix, the JVM's host pid, what `/proc` says about it.
//!
//! The namespace's init is the JVM itself (`sh` execs it), so when it exits the kernel
//! ends everything else in the namespace; `unshare --kill-child` kills it when `unshare`
//! is killed, so the lab's Guard pattern (stdin closed, or the handle's SIGKILL) still
//! stops it.
#![allow(dead_code)]

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// How long `unshare` may take to set up the namespaces and exec the JVM.
const FORK_TIMEOUT: Duration = Duration::from_secs(20);

/// How `isolate` runs the JVM.
#[derive(Clone, Debug, Default)]
pub struct Isolation {
    /// Run the JVM as this uid and gid, without capabilities (its lab directory handed
    /// over to it), as a pod's `runAsUser`/`runAsGroup` do; `None`: as this process's user.
    pub user: Option<(u32, u32)>,
}

/// Runs inside the new mount namespace before the JVM: a tmpfs over `/tmp`, then the lab
/// directory (`$1`, the old one, reached through the working directory that still points
/// at it; `--no-canonicalize` so that `mount` does not turn `.` into a path, which would
/// name the new, empty directory) bound back at the same path, so the app's output, logs and state directory stay
/// where the test reads them while `/tmp/.java_pid*` and `/tmp/hsperfdata_*` are private.
/// With a user (`$3`, `uid:gid`), the app's directory (`$2`) becomes its and the JVM runs
/// as it with no capabilities; `--pdeathsig` because changing credentials clears the
/// parent-death signal `unshare --kill-child` set.
const SETUP: &str = r#"set -e
keep=$1; own=$2; user=$3; shift 3
cwd=$(pwd)
cd "$keep"
mount -t tmpfs -o mode=1777,size=64m ksbridge-private-tmp /tmp
mkdir -p "$keep"
mount --no-canonicalize --bind . "$keep"
cd "$cwd" 2>/dev/null || cd "$keep"
if [ -n "$user" ]; then
  chown -R "$user" "$own"
  set -- setpriv --reuid="${user%%:*}" --regid="${user##*:}" --clear-groups \
    --inh-caps=-all --bounding-set=-all --pdeathsig=KILL -- "$@"
fi
exec "$@""#;

/// The command prefix that runs its arguments (the JVM) in new PID and mount namespaces
/// with a private `/tmp`, keeping `keep` (the lab directory) visible and giving `own` (the
/// app's directory) to `how.user`; the JVM is pid 1 inside.
pub fn isolate(keep: &Path, own: &Path, how: &Isolation) -> Vec<String> {
    let user = how
        .user
        .map(|(uid, gid)| format!("{uid}:{gid}"))
        .unwrap_or_default();
    [
        "unshare",
        "--pid",
        "--mount",
        "--propagation",
        "private",
        "--fork",
        "--kill-child",
        "--",
        "sh",
        "-c",
        SETUP,
        "sh",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([keep.display().to_string(), own.display().to_string(), user])
    .collect()
}

/// A command prefix that runs its arguments as `uid`:`gid` (no supplementary groups)
/// with only the capabilities `caps` (names as `setpriv` takes them: `sys_ptrace`, ...),
/// inherited and bounding: how a container runs with `capabilities: {drop: [ALL], add: ..}`.
pub fn as_user(uid: u32, gid: u32, caps: &[&str]) -> Vec<String> {
    let set: String = std::iter::once("-all".to_string())
        .chain(caps.iter().map(|c| format!("+{c}")))
        .collect::<Vec<_>>()
        .join(",");
    vec![
        "setpriv".into(),
        format!("--reuid={uid}"),
        format!("--regid={gid}"),
        "--clear-groups".into(),
        format!("--inh-caps={set}"),
        format!("--ambient-caps={set}"),
        format!("--bounding-set={set}"),
        "--".into(),
    ]
}

/// Why namespaces cannot be made here (`None`: they can): `unshare` needs root.
pub fn unavailable() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1)?.parse::<u32>().ok());
    if euid != Some(0) {
        return Some(format!(
            "unshare --pid --mount needs root (effective uid {euid:?})"
        ));
    }
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("unshare").exists()))
        .unwrap_or(false);
    (!found).then(|| "no unshare on PATH (util-linux)".to_string())
}

/// The pid of `parent`'s child process, from `/proc/*/stat` (field 4 is the parent pid).
fn child_of(parent: u32) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        // The command name may hold spaces and parentheses: fields follow the last ')'.
        let after = &stat[stat.rfind(')')? + 1..];
        let ppid: u32 = after.split_whitespace().nth(1)?.parse().ok()?;
        (ppid == parent).then_some(pid)
    })
}

/// Waits until `unshare` (`child`) has forked and its child exec'd `java`; returns that
/// JVM's host pid. Panics with the output so far when `unshare` exits first.
pub fn wait_forked_java(child: &mut Child, out: &Path) -> u32 {
    let start = Instant::now();
    loop {
        if let Some(pid) = child_of(child.id()) {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim_end() == "java" {
                return pid;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "unshare exited ({status}) before starting the JVM:\n{}",
                std::fs::read_to_string(out).unwrap_or_default()
            );
        }
        if start.elapsed() > FORK_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("unshare did not start the JVM within {FORK_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `NSpid:` line of `pid`: its pid in each PID namespace, the host's first.
pub fn ns_pids(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|v| {
            v.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `pid` and this process are in the same mount namespace.
pub fn same_mount_namespace(pid: u32) -> bool {
    let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/mnt")).ok();
    ns("self") == ns(&pid.to_string())
}
