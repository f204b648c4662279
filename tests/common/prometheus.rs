//! A real Prometheus (Debian package `prometheus`, loopback, temporary
//! storage, 1 s scrapes) for the end-to-end tests, its HTTP API, and a child
//! process guard. Input: the port it scrapes (and rule files); output:
//! instant query results as (labels, value).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::lab::free_port;

/// A child process stopped (TERM, then KILL after 10 s) and reaped on drop.
pub struct Proc(pub Child, pub &'static str, pub PathBuf);

impl Proc {
    /// Its log file (stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.2).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.0.id().to_string()])
                .status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if self.0.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// GET over plain HTTP/1.1: (status, body), de-chunked.
pub fn http_get(port: u16, path_and_query: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    write!(
        s,
        "GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((n, r)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(n.trim(), 16).ok()?;
            if n == 0 {
                break;
            }
            out.push_str(&r[..n]);
            rest = &r[n + 2..];
        }
        out
    } else {
        body.to_string()
    };
    Some((status, body))
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

/// The answer to an instant query: Ok(series as (labels, value)) or Err(the
/// API's error, e.g. a parse error).
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

/// Instant query: (labels, value) of each result series; None on any error.
pub fn query(port: u16, q: &str) -> Option<Vec<(serde_json::Value, f64)>> {
    try_query(port, q).ok()
}

/// A Prometheus scraping `127.0.0.1:<target_port>` (job `ksbridge`) and
/// evaluating `rule_files` at one interval (1 s unless `start_every`).
pub struct Prometheus {
    pub proc: Proc,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    pub fn start(target_port: u16, rule_files: &[PathBuf]) -> Prometheus {
        Prometheus::start_every(target_port, rule_files, 1)
    }

    /// Scrapes (timeout = interval) and evaluates every `seconds`.
    pub fn start_every(target_port: u16, rule_files: &[PathBuf], seconds: u32) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("prometheus.yml");
        let mut text = format!(
            "global:\n  scrape_interval: {seconds}s\n  scrape_timeout: {seconds}s\n  evaluation_interval: {seconds}s\nscrape_configs:\n  - job_name: ksbridge\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
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
            proc: Proc(child, "prometheus", log),
            port,
            _dir: dir,
        }
    }

    /// The last lines of its log.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.proc.log();
        let mut lines: Vec<&str> = log.lines().rev().take(n).collect();
        lines.reverse();
        lines.join("\n")
    }
}

/// `ksbridge serve` on a free loopback port with `args` after the listen
/// address; its log (info) in a temporary directory.
pub fn start_serve(args: &[&str]) -> (Proc, u16) {
    let port = free_port();
    let dir = std::env::temp_dir().join(super::lab::unique("ksb-serve"));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("serve.log");
    let child = Command::new(env!("CARGO_BIN_EXE_ksbridge"))
        .args([
            "--log.level",
            "ksbridge=info",
            "serve",
            "--web.listen-address",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    (Proc(child, "ksbridge", log), port)
}
