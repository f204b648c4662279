//! Every endpoint of `ksbridge serve` behind `--web.config.file` (the
//! Prometheus exporter-toolkit format): TLS with openssl-made certificates,
//! a client certificate required (a missing or foreign one is refused),
//! bcrypt users from `htpasswd -B`, configured headers, a reload when the
//! file changes, a real Prometheus scraping over TLS with basic auth, and a
//! `/` page that shows no secret from a target's command line.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::lab::{free_port, wait_until};

const WAIT: Duration = Duration::from_secs(60);

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(cmd: &mut Command) -> Output {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// A CA, a server certificate for 127.0.0.1 signed by it, a client
/// certificate signed by it, and a client certificate of another CA.
fn certificates(dir: &Path) {
    let ssl = |args: &[&str]| {
        run(Command::new("openssl").current_dir(dir).args(args));
    };
    for ca in ["ca", "rogue-ca"] {
        ssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{ca}.key"),
            "-out",
            &format!("{ca}.crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={ca}"),
        ]);
    }
    let leaf = |name: &str, ca: &str, ext: &str| {
        ssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}"),
        ]);
        std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
        ssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &format!("{name}.crt"),
            "-extfile",
            &format!("{name}.ext"),
        ]);
    };
    leaf(
        "server",
        "ca",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    );
    leaf("client", "ca", "extendedKeyUsage=clientAuth\n");
    leaf("rogue", "rogue-ca", "extendedKeyUsage=clientAuth\n");
}

fn htpasswd(user: &str, password: &str) -> String {
    let o = run(Command::new("htpasswd").args(["-nbB", "-C", "6", user, password]));
    let line = String::from_utf8_lossy(&o.stdout).trim().to_string();
    line.split_once(':').unwrap().1.to_string()
}

