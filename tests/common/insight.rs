//! Helpers of the insight tests: `ksbridge serve` reading one JVM (the shared
//! [`Serve`]), its `/metrics` and a sample's value, waiting on the
//! exposition, and one-shot `ksbridge` commands (`status`, `topology`) with
//! a time limit.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use super::serve::Serve;

/// `ksbridge serve` (the shared [`Serve`]) reading only `pid` (no
/// discovery), with the state poller at `poll` and `extra` flags.
pub fn serve(pid: u32, poll: &str, extra: &[&str]) -> Serve {
    let pid = pid.to_string();
    let mut args = vec![
        "--target",
        &pid,
        "--discovery",
        "false",
        "--state-poller.interval",
        poll,
    ];
    args.extend_from_slice(extra);
    Serve::start(&args)
}

/// `/metrics` of `s` in the format `accept` asks for, `None` unless it answered 200.
pub fn metrics_as(s: &Serve, accept: &str) -> Option<String> {
    let o = Command::new("curl")
        .args(["-sf", "-m", "20", "-H", &format!("Accept: {accept}")])
        .arg(format!("http://127.0.0.1:{}/metrics", s.port))
        .output()
        .ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// `/metrics` of `s` in the Prometheus text format, `None` unless it answered 200.
pub fn metrics(s: &Serve) -> Option<String> {
    s.get_text("/metrics")
        .filter(|(code, _)| *code == 200)
        .map(|(_, body)| body)
}

/// Waits until `/metrics` satisfies `ok` and returns it; on timeout the
/// panic shows the health, state, restore and lag-status lines last seen.
pub fn until(s: &Serve, what: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    let mut last = String::new();
    loop {
        if let Some(m) = metrics(s) {
            if ok(&m) {
                return m;
            }
            last = m;
        }
        if start.elapsed() > timeout {
            let shown: Vec<&str> = last
                .lines()
                .filter(|l| {
                    l.starts_with("kafka_streams_health")
                        || l.starts_with("kafka_streams_restore_remaining")
                        || l.starts_with("kafka_streams_restore_eta")
                        || l.starts_with("kafka_streams_restore_last")
                        || l.starts_with("kafka_streams_state_transitions")
                        || (l.starts_with("kafka_consumergroup_status{") && l.ends_with(" 1"))
                        || l.starts_with("kafka_consumergroup_lag{")
                })
                .collect();
            panic!(
                "timed out after {timeout:?} waiting for {what}; last /metrics lines:\n{}\nserve log (tail):\n{}",
                shown.join("\n"),
                tail(&s.log(), 30)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The value of the first sample of family `name` whose label text contains every `part`.
pub fn value(text: &str, name: &str, parts: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| parts.iter().all(|p| l.contains(p)))
        .and_then(|l| l.rsplit_once(' '))
        .and_then(|(_, v)| v.parse().ok())
}

/// Runs `ksbridge ARGS`; panics when it takes over 60 s.
pub fn ksbridge(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ksbridge"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ksbridge");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "ksbridge {args:?} hung:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `ksbridge status ARGS --json`: the exit code and the JSON document.
pub fn status_json(args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut all = vec!["status"];
    all.extend_from_slice(args);
    all.push("--json");
    let o = ksbridge(&all);
    let v = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (o.status.code(), v)
}

/// The codes of the health reasons in a `status --json` document.
pub fn reason_codes(v: &serde_json::Value) -> Vec<String> {
    v["health"]["reasons"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["code"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// `ksbridge status ARGS --watch --json --interval 0.2` running in the
/// background: every refresh's JSON document, in order. Drop kills it.
pub struct StatusWatch {
    child: std::process::Child,
    docs: std::sync::mpsc::Receiver<serde_json::Value>,
}

impl StatusWatch {
    pub fn start(args: &[&str]) -> StatusWatch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ksbridge"))
            .arg("status")
            .args(args)
            .args(["--watch", "--json", "--interval", "0.2"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ksbridge status --watch");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, docs) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let docs = serde_json::Deserializer::from_reader(std::io::BufReader::new(stdout))
                .into_iter::<serde_json::Value>();
            for d in docs {
                let Ok(v) = d else { break };
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        StatusWatch { child, docs }
    }

    /// Waits until a refresh satisfies `ok` and returns it; on timeout the
    /// panic shows the last document.
    pub fn until(
        &self,
        what: &str,
        timeout: Duration,
        ok: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let start = Instant::now();
        let mut last = serde_json::Value::Null;
        loop {
            let left = timeout.saturating_sub(start.elapsed());
            match self.docs.recv_timeout(left.min(Duration::from_millis(500))) {
                Ok(v) if ok(&v) => return v,
                Ok(v) => last = v,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("status --watch ended while waiting for {what}; last: {last}")
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
            if start.elapsed() >= timeout {
                panic!("timed out after {timeout:?} waiting for {what} in status --watch; last: {last}");
            }
        }
    }
}

impl Drop for StatusWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `last_restores` entry of `task` (`None`: the client as a whole) of
/// the first instance in a `status --json` document.
pub fn last_restore<'a>(
    v: &'a serde_json::Value,
    task: Option<&str>,
) -> Option<&'a serde_json::Value> {
    v["instances"][0]["last_restores"]
        .as_array()?
        .iter()
        .find(|p| p["task"].as_str() == task)
}
