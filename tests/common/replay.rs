//! Test helper for the replay JVM (tests/java/replay): compiles it once per test
//! process, starts it from `ReplayOptions` (capture file, generated 2,000-bean shape,
//! optional remote JMX with or without auth), drives it with one-line commands, and
//! runs the reference `Probe` reader; output: `ReplayJvm` handles, reply lines, probe JSON.
#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

/// How long a command may take to be answered.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the replay JVM may take to print READY (the 2,000-bean shape takes ~1 s).
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one Probe run may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(90);

/// What the replay JVM registers and how it can be reached.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// A capture file (`ksbridge-capture/1`). Default: [`default_capture`].
    /// `None` with `generate: None` starts a JVM without replay beans.
    pub capture: Option<PathBuf>,
    /// `(beans, attrs)`: the generated processor-node shape, e.g. `(2000, 10)`.
    /// Combined with `capture` when both are set.
    pub generate: Option<(usize, usize)>,
    /// Open the JDK's remote JMX agent on a free loopback port (see [`ReplayJvm::jmx_url`]).
    pub jmx_port: bool,
    /// `(user, password)`: remote JMX with authentication (implies `jmx_port`).
    pub jmx_auth: Option<(String, String)>,
    /// Extra JVM arguments, placed before the main class.
    pub extra_jvm_args: Vec<String>,
    /// Entries appended to the class path (e.g. a `kafka-streams-<v>.jar`, which
    /// makes the JVM a Kafka Streams app to discovery's `/proc` evidence).
    pub class_path_extra: Vec<PathBuf>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            capture: Some(default_capture()),
            generate: None,
            jmx_port: false,
            jmx_auth: None,
            extra_jvm_args: Vec::new(),
            class_path_extra: Vec::new(),
        }
    }
}

impl ReplayOptions {
    /// Only the generated shape (no default capture): `generated(2000, 10)`.
    pub fn generated(beans: usize, attrs: usize) -> Self {
        ReplayOptions {
            capture: None,
            generate: Some((beans, attrs)),
            ..ReplayOptions::default()
        }
    }
}

/// A running replay JVM. Dropping it kills the JVM, waits for it and deletes its temp files.
pub struct ReplayJvm {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: Receiver<String>,
    pid: u32,
    beans: usize,
    skipped: usize,
    jmx_url: Option<String>,
    startup: Duration,
    exit_status: Option<ExitStatus>,
    dir: tempfile::TempDir,
}

/// Where the compiled classes are: the replay program (with Kafka's enum copies),
/// the Probe alone (JDK only), and the reader-side stub enums (no FUTURE_STATE).
#[derive(Debug, Clone)]
pub struct ReplayClasses {
    pub main: PathBuf,
    pub probe: PathBuf,
    pub stub: PathBuf,
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The hand-written default capture: tests/fixtures/replay/default.json.
pub fn default_capture() -> PathBuf {
    manifest_dir().join("tests/fixtures/replay/default.json")
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                manifest_dir().join(d)
            }
        }
        None => manifest_dir().join("target"),
    }
}

fn jdk_tool(name: &str) -> PathBuf {
    if let Some(home) = std::env::var_os("JAVA_HOME") {
        let p = PathBuf::from(home).join("bin").join(name);
        if p.is_file() {
            return p;
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!("`{name}` not found: set JAVA_HOME to a JDK 17 or put it on PATH");
}

/// The `java` launcher, from JAVA_HOME or PATH.
pub fn java_bin() -> PathBuf {
    jdk_tool("java")
}

/// The `javac` compiler, from JAVA_HOME or PATH.
pub fn javac_bin() -> PathBuf {
    jdk_tool("javac")
}

fn java_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            java_sources(&path, out);
        } else if path.extension().is_some_and(|x| x == "java") {
            out.push(path);
        }
    }
    out.sort();
}

