//! A real Prometheus (Debian package `prometheus`) for tests: started on a
//! free loopback port with temporary storage, stopped on drop; plus a plain
//! HTTP GET and the instant/range query API. Also `Proc`, a child process
//! stopped (TERM, then KILL) and reaped on drop, with its log file.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::lab::free_port;

/// A child process stopped (SIGTERM, SIGKILL after 10 s) and reaped on drop.
pub struct Proc {
    pub child: Child,
    pub name: &'static str,
    pub log: PathBuf,
}

impl Proc {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True while the process has not exited.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_none()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if self.child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `GET path` on loopback: (status, body as text); `None` when the
/// connection fails or the answer is not HTTP (the one HTTP client is
/// `serve::http`).
pub fn http_get(port: u16, path_and_query: &str) -> Option<(u16, String)> {
    super::serve::http(port, "GET", path_and_query, &[])
        .ok()
        .map(|r| (r.status, r.text()))
}

/// Percent-encodes a query parameter.
pub fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A running Prometheus scraping loopback targets; stopped on drop.
pub struct Prometheus {
    pub proc: Proc,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Scrapes `targets` (loopback ports, job `ksbridge`) every `interval`
    /// (also the scrape timeout).
    pub fn start(targets: &[u16], interval: &str) -> Prometheus {
        Prometheus::start_with_rules(targets, interval, &[])
    }

    /// As `start`, also loading `rule_files` (evaluated every `interval`).
    pub fn start_with_rules(targets: &[u16], interval: &str, rule_files: &[PathBuf]) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("prometheus.yml");
        let list: Vec<String> = targets.iter().map(|p| format!("'127.0.0.1:{p}'")).collect();
        let mut text = format!(
            "global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\n  evaluation_interval: {interval}\nscrape_configs:\n  - job_name: ksbridge\n    static_configs:\n      - targets: [{}]\n",
            list.join(", ")
        );
        if !rule_files.is_empty() {
            text.push_str("rule_files:\n");
            for f in rule_files {
                text.push_str(&format!("  - '{}'\n", f.display()));
            }
        }
        std::fs::write(&config, text).unwrap();
        let log = dir.path().join("prometheus.log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("prometheus (Debian package prometheus) must be installed");
        Prometheus {
            proc: Proc {
                child,
                name: "prometheus",
                log,
            },
            port,
            _dir: dir,
        }
    }

    /// Instant query: (labels, value) of each result series; `None` when
    /// Prometheus does not answer 200.
    pub fn query(&self, q: &str) -> Option<Vec<(serde_json::Value, f64)>> {
        query(self.port, q)
    }

    /// The last lines of Prometheus's log.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.proc.log();
        let mut tail: Vec<&str> = log.lines().rev().take(n).collect();
        tail.reverse();
        tail.join("\n")
    }
}

/// Instant query against Prometheus on `port`.
pub fn query(port: u16, q: &str) -> Option<Vec<(serde_json::Value, f64)>> {
    let (status, body) = http_get(port, &format!("/api/v1/query?query={}", encode(q)))?;
    if status != 200 {
        return None;
    }
    let j: serde_json::Value = serde_json::from_str(&body).ok()?;
    let result = j["data"]["result"].as_array()?;
    Some(
        result
            .iter()
            .map(|r| {
                let v = r["value"][1]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::NAN);
                (r["metric"].clone(), v)
            })
            .collect(),
    )
}

/// Instant query against Prometheus on `port`: the series, or the API's
/// error (e.g. a PromQL parse error) as text.
pub fn try_query(port: u16, q: &str) -> Result<Vec<(serde_json::Value, f64)>, String> {
    let (status, body) = http_get(port, &format!("/api/v1/query?query={}", encode(q)))
        .ok_or_else(|| "no answer".to_string())?;
    let j: serde_json::Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    if status != 200 {
        return Err(format!("{status}: {}", j["error"]));
    }
    let result = j["data"]["result"]
        .as_array()
        .ok_or_else(|| format!("not a vector: {body}"))?;
    Ok(result
        .iter()
        .map(|r| {
            let v = r["value"][1]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN);
            (r["metric"].clone(), v)
        })
        .collect())
}
