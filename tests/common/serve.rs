//! A `ksbridge serve` child process for tests: listens on a free loopback
//! port, is fetched from with `curl`, and is stopped (SIGTERM, then kill)
//! when dropped, whether the test passed or not.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::lab::{free_port, wait_until};

pub struct Serve {
    child: Child,
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Serve {
    /// Start `ksbridge serve ARGS` and wait until it answers `/healthz`.
    pub fn start(args: &[&str]) -> Serve {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("serve.log");
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_ksbridge"))
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
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("ksbridge serve");
        let s = Serve {
            child,
            port,
            log,
            _dir: dir,
        };
        wait_until(
            "ksbridge serve to answer /healthz",
            Duration::from_secs(60),
            || s.get("/healthz"),
        );
        s
    }

    /// The body of a 2xx answer to `path`, or `None`.
    pub fn get(&self, path: &str) -> Option<String> {
        let out = Command::new("curl")
            .args(["-sf", "--max-time", "30"])
            .arg(format!("http://127.0.0.1:{}{path}", self.port))
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