/// One line per source file (path, size, mtime): the up-to-date check.
fn source_stamp(groups: &[(&str, Vec<PathBuf>)]) -> String {
    let mut stamp = String::new();
    for (_, files) in groups {
        for f in files {
            let meta = fs::metadata(f).expect("source metadata");
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            stamp.push_str(&format!("{} {} {}\n", f.display(), meta.len(), mtime));
        }
    }
    stamp
}

fn javac(out: &Path, files: &[PathBuf]) {
    fs::create_dir_all(out).expect("create class dir");
    let status = Command::new(javac_bin())
        .args(["--release", "17", "-nowarn", "-encoding", "UTF-8", "-d"])
        .arg(out)
        .args(files)
        .status()
        .expect("run javac");
    assert!(
        status.success(),
        "javac failed for the replay sources ({status})"
    );
}

/// Compiles tests/java/replay into `<target>/replay-classes/{main,probe,stub}` once per
/// test process; skipped when the sources have not changed since the last compile.
pub fn classes() -> &'static ReplayClasses {
    static CLASSES: OnceLock<ReplayClasses> = OnceLock::new();
    CLASSES.get_or_init(|| {
        let root = manifest_dir().join("tests/java/replay");
        let groups: Vec<(&str, Vec<PathBuf>)> = ["src", "probe", "stub"]
            .into_iter()
            .map(|g| {
                let mut files = Vec::new();
                java_sources(&root.join(g), &mut files);
                (g, files)
            })
            .collect();
        let stamp = source_stamp(&groups);
        let dest = target_dir().join("replay-classes");
        let classes = ReplayClasses {
            main: dest.join("main"),
            probe: dest.join("probe"),
            stub: dest.join("stub"),
        };
        let stamp_file = dest.join("sources.stamp");
        if fs::read_to_string(&stamp_file).ok().as_deref() == Some(stamp.as_str()) {
            return classes;
        }
        // Compile beside the destination, then swap it in with a rename, so another
        // test process never sees half-written classes.
        let tmp = target_dir().join(format!("replay-classes.tmp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        for (group, files) in &groups {
            let out = match *group {
                "src" => tmp.join("main"),
                other => tmp.join(other),
            };
            javac(&out, files);
        }
        fs::write(tmp.join("sources.stamp"), &stamp).expect("write stamp");
        if fs::read_to_string(&stamp_file).ok().as_deref() == Some(stamp.as_str()) {
            // Another test process finished first.
            let _ = fs::remove_dir_all(&tmp);
            return classes;
        }
        let _ = fs::remove_dir_all(&dest);
        if fs::rename(&tmp, &dest).is_err() {
            let _ = fs::remove_dir_all(&tmp);
            assert!(
                fs::read_to_string(&stamp_file).ok().as_deref() == Some(stamp.as_str()),
                "could not install {}",
                dest.display()
            );
        }
        classes
    })
}

/// A free TCP port on 127.0.0.1 (bound, then released for the child to take).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// Quotes a command argument as a JSON string (needed when it contains spaces).
pub fn quoted(arg: &str) -> String {
    serde_json::to_string(arg).expect("quote")
}

fn write_private(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).expect("chmod 600");
}

impl ReplayJvm {
    /// Starts the replay JVM and waits for its READY line (panics with its stderr
    /// when it does not come). With JMX, a port clash is retried on a new port.
    pub fn start(opts: ReplayOptions) -> ReplayJvm {
        let classes = classes();
        let mut last_failure = String::new();
        let attempts = if opts.jmx_port || opts.jmx_auth.is_some() {
            3
        } else {
            1
        };
        for _ in 0..attempts {
            match Self::try_start(&opts, classes) {
                Ok(jvm) => return jvm,
                Err(failure) => last_failure = failure,
            }
        }
        panic!("replay JVM did not start: {last_failure}");
    }

