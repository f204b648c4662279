//! Test helper for `ksbridge serve`: starts it on a free loopback port with
//! arguments, optionally through a prefix command (killed on drop if still running), speaks minimal HTTP/1.1 to it (any
//! method, chunked bodies decoded), reads its threads and RSS from `/proc`,
//! and writes replay captures with unique application ids. Output: `Serve`
//! handles, `Response`s, capture paths.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use super::lab::{free_port, wait_until};
use super::replay::default_capture;

/// How long `serve` may take to answer `/healthz` after it starts.
pub const START: Duration = Duration::from_secs(60);

/// A running `ksbridge serve`; killed (and reaped) on drop if still running.
pub struct Serve {
    child: Child,
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Serve {
    /// Starts `ksbridge --log.level ksbridge=debug serve --web.listen-address
    /// 127.0.0.1:PORT ARGS...` and waits until `/healthz` answers 200.
    pub fn start(args: &[&str]) -> Serve {
        Serve::start_as(&[], args)
    }

    /// Like `start`, run through `prefix` (e.g. `namespaces::as_user`).
    pub fn start_as(prefix: &[String], args: &[&str]) -> Serve {
        let mut s = Serve::spawn_with(prefix, free_port(), args);
        let t0 = std::time::Instant::now();
        while !s.get("/healthz", &[]).is_ok_and(|r| r.status == 200) {
            if let Some(status) = s.try_wait() {
                panic!("ksbridge serve exited ({status}):\n{}", s.log());
            }
            if t0.elapsed() > START {
                panic!(
                    "ksbridge serve did not answer /healthz within {START:?}:\n{}",
                    s.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    /// Starts `serve` with `args` on a free port without waiting for it.
    pub fn spawn(args: &[&str]) -> Serve {
        Serve::spawn_on(free_port(), args)
    }

    /// Starts `serve` with `args` listening on `port`, without waiting.
    pub fn spawn_on(port: u16, args: &[&str]) -> Serve {
        Serve::spawn_with(&[], port, args)
    }

    fn spawn_with(prefix: &[String], port: u16, args: &[&str]) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("serve.log");
        let listen = format!("127.0.0.1:{port}");
        let exe = env!("CARGO_BIN_EXE_ksbridge");
        let mut cmd = match prefix.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        let child = cmd
            .args([
                "--log.level",
                "ksbridge=debug",
                "serve",
                "--web.listen-address",
                &listen,
            ])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Serve {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> std::io::Result<Response> {
        http(self.port, "GET", path, headers)
    }

    /// GET `path`: (status, body as text); `None` when the connection fails.
    pub fn get_text(&self, path: &str) -> Option<(u16, String)> {
        self.get(path, &[]).ok().map(|r| (r.status, r.text()))
    }

    pub fn request(&self, method: &str, path: &str) -> std::io::Result<Response> {
        http(self.port, method, path, &[])
    }

    /// The 0.0.4 text of one scrape.
    pub fn metrics(&self) -> String {
        self.get("/metrics", &[])
            .map(|r| r.text())
            .unwrap_or_default()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM (to this child only).
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// The exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM and wait: the exit must be clean.
    pub fn stop(&mut self) -> ExitStatus {
        self.terminate();
        wait_until(
            "ksbridge serve to exit after SIGTERM",
            Duration::from_secs(20),
            || self.try_wait(),
        )
    }

    /// Number of threads of the process (`/proc/<pid>/task`).
    pub fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Thread names (`comm`, at most 15 bytes each).
    pub fn thread_names(&self) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(format!("/proc/{}/task", self.pid())) else {
            return Vec::new();
        };
        let mut names: Vec<String> = dir
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
            .map(|s| s.trim_end().to_string())
            .collect();
        names.sort();
        names
    }

    /// Resident set size in KiB (`VmRSS` of `/proc/<pid>/status`).
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.split_whitespace().next()?.parse().ok())
            })
            .unwrap_or(0)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub struct Response {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// A minimal HTTP/1.1 GET (Connection: close; chunked bodies decoded).
pub fn http_get(port: u16, path: &str, headers: &[(&str, &str)]) -> std::io::Result<Response> {
    http(port, "GET", path, headers)
}

/// A minimal HTTP/1.1 request of any method (Connection: close; chunked
/// bodies decoded; no body is read for HEAD).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if matches!(method, "POST" | "PUT" | "PATCH") {
        req.push_str("Content-Length: 0\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse_response(&raw, method == "HEAD")
}

fn parse_response(raw: &[u8], head_only: bool) -> std::io::Result<Response> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (_, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
    if !head_only
        && headers
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
    {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .unwrap_or(rest.len());
            let n =
                usize::from_str_radix(String::from_utf8_lossy(&rest[..nl]).trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + n]);
            rest = &rest[nl + 2 + n + 2..];
        }
        body = out;
    }
    Ok(Response {
        status,
        headers: headers.replace("\r\n", "\n"),
        body,
    })
}

/// The default replay capture with a unique application id and client id.
pub fn capture_for(dir: &Path, app: &str, client_suffix: &str) -> PathBuf {
    let text = std::fs::read_to_string(default_capture()).unwrap();
    let text = text
        .replace(
            "zmart-3c1e7f6a-8d2b-4b5e-9f0a-1b2c3d4e5f60",
            &format!("{app}-3c1e7f6a-8d2b-4b5e-9f0a-1b2c3d4e{client_suffix}"),
        )
        .replace("\"zmart\"", &format!("\"{app}\""));
    let path = dir.join(format!("{app}-{client_suffix}.json"));
    std::fs::write(&path, text).unwrap();
    path
}

/// The first line of `text` starting with `prefix` and containing `needle`.
pub fn line_with<'a>(text: &'a str, prefix: &str, needle: &str) -> Option<&'a str> {
    text.lines()
        .find(|l| l.starts_with(prefix) && l.contains(needle))
}