/// curl over TLS: `(status, headers and body)`; status 0 when the handshake failed.
fn curl(
    dir: &Path,
    port: u16,
    path: &str,
    cert: Option<&str>,
    user: Option<&str>,
) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.current_dir(dir)
        .args(["-s", "-i", "--max-time", "20", "--cacert", "ca.crt"])
        .arg(format!("https://127.0.0.1:{port}{path}"));
    if let Some(c) = cert {
        cmd.args(["--cert", &format!("{c}.crt"), "--key", &format!("{c}.key")]);
    }
    if let Some(u) = user {
        cmd.args(["-u", u]);
    }
    let o = cmd.output().expect("run curl");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let status = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn idle_jvm_with_a_password_argument(dir: &Path) -> Proc {
    let src = dir.join("Idle.java");
    std::fs::write(
        &src,
        "public class Idle { public static void main(String[] a) throws Exception { Thread.sleep(600_000); } }\n",
    )
    .unwrap();
    let p = Proc(
        Command::new(common::lab::java())
            .args([
                "-Xmx32m",
                "-XX:+UseSerialGC",
                "-Dsasl.jaas.config=PlainLoginModule required password=\"jaas-secret\";",
            ])
            .arg(&src)
            .args(["--password", "hunter2", "--api.token=tok-123"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = p.0.id();
    wait_until("the JVM to start", WAIT, || {
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
fn tls_client_certificates_basic_auth_reload_and_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    certificates(d);
    let alice = htpasswd("alice", "s3cret");
    let web = d.join("web.yml");
    let write_web = |users: &str| {
        std::fs::write(
            &web,
            format!(
                "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
                 client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  \
                 min_version: TLS12\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n\
                 http_server_config:\n  headers:\n    X-Frame-Options: deny\n\
                 basic_auth_users:\n{users}"
            ),
        )
        .unwrap();
    };
    write_web(&format!("  alice: '{alice}'\n"));

    let jvm = idle_jvm_with_a_password_argument(d);
    let port = free_port();
    let log = d.join("serve.log");
    let _serve = Proc(
        Command::new(env!("CARGO_BIN_EXE_ksbridge"))
            .args([
                "serve",
                "--web.listen-address",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("--web.config.file")
            .arg(&web)
            .args(["--target", &jvm.0.id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let ok = wait_until("ksbridge serve over TLS", WAIT, || {
        let r = curl(d, port, "/healthz", Some("client"), Some("alice:s3cret"));
        (r.0 == 200).then_some(r.1)
    });
    assert!(
        ok.to_ascii_lowercase().contains("x-frame-options: deny"),
        "{ok}"
    );

    // No client certificate, or one of another CA: the handshake fails.
    assert_eq!(curl(d, port, "/metrics", None, Some("alice:s3cret")).0, 0);
    assert_eq!(
        curl(d, port, "/metrics", Some("rogue"), Some("alice:s3cret")).0,
        0
    );
    // A good certificate without or with wrong credentials: 401 on every endpoint.
    for path in ["/metrics", "/", "/healthz"] {
        let (status, text) = curl(d, port, path, Some("client"), None);
        assert_eq!(status, 401, "{path}: {text}");
        assert!(
            text.to_ascii_lowercase()
                .contains("www-authenticate: basic"),
            "{text}"
        );
        assert_eq!(
            curl(d, port, path, Some("client"), Some("alice:wrong")).0,
            401
        );
        assert_eq!(
            curl(d, port, path, Some("client"), Some("mallory:s3cret")).0,
            401
        );
    }
    // The first read of the target (its attach) can miss a scrape on a busy machine.
    let metrics = wait_until("/metrics with credentials", WAIT, || {
        let (status, text) = curl(d, port, "/metrics", Some("client"), Some("alice:s3cret"));
        (status == 200).then_some(text)
    });
    assert!(metrics.contains("ksbridge_scrape_success"), "{metrics}");

    // `/` shows the target's command line without its secrets.
    let index = wait_until("the target on /", WAIT, || {
        let (s, t) = curl(d, port, "/", Some("client"), Some("alice:s3cret"));
        (s == 200 && t.contains("Idle.java")).then_some(t)
    });
    for secret in ["hunter2", "tok-123", "jaas-secret"] {
        assert!(!index.contains(secret), "{secret} on /:\n{index}");
    }
    assert!(index.contains("&lt;redacted&gt;"), "{index}");

    // A real Prometheus: over TLS with a client certificate and basic auth up
    // is 1; a job without credentials gets 401 and up 0.
    let prom_dir = tempfile::tempdir().unwrap();
    let prom_port = free_port();
    let cfg = prom_dir.path().join("prometheus.yml");
    let tls = format!(
        "    scheme: https\n    tls_config:\n      ca_file: {0}/ca.crt\n      cert_file: {0}/client.crt\n      key_file: {0}/client.key\n",
        d.display()
    );
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  \
             - job_name: authed\n{tls}    basic_auth:\n      username: alice\n      password: s3cret\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n  \
             - job_name: anonymous\n{tls}    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .unwrap();
    let prom = Proc(
        Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                prom_dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(prom_dir.path().join("prometheus.log")).unwrap())
            .spawn()
            .expect("prometheus (Debian package prometheus) must be installed"),
    );
    let query = |q: &str| -> String {
        let o = Command::new("curl")
            .args(["-s", "--max-time", "5", "-G"])
            .arg(format!("http://127.0.0.1:{prom_port}/api/v1/query"))
            .args(["--data-urlencode", &format!("query={q}")])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let up = |job: &str| -> Option<String> {
        let o = Command::new("curl")
            .args(["-s", "--max-time", "5"])
            .arg(format!("http://127.0.0.1:{prom_port}/api/v1/targets"))
            .output()
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
        v["data"]["activeTargets"]
            .as_array()?
            .iter()
            .find(|t| t["labels"]["job"] == job)
            .map(|t| format!("{} {}", t["health"], t["lastError"]))
    };
    let mut last = (None, None);
    let seen = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(
            "Prometheus to scrape over TLS with basic auth",
            WAIT,
            || {
                last = (up("authed"), up("anonymous"));
                let scraped = query("ksbridge_scrape_success{job=\"authed\"}");
                (last.0.as_deref().is_some_and(|h| h.starts_with("\"up\""))
                    && last
                        .1
                        .as_deref()
                        .is_some_and(|h| h.starts_with("\"down\"") && h.contains("401"))
                    && scraped.contains("\"1\"]"))
                .then_some(())
            },
        )
    }));
    assert!(
        seen.is_ok(),
        "Prometheus targets: {last:?}\n{}",
        std::fs::read_to_string(prom_dir.path().join("prometheus.log")).unwrap_or_default()
    );

    // Prometheus scrapes with a 1 s deadline that a read on this shared
    // machine can miss (a 503 for whoever shares that read): stop it first.
    drop(prom);
    // Reload: a second user added to the file works without a restart.
    assert_eq!(
        curl(d, port, "/healthz", Some("client"), Some("bob:pw2")).0,
        401
    );
    let bob = htpasswd("bob", "pw2");
    write_web(&format!("  alice: '{alice}'\n  bob: '{bob}'\n"));
    wait_until("the new user after a reload", WAIT, || {
        (curl(d, port, "/healthz", Some("client"), Some("bob:pw2")).0 == 200).then_some(())
    });
    // A broken file keeps the last good configuration.
    std::fs::write(&web, "tls_server_config: [\n").unwrap();
    // The file is looked at when a request comes (as in the toolkit).
    wait_until("the broken file to be noticed", WAIT, || {
        curl(d, port, "/healthz", Some("client"), Some("bob:pw2"));
        std::fs::read_to_string(&log)
            .ok()
            .filter(|l| l.contains("not reloaded"))
    });
    let (status, text) = curl(d, port, "/healthz", Some("client"), Some("bob:pw2"));
    assert_eq!(
        status,
        200,
        "{text}\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(curl(d, port, "/healthz", None, Some("bob:pw2")).0, 0);
    let serve_log = std::fs::read_to_string(&log).unwrap();
    for secret in ["hunter2", "tok-123", "s3cret", "pw2"] {
        assert!(
            !serve_log.contains(secret),
            "{secret} in the log:\n{serve_log}"
        );
    }
}