    fn try_start(opts: &ReplayOptions, classes: &ReplayClasses) -> Result<ReplayJvm, String> {
        let dir = tempfile::Builder::new()
            .prefix("ksbridge-replay-")
            .tempdir()
            .expect("temp dir");
        let stderr_path = dir.path().join("stderr.log");
        let stderr = fs::File::create(&stderr_path).expect("stderr log");
        let mut cmd = Command::new(java_bin());
        cmd.args(["-Xms16m", "-Xmx256m", "-XX:+UseSerialGC"]);
        if opts.jmx_port || opts.jmx_auth.is_some() {
            let port = free_port();
            cmd.arg(format!("-Dcom.sun.management.jmxremote.port={port}"))
                .arg(format!("-Dcom.sun.management.jmxremote.rmi.port={port}"))
                .arg("-Dcom.sun.management.jmxremote.host=127.0.0.1")
                .arg("-Djava.rmi.server.hostname=127.0.0.1")
                .arg("-Dcom.sun.management.jmxremote.ssl=false");
            match &opts.jmx_auth {
                None => {
                    cmd.arg("-Dcom.sun.management.jmxremote.authenticate=false");
                }
                Some((user, password)) => {
                    let pw = dir.path().join("jmxremote.password");
                    let access = dir.path().join("jmxremote.access");
                    write_private(&pw, &format!("{user} {password}\n"));
                    write_private(&access, &format!("{user} readonly\n"));
                    cmd.arg("-Dcom.sun.management.jmxremote.authenticate=true")
                        .arg(format!(
                            "-Dcom.sun.management.jmxremote.password.file={}",
                            pw.display()
                        ))
                        .arg(format!(
                            "-Dcom.sun.management.jmxremote.access.file={}",
                            access.display()
                        ));
                }
            }
        }
        cmd.args(&opts.extra_jvm_args);
        let mut class_path = classes.main.as_os_str().to_owned();
        for extra in &opts.class_path_extra {
            class_path.push(":");
            class_path.push(extra);
        }
        cmd.arg("-cp").arg(class_path).arg("ksbridge.replay.Replay");
        if let Some(capture) = &opts.capture {
            cmd.arg("--capture").arg(capture);
        }
        if let Some((beans, attrs)) = opts.generate {
            cmd.arg("--generate")
                .arg(format!("beans={beans},attrs={attrs}"));
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        let started = Instant::now();
        let mut child = cmd.spawn().expect("spawn java for the replay JVM");
        let stdout = child.stdout.take().expect("stdout piped");
        let stdin = child.stdin.take();
        let (tx, replies) = mpsc::channel();
        std::thread::Builder::new()
            .name("replay-stdout".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
            .expect("spawn reader thread");
        let mut jvm = ReplayJvm {
            pid: child.id(),
            child,
            stdin,
            replies,
            beans: 0,
            skipped: 0,
            jmx_url: None,
            startup: Duration::ZERO,
            exit_status: None,
            dir,
        };
        // Lines the JVM itself may print on stdout (e.g. -Xlog output) are skipped.
        let deadline = started + READY_TIMEOUT;
        let ready = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match jvm.replies.recv_timeout(left) {
                Ok(line) if line.starts_with("READY ") => break line,
                Ok(line) if line.starts_with("FAILED") => {
                    jvm.kill();
                    return Err(format!("{line}; stderr:\n{}", jvm.stderr_log()));
                }
                Ok(line) => eprintln!("replay JVM stdout: {line}"),
                Err(e) => {
                    jvm.kill();
                    return Err(format!(
                        "no READY line ({e:?}); stderr:\n{}",
                        jvm.stderr_log()
                    ));
                }
            }
        };
        jvm.startup = started.elapsed();
        for field in ready.split_whitespace().skip(1) {
            if let Some(v) = field.strip_prefix("pid=") {
                jvm.pid = v.parse().expect("pid in READY");
            } else if let Some(v) = field.strip_prefix("beans=") {
                jvm.beans = v.parse().expect("beans in READY");
            } else if let Some(v) = field.strip_prefix("skipped=") {
                jvm.skipped = v.parse().expect("skipped in READY");
            } else if let Some(v) = field.strip_prefix("jmx=") {
                jvm.jmx_url = Some(v.to_string());
            }
        }
        Ok(jvm)
    }

    /// The JVM's process id (for attach).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `service:jmx:rmi:///jndi/rmi://127.0.0.1:<port>/jmxrmi` when started with JMX.
    pub fn jmx_url(&self) -> Option<String> {
        self.jmx_url.clone()
    }

    /// Number of replay beans registered at start (from the READY line).
    pub fn beans_at_start(&self) -> usize {
        self.beans
    }

    /// Capture beans not registered because the JVM already has them (`java.lang:*`...).
    pub fn skipped_at_start(&self) -> usize {
        self.skipped
    }

    /// Time from spawning `java` to the READY line.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// Everything the JVM wrote to stderr so far.
    pub fn stderr_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Reads of a blocking attribute that started so far (the JVM logs each).
    pub fn blocked_reads(&self) -> usize {
        self.stderr_log()
            .lines()
            .filter(|l| l.starts_with("replay: blocking read of"))
            .count()
    }

    /// Sends one command line and returns the reply line (`ok ...` or `err ...`);
    /// `Err` when the JVM did not answer within [`COMMAND_TIMEOUT`] or is gone.
    pub fn try_command(&mut self, line: &str) -> Result<String, String> {
        assert!(!line.contains('\n'), "a command is one line: {line:?}");
        let Some(stdin) = self.stdin.as_mut() else {
            return Err("stdin is closed".into());
        };
        if let Err(e) = stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|_| stdin.flush())
        {
            return Err(format!("writing to the replay JVM failed: {e}"));
        }
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.replies.recv_timeout(left) {
                Ok(reply)
                    if reply == "ok" || reply.starts_with("ok ") || reply.starts_with("err") =>
                {
                    return Ok(reply)
                }
                Ok(other) => eprintln!("replay JVM stdout: {other}"),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "no reply to {line:?} within {COMMAND_TIMEOUT:?}; stderr:\n{}",
                        self.stderr_log()
                    ))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!(
                        "the replay JVM exited before answering {line:?}; stderr:\n{}",
                        self.stderr_log()
                    ))
                }
            }
        }
    }

    /// Sends one command line and returns the reply line (starting with `ok`);
    /// panics on an `err` reply, a timeout or a dead JVM.
    pub fn command(&mut self, line: &str) -> String {
        match self.try_command(line) {
            Ok(reply) if reply == "ok" || reply.starts_with("ok ") => reply,
            Ok(reply) => panic!("replay command {line:?} failed: {reply}"),
            Err(e) => panic!("{e}"),
        }
    }

    /// `count`: the number of replay beans registered now.
    pub fn count(&mut self) -> usize {
        let reply = self.command("count");
        reply
            .strip_prefix("ok ")
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("bad count reply {reply:?}"))
    }

    /// `add`: registers one bean given as a capture bean object.
    pub fn add(&mut self, bean: &serde_json::Value) -> String {
        self.command(&format!("add {bean}"))
    }

    /// `set`: gives an attribute a new value in the capture format,
    /// e.g. `json!({"type": "java.lang.Double", "value": "NaN"})`.
    pub fn set(&mut self, bean: &str, attr: &str, value: &serde_json::Value) -> String {
        self.command(&format!("set {} {} {value}", quoted(bean), quoted(attr)))
    }

    /// SIGKILL, then reap: for "the JVM died mid-read" tests.
    pub fn kill(&mut self) {
        if self.exit_status.is_some() {
            return;
        }
        let _ = self.child.kill();
        self.exit_status = self.child.wait().ok();
        // A killed JVM that had been attached leaves its attach socket behind.
        let _ = fs::remove_file(format!("/tmp/.java_pid{}", self.pid));
    }

    /// Closes the JVM's stdin (it must exit at once).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits up to `timeout` for the JVM to exit; its status, or `None` if still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.exit_status.is_some() {
            return self.exit_status;
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit_status = Some(status);
                return self.exit_status;
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ReplayJvm {
    fn drop(&mut self) {
        self.stdin = None;
        self.kill();
    }
}

