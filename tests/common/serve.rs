//! `ksbridge serve` as a child process on a free loopback port, for tests that read its
//! pages. Input: extra arguments; output: a handle that answers GET requests and kills
//! the process on drop.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::lab::{free_port, wait_until};
use super::prom::http_get;

/// How long `serve` may take to answer `/healthz`.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `ksbridge serve`; killed on drop.
pub struct Serve {
    child: Child,
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Serve {
    /// Starts `ksbridge --log.level ksbridge=debug serve --web.listen-address 127.0.0.1:PORT
    /// ARGS...` and waits until `/healthz` answers.
    pub fn start(args: &[&str]) -> Serve {
        Serve::start_as(&[], args)
    }

    /// Like `start`, run through `prefix` (e.g. `namespaces::as_user`).
    pub fn start_as(prefix: &[String], args: &[&str]) -> Serve {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = dir.path().join("serve.log");
        let port = free_port();
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
            ])
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("creating the serve log"))
            .spawn()
            .expect("starting ksbridge serve");
        let mut s = Serve {
            child,
            port,
            log,
            _dir: dir,
        };
        wait_until("ksbridge serve to answer /healthz", START_TIMEOUT, || {
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!("ksbridge serve exited ({status}):\n{}", s.log());
            }
            s.get("/healthz").filter(|(code, _)| *code == 200)
        });
        s
    }

    /// GET `path`: status code and body, `None` when nothing answered.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.port, path)
    }

    /// The text of one scrape of `/metrics` (empty when it failed).
    pub fn metrics(&self) -> String {
        self.get("/metrics").map(|(_, b)| b).unwrap_or_default()
    }

    /// What `serve` logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
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