/// Which enum classes the Probe has on its classpath.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeClasspath {
    /// The replay's own copies of Kafka's enums (FUTURE_STATE included).
    Replay,
    /// The Probe alone, no Kafka classes: enum values cannot be deserialized.
    Bare,
    /// Stub enums with Kafka's names and constants but without FUTURE_STATE
    /// (what ksbridge's own shim carries).
    Stub,
}

/// How the Probe reaches the JVM.
#[derive(Debug, Clone)]
pub enum ProbeTarget {
    /// Attach API -> startLocalManagementAgent -> RMI connector.
    Pid(u32),
    /// A `service:jmx:` URL, with optional `(user, password)`.
    Url(String, Option<(String, String)>),
}

/// One Probe run: exit code (0 connected, 2 connect failure), the JSON it printed, its stderr.
#[derive(Debug)]
pub struct ProbeRun {
    pub code: Option<i32>,
    pub json: serde_json::Value,
    pub stderr: String,
    pub elapsed: Duration,
}

impl ProbeRun {
    /// The probe's entry for one bean, by its ObjectName string as registered.
    pub fn bean(&self, name: &str) -> &serde_json::Value {
        self.json["beans"]
            .as_array()
            .and_then(|beans| beans.iter().find(|b| b["name"] == name))
            .unwrap_or_else(|| panic!("probe did not see bean {name}; output: {}", self.json))
    }

    /// All bean entries.
    pub fn beans(&self) -> &[serde_json::Value] {
        self.json["beans"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// Runs the reference Probe (`ksbridge.replay.probe.Probe`) as a child `java`
/// process with `args` (e.g. `--pattern`, `--name`, `--single`) and parses its JSON.
pub fn probe(target: &ProbeTarget, classpath: ProbeClasspath, args: &[&str]) -> ProbeRun {
    probe_with(target, classpath, &[], args)
}

/// [`probe`] with extra JVM arguments for the Probe's JVM (e.g.
/// `-Dsun.rmi.transport.tcp.responseTimeout=1000`).
pub fn probe_with(
    target: &ProbeTarget,
    classpath: ProbeClasspath,
    jvm_args: &[&str],
    args: &[&str],
) -> ProbeRun {
    let classes = classes();
    let cp = match classpath {
        ProbeClasspath::Replay => std::env::join_paths([&classes.probe, &classes.main]),
        ProbeClasspath::Bare => std::env::join_paths([&classes.probe]),
        ProbeClasspath::Stub => std::env::join_paths([&classes.probe, &classes.stub]),
    }
    .expect("classpath");
    let mut cmd = Command::new(java_bin());
    cmd.args(["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
        .args(jvm_args)
        .arg("-cp")
        .arg(cp)
        .arg("ksbridge.replay.probe.Probe");
    match target {
        ProbeTarget::Pid(pid) => {
            cmd.arg("--pid").arg(pid.to_string());
        }
        ProbeTarget::Url(url, creds) => {
            cmd.arg("--url").arg(url);
            if let Some((user, password)) = creds {
                cmd.arg("--user").arg(user).arg("--password").arg(password);
            }
        }
    }
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("spawn java for the probe");
    let mut stdout = child.stdout.take().expect("stdout piped");
    let mut stderr = child.stderr.take().expect("stderr piped");
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = started + PROBE_TIMEOUT;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("probe did not finish within {PROBE_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    let out = out_thread.join().expect("probe stdout");
    let err = err_thread.join().expect("probe stderr");
    let json = serde_json::from_str(out.trim()).unwrap_or_else(|e| {
        panic!("probe printed no JSON ({e}), exit {status}; stdout: {out}\nstderr: {err}")
    });
    ProbeRun {
        code: status.code(),
        json,
        stderr: err,
        elapsed,
    }
}
