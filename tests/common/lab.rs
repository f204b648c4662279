//! The lab for integration tests: real single-node KRaft Kafka brokers, Kafka's own CLI tools
//! and the Kafka Streams demo app (tests/java/lab), each in its own JVM that exits when the
//! test process does. Input: a `KafkaLine` and options; output: handles (`Broker`,
//! `StreamsApp`) that stop their JVM and delete their data on drop.
//!
//! Every lab JVM runs through `ksbridge.lab.Guard`, which exits the JVM when its stdin reaches
//! end of file. Each handle keeps the write end of that pipe, so whenever this process ends
//! (passed, failed, panicked, killed) the pipe closes and the JVM exits; a broker kept in a
//! `static` (`Broker::shared`) needs no `Drop`. Data lives under
//! `$TMPDIR/ksbridge-lab/<pid of the test process>/`; directories of dead test processes are
//! swept when the next test process starts a broker or app.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::namespaces;

/// JVM flags for every lab JVM (same as `LAB_JVM_FLAGS` in scripts/kafka-lab): C1 only, serial
/// GC and class-data sharing make a broker start in a few seconds on 2 cores.
pub const JVM_FLAGS: &[&str] = &[
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseSerialGC",
    "-Xshare:auto",
    "-XX:-UsePerfData",
];

/// How long a broker may take to answer its first metadata request.
const BROKER_START_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a JVM may take to exit after its stdin closed before it is killed.
const JVM_STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a Kafka CLI tool may run.
const TOOL_TIMEOUT: Duration = Duration::from_secs(120);

/// A Kafka release line the lab builds (versions pinned in tests/java/lab/pom.xml).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KafkaLine {
    V4,
    V3_9,
    /// Kafka Streams 3.4 (before `restore-remaining-records-total`): the demo app only
    /// (`AppOptions::line`), run against a 3.9 or 4.x broker.
    V3_4,
}

impl KafkaLine {
    /// The lines with a broker.
    pub fn all() -> [KafkaLine; 2] {
        [KafkaLine::V4, KafkaLine::V3_9]
    }

    /// The line as scripts/kafka-lab names it: "4", "3.9" or "3.4".
    pub fn as_str(self) -> &'static str {
        match self {
            KafkaLine::V4 => "4",
            KafkaLine::V3_9 => "3.9",
            KafkaLine::V3_4 => "3.4",
        }
    }

    /// The line whose broker and tools serve this one (3.4 has only the app: 3.9's).
    pub fn broker_line(self) -> KafkaLine {
        match self {
            KafkaLine::V3_4 => KafkaLine::V3_9,
            l => l,
        }
    }

    fn index(self) -> usize {
        match self {
            KafkaLine::V4 => 0,
            KafkaLine::V3_9 => 1,
            KafkaLine::V3_4 => 2,
        }
    }

    /// The exact Kafka version on the lab classpath, e.g. "4.4.0" (from the kafka-clients jar name).
    pub fn version(self) -> String {
        classpath(self);
        let lib = lab_target(self).join("lib");
        fs::read_dir(&lib)
            .unwrap_or_else(|e| panic!("reading {}: {e}", lib.display()))
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix("kafka-clients-")
                    .and_then(|v| v.strip_suffix(".jar"))
                    .map(str::to_owned)
            })
            .next()
            .unwrap_or_else(|| panic!("no kafka-clients jar in {}", lib.display()))
    }

    /// Logging flags for a long-running lab JVM writing INFO logs to `file`.
    fn log_flags(self, file: &Path) -> Vec<String> {
        let config = match self {
            KafkaLine::V4 => "-Dlog4j2.configurationFile=ksb-file-log4j2.xml",
            KafkaLine::V3_9 | KafkaLine::V3_4 => "-Dlog4j.configuration=ksb-file-log4j.properties",
        };
        vec![
            config.to_owned(),
            format!("-Dksb.log.file={}", file.display()),
        ]
    }
}

impl std::fmt::Display for KafkaLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The repository root (where Cargo.toml is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn lab_script() -> PathBuf {
    repo_root().join("scripts/kafka-lab")
}

fn lab_target(line: KafkaLine) -> PathBuf {
    repo_root().join(format!("tests/java/lab/target/kafka-{}", line.as_str()))
}

/// The `java` of $JAVA_HOME, else the one on the PATH.
pub fn java() -> PathBuf {
    match std::env::var_os("JAVA_HOME") {
        Some(home) if Path::new(&home).join("bin/java").exists() => {
            Path::new(&home).join("bin/java")
        }
        _ => PathBuf::from("java"),
    }
}

/// The lab classpath of `line`; builds the lab (scripts/kafka-lab build) once per process.
pub fn classpath(line: KafkaLine) -> String {
    static CLASSPATHS: [OnceLock<String>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    CLASSPATHS[line.index()]
        .get_or_init(|| {
            let out = Command::new("bash")
                .arg(lab_script())
                .args(["classpath", line.as_str()])
                .stdin(Stdio::null())
                .output()
                .expect("running scripts/kafka-lab classpath");
            assert!(
                out.status.success(),
                "scripts/kafka-lab classpath {line} failed: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        })
        .clone()
}

/// The lab classpath of `line` with `extra` entries appended.
pub fn classpath_with(line: KafkaLine, extra: &[PathBuf]) -> String {
    let mut cp = classpath(line);
    for e in extra {
        cp.push(':');
        cp.push_str(&e.display().to_string());
    }
    cp
}

/// A free TCP port on 127.0.0.1 (free when this returns; bind it soon).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0")
}

/// Calls `f` until it returns `Some`, at most for `timeout`; panics naming `what` on timeout.
pub fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() >= timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// A name no other test (in this or a concurrent run) uses: `<prefix>-<pid>-<n>-<nanos>`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// This test process's lab directory, `$TMPDIR/ksbridge-lab/<pid>`; on first use, deletes the
/// directories of test processes that are gone.
pub fn lab_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = std::env::temp_dir().join("ksbridge-lab");
        if let Ok(entries) = fs::read_dir(&root) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Ok(pid) = name.parse::<u32>() {
                    if !Path::new(&format!("/proc/{pid}")).exists() {
                        let _ = fs::remove_dir_all(e.path());
                    }
                }
            }
        }
        let dir = root.join(std::process::id().to_string());
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        dir
    })
}

/// A fresh directory under `lab_dir()`.
fn fresh_dir(prefix: &str) -> PathBuf {
    let dir = lab_dir().join(unique(prefix));
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A lab JVM started through `ksbridge.lab.Guard`: stdout and stderr go to `out`, stdin is a
/// pipe this handle keeps open (closing it makes the JVM exit).
struct Jvm {
    child: Child,
    /// The JVM's pid on the host: `child`'s, or its forked child's when `child` is the
    /// `unshare` that put it in namespaces of its own.
    pid: u32,
    stdin: Option<ChildStdin>,
    out: PathBuf,
}

impl Jvm {
    fn spawn(
        line: KafkaLine,
        jvm_args: &[String],
        main: &str,
        args: &[String],
        out: &Path,
        log: &Path,
    ) -> Jvm {
        let logging = line.log_flags(log);
        Jvm::spawn_with(&classpath(line), jvm_args, &logging, main, args, out)
    }

    /// Like `spawn`, with a given classpath and logging flags.
    fn spawn_with(
        classpath: &str,
        jvm_args: &[String],
        logging: &[String],
        main: &str,
        args: &[String],
        out: &Path,
    ) -> Jvm {
        Jvm::spawn_in(&[], classpath, jvm_args, logging, main, args, out)
    }

    /// Like `spawn_with`, run through `prefix` (a command that ends by running its
    /// arguments, e.g. `namespaces::isolate`); the JVM must be the prefix's forked child.
    fn spawn_in(
        prefix: &[String],
        classpath: &str,
        jvm_args: &[String],
        logging: &[String],
        main: &str,
        args: &[String],
        out: &Path,
    ) -> Jvm {
        let out_file = File::options()
            .create(true)
            .append(true)
            .open(out)
            .unwrap_or_else(|e| panic!("creating {}: {e}", out.display()));
        let err_file = out_file.try_clone().expect("cloning a file handle");
        let mut cmd = match prefix.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(java());
                c
            }
            None => Command::new(java()),
        };
        cmd.args(JVM_FLAGS)
            .args(jvm_args)
            .args(logging)
            .arg("-cp")
            .arg(classpath)
            .arg("ksbridge.lab.Guard")
            .arg(main)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(out_file)
            .stderr(err_file);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {main} ({}): {e}", java().display()));
        let stdin = child.stdin.take();
        let mut jvm = Jvm {
            pid: child.id(),
            child,
            stdin,
            out: out.to_owned(),
        };
        if !prefix.is_empty() {
            jvm.pid = namespaces::wait_forked_java(&mut jvm.child, out);
        }
        jvm
    }

    fn pid(&self) -> u32 {
        self.pid
    }

    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends one command line to the JVM's stdin (Guard passes it to the main class).
    fn command(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("the JVM's stdin is closed");
        writeln!(stdin, "{line}")
            .and_then(|_| stdin.flush())
            .unwrap_or_else(|e| panic!("sending '{line}' to pid {}: {e}", self.child.id()));
    }

    /// Closes stdin (a clean exit) and waits; kills the JVM if it takes too long.
    fn stop(&mut self) {
        drop(self.stdin.take());
        let start = Instant::now();
        while start.elapsed() < JVM_STOP_TIMEOUT {
            if self.exited() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
    }

    /// Kills the JVM at once (SIGKILL) and reaps it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        drop(self.stdin.take());
    }
}

impl Drop for Jvm {
    fn drop(&mut self) {
        if !self.exited() {
            self.kill();
        }
    }
}

/// A single-node KRaft Kafka broker (combined broker + controller) on loopback ports.
/// Drop stops it and deletes its data.
pub struct Broker {
    line: KafkaLine,
    dir: PathBuf,
    port: u16,
    controller_port: u16,
    bootstrap: String,
    jvm: Option<Jvm>,
    /// Milliseconds from JVM start to the first answered metadata request, as the broker measured.
    pub startup_ms: u64,
}

impl Broker {
    /// Starts a fresh broker (new data directory, free ports) of `line`'s broker line.
    pub fn start(line: KafkaLine) -> Broker {
        let line = line.broker_line();
        let dir = fresh_dir(&format!("broker-{line}"));
        let mut broker = Broker {
            line,
            dir,
            port: 0,
            controller_port: 0,
            bootstrap: String::new(),
            jvm: None,
            startup_ms: 0,
        };
        broker.launch();
        broker
    }

    /// One broker per Kafka line per test binary, started on first use and never stopped
    /// explicitly (it exits with the test process). Tests sharing it use `unique` names.
    pub fn shared(line: KafkaLine) -> &'static Broker {
        static SHARED: [OnceLock<Broker>; 2] = [OnceLock::new(), OnceLock::new()];
        let line = line.broker_line();
        SHARED[line.index()].get_or_init(|| {
            let b = Broker::start(line);
            eprintln!(
                "lab: shared Kafka {line} broker at {} (startup {} ms)",
                b.bootstrap(),
                b.startup_ms
            );
            b
        })
    }

    /// "127.0.0.1:PORT".
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    pub fn line(&self) -> KafkaLine {
        self.line
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker JVM's pid, if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.jvm.as_ref().map(Jvm::pid)
    }

    /// The broker's data directory (server.properties, data/, broker.log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The broker's log (INFO and above).
    pub fn log(&self) -> String {
        read_lossy(&self.dir.join("broker.log"))
    }

    /// Stops the broker cleanly (controlled shutdown), keeping its ports and data.
    pub fn stop(&mut self) {
        if let Some(mut jvm) = self.jvm.take() {
            jvm.stop();
        }
    }

    /// Kills the broker (SIGKILL), keeping its ports and data.
    pub fn kill(&mut self) {
        if let Some(mut jvm) = self.jvm.take() {
            jvm.kill();
        }
    }

    /// Stops the broker if it runs and starts it again on the same ports with the same data.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    fn launch(&mut self) {
        let out = self.dir.join("broker.out");
        let mut args = vec!["--dir".to_owned(), self.dir.display().to_string()];
        if self.port != 0 {
            args.extend([
                "--port".to_owned(),
                self.port.to_string(),
                "--controller-port".to_owned(),
                self.controller_port.to_string(),
            ]);
        }
        let _ = fs::remove_file(&out);
        let mut jvm = Jvm::spawn(
            self.line,
            &["-Xmx512m".to_owned()],
            "ksbridge.lab.BrokerMain",
            &args,
            &out,
            &self.dir.join("broker.log"),
        );
        let start = Instant::now();
        let ready = loop {
            let text = read_lossy(&out);
            if let Some(l) = text.lines().find(|l| l.starts_with("KSB-LAB READY ")) {
                break l.to_owned();
            }
            if jvm.exited() || start.elapsed() > BROKER_START_TIMEOUT {
                jvm.kill();
                panic!(
                    "the Kafka {} broker did not start (dir {}):\n{}\n--- broker.log (tail) ---\n{}",
                    self.line,
                    self.dir.display(),
                    read_lossy(&out),
                    tail(&self.log(), 40)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // KSB-LAB READY 127.0.0.1:PORT controller_port=CPORT startup_ms=N format_ms=N
        let mut words = ready.split_whitespace().skip(2);
        self.bootstrap = words
            .next()
            .expect("bootstrap in the ready line")
            .to_owned();
        for w in words {
            if let Some((k, v)) = w.split_once('=') {
                match k {
                    "controller_port" => self.controller_port = v.parse().expect("controller port"),
                    "startup_ms" => self.startup_ms = v.parse().expect("startup ms"),
                    _ => {}
                }
            }
        }
        self.port = self
            .bootstrap
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in the bootstrap address");
        self.jvm = Some(jvm);
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Runs one of Kafka's CLI tools of `line` (scripts/kafka-lab tool: "topics",
/// "consumer-groups", "console-producer", "console-consumer", "get-offsets",
/// "transactions", "configs", ... or a class name), stdin empty; panics if it runs longer
/// than two minutes. The caller checks `status`.
pub fn kafka_tool(line: KafkaLine, tool: &str, args: &[&str]) -> Output {
    kafka_tool_with_input(line, tool, args, "")
}

/// Like `kafka_tool`, with `input` on the tool's stdin (e.g. records for "console-producer").
pub fn kafka_tool_with_input(line: KafkaLine, tool: &str, args: &[&str], input: &str) -> Output {
    let line = line.broker_line();
    classpath(line); // build once, outside the tool's time limit
    let dir = fresh_dir("tool");
    let (out_path, err_path) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = Command::new("bash")
        .arg(lab_script())
        .args(["tool", tool, "--kafka", line.as_str()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(File::create(&out_path).expect("creating a tool output file"))
        .stderr(File::create(&err_path).expect("creating a tool output file"))
        .spawn()
        .unwrap_or_else(|e| panic!("running kafka-lab tool {tool}: {e}"));
    {
        let mut stdin = child.stdin.take().expect("piped stdin");
        let _ = stdin.write_all(input.as_bytes());
    }
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for a tool") {
            break status;
        }
        if start.elapsed() > TOOL_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "kafka-lab tool {tool} {args:?} ran longer than {TOOL_TIMEOUT:?}; stderr:\n{}",
                read_lossy(&err_path)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = Output {
        status,
        stdout: fs::read(&out_path).unwrap_or_default(),
        stderr: fs::read(&err_path).unwrap_or_default(),
    };
    let _ = fs::remove_dir_all(&dir);
    output
}

/// Runs a Kafka CLI tool and returns its stdout; panics with its stderr when it fails.
pub fn kafka_tool_ok(line: KafkaLine, tool: &str, args: &[&str]) -> String {
    let out = kafka_tool(line, tool, args);
    assert!(
        out.status.success(),
        "kafka-lab tool {tool} {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Creates a topic with Kafka's own topics tool.
pub fn create_topic(broker: &Broker, topic: &str, partitions: u32) {
    kafka_tool_ok(
        broker.line(),
        "topics",
        &[
            "--bootstrap-server",
            broker.bootstrap(),
            "--create",
            "--topic",
            topic,
            "--partitions",
            &partitions.to_string(),
            "--replication-factor",
            "1",
        ],
    );
}

/// What a thread failure does in the demo app (its StreamsUncaughtExceptionHandler).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnFailure {
    ReplaceThread,
    ShutdownClient,
}

/// Options of the demo app (`ksbridge.lab.ZMartApp` flags).
#[derive(Clone, Debug)]
pub struct AppOptions {
    /// application.id (also the consumer group and the prefix of its topics); default unique.
    pub app_id: String,
    pub threads: u32,
    /// INFO, DEBUG or TRACE.
    pub recording_level: String,
    /// exactly_once_v2 instead of at_least_once.
    pub eos: bool,
    /// The Kafka line of the app's classpath; default: the broker's.
    pub line: Option<KafkaLine>,
    /// A processor throws (once) after this many records.
    pub fail_after: Option<u64>,
    pub on_failure: OnFailure,
    /// Records per second the generator produces (purchases and stock transactions).
    pub rate: f64,
    /// `KafkaStreams.cleanUp()` before start, so stores restore from their changelogs.
    pub wipe_state: bool,
    /// State directory; default a fresh one under `lab_dir()`, kept across restarts.
    pub state_dir: Option<PathBuf>,
    /// commit.interval.ms; default 1000 (Kafka's default is 30000 at-least-once).
    pub commit_interval_ms: Option<u64>,
    /// Run the generator in the app's JVM (default true).
    pub generator: bool,
    /// Start with processing paused.
    pub start_paused: bool,
    /// Partitions of the input topics (default 2).
    pub partitions: u32,
    /// Prefix of the app's topics; default "<app_id>-".
    pub topic_prefix: Option<String>,
    /// Extra Kafka Streams properties (`--set key=value`).
    pub extra: Vec<(String, String)>,
    /// Extra JVM flags.
    pub jvm_args: Vec<String>,
    /// Jars or directories appended to the app's classpath (e.g. the interceptor jar).
    pub classpath_extra: Vec<PathBuf>,
    /// Run the JVM in PID and mount namespaces of its own with a private `/tmp`, as in a
    /// container (`namespaces::isolate`; needs root). `StreamsApp::pid` stays its host pid.
    pub isolated: Option<namespaces::Isolation>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            app_id: unique("zmart"),
            threads: 2,
            recording_level: "INFO".to_owned(),
            eos: false,
            line: None,
            fail_after: None,
            on_failure: OnFailure::ReplaceThread,
            rate: 50.0,
            wipe_state: false,
            state_dir: None,
            commit_interval_ms: Some(1000),
            generator: true,
            start_paused: false,
            partitions: 2,
            topic_prefix: None,
            extra: Vec::new(),
            jvm_args: Vec::new(),
            classpath_extra: Vec::new(),
            isolated: None,
        }
    }
}

impl AppOptions {
    fn args(&self, bootstrap: &str, state_dir: &Path, wipe_state: bool) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "--bootstrap".into(),
            bootstrap.into(),
            "--app-id".into(),
            self.app_id.clone(),
            "--threads".into(),
            self.threads.to_string(),
            "--recording-level".into(),
            self.recording_level.clone(),
            "--guarantee".into(),
            if self.eos {
                "exactly_once_v2"
            } else {
                "at_least_once"
            }
            .into(),
            "--rate".into(),
            self.rate.to_string(),
            "--state-dir".into(),
            state_dir.display().to_string(),
            "--on-failure".into(),
            match self.on_failure {
                OnFailure::ReplaceThread => "replace-thread",
                OnFailure::ShutdownClient => "shutdown-client",
            }
            .into(),
            "--partitions".into(),
            self.partitions.to_string(),
        ];
        if let Some(n) = self.fail_after {
            a.extend(["--fail-after".into(), n.to_string()]);
        }
        if let Some(ms) = self.commit_interval_ms {
            a.extend(["--commit-interval-ms".into(), ms.to_string()]);
        }
        if let Some(p) = &self.topic_prefix {
            a.extend(["--topic-prefix".into(), p.clone()]);
        }
        if wipe_state {
            a.push("--wipe-state".into());
        }
        if !self.generator {
            a.push("--no-generator".into());
        }
        if self.start_paused {
            a.push("--paused".into());
        }
        for (k, v) in &self.extra {
            a.extend(["--set".into(), format!("{k}={v}")]);
        }
        a
    }
}

/// The Kafka Streams demo app (ZMart) in its own JVM, with no JMX flags (found by pid).
/// Its stdout (state transitions, thread failures, restores) is kept in a file; Drop kills
/// the JVM and deletes its state directory.
pub struct StreamsApp {
    line: KafkaLine,
    bootstrap: String,
    opts: AppOptions,
    dir: PathBuf,
    state_dir: PathBuf,
    out: PathBuf,
    /// Byte offset in `out` where the current run's output starts.
    run_start: usize,
    jvm: Mutex<Option<Jvm>>,
}

impl StreamsApp {
    /// Starts the app against `broker` (it creates its topics and starts its generator).
    pub fn start(broker: &Broker, opts: AppOptions) -> StreamsApp {
        let line = opts.line.unwrap_or(broker.line());
        let dir = fresh_dir(&format!("app-{}", opts.app_id));
        let state_dir = opts.state_dir.clone().unwrap_or_else(|| dir.join("state"));
        let mut app = StreamsApp {
            line,
            bootstrap: broker.bootstrap().to_owned(),
            out: dir.join("app.out"),
            dir,
            state_dir,
            opts,
            run_start: 0,
            jvm: Mutex::new(None),
        };
        let wipe = app.opts.wipe_state;
        app.launch(wipe);
        app
    }

    fn launch(&mut self, wipe_state: bool) {
        self.run_start = fs::metadata(&self.out)
            .map(|m| m.len() as usize)
            .unwrap_or(0);
        let mut jvm_args = vec!["-Xmx384m".to_owned()];
        jvm_args.extend(self.opts.jvm_args.iter().cloned());
        let logging = self.line.log_flags(&self.dir.join("app.log"));
        let prefix = match &self.opts.isolated {
            Some(how) => namespaces::isolate(lab_dir(), &self.dir, how),
            None => Vec::new(),
        };
        let jvm = Jvm::spawn_in(
            &prefix,
            &classpath_with(self.line, &self.opts.classpath_extra),
            &jvm_args,
            &logging,
            "ksbridge.lab.ZMartApp",
            &self.opts.args(&self.bootstrap, &self.state_dir, wipe_state),
            &self.out,
        );
        *self.jvm.lock().unwrap_or_else(|e| e.into_inner()) = Some(jvm);
    }

    fn with_jvm<T>(&self, f: impl FnOnce(&mut Jvm) -> T) -> T {
        let mut guard = self.jvm.lock().unwrap_or_else(|e| e.into_inner());
        f(guard.as_mut().expect("the app is not running"))
    }

    /// The app JVM's pid (the same JVM `ksbridge jvms` lists).
    pub fn pid(&self) -> u32 {
        self.with_jvm(|j| j.pid())
    }

    pub fn app_id(&self) -> &str {
        &self.opts.app_id
    }

    pub fn options(&self) -> &AppOptions {
        &self.opts
    }

    pub fn line(&self) -> KafkaLine {
        self.line
    }

    /// The app's topic names: prefix + "purchases", "stock-transactions", ...
    pub fn topic(&self, name: &str) -> String {
        match &self.opts.topic_prefix {
            Some(p) => format!("{p}{name}"),
            None => format!("{}-{name}", self.opts.app_id),
        }
    }

    /// Whether the JVM still runs.
    pub fn is_running(&self) -> bool {
        let mut guard = self.jvm.lock().unwrap_or_else(|e| e.into_inner());
        guard.as_mut().is_some_and(|j| !j.exited())
    }

    /// Everything the app printed since it was first started (all runs).
    pub fn log(&self) -> String {
        read_lossy(&self.out)
    }

    /// What the app printed in its current run (since the last start or restart).
    pub fn run_log(&self) -> String {
        let all = read_lossy(&self.out);
        all.get(self.run_start..).unwrap_or("").to_owned()
    }

    /// The Kafka client and Streams log (log4j, INFO and above) of all runs.
    pub fn kafka_log(&self) -> String {
        read_lossy(&self.dir.join("app.log"))
    }

    /// Waits until a line of the current run starts with `prefix`; returns that line.
    pub fn wait_for_line(&self, prefix: &str, timeout: Duration) -> String {
        self.wait_for_nth_line(prefix, 1, timeout)
    }

    /// Waits until `n` lines of the current run start with `prefix`; returns the n-th.
    pub fn wait_for_nth_line(&self, prefix: &str, n: usize, timeout: Duration) -> String {
        let what = format!(
            "line #{n} starting with '{prefix}' from app {} (pid {})",
            self.opts.app_id,
            self.pid()
        );
        let start = Instant::now();
        loop {
            let log = self.run_log();
            if let Some(l) = log.lines().filter(|l| l.starts_with(prefix)).nth(n - 1) {
                return l.to_owned();
            }
            if start.elapsed() >= timeout || !self.is_running() {
                panic!(
                    "{} waiting for {what}; app output:\n{}\n--- kafka log (tail) ---\n{}",
                    if self.is_running() {
                        "timed out"
                    } else {
                        "app exited"
                    },
                    tail(&log, 60),
                    tail(&self.kafka_log(), 30)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the app's KafkaStreams state listener reported `state` (RUNNING,
    /// REBALANCING, ERROR, NOT_RUNNING, ...) in the current run.
    pub fn wait_for_state(&self, state: &str, timeout: Duration) {
        self.wait_for_line(&format!("STATE {state} "), timeout);
    }

    /// Stops processing (a processor after each source blocks), so lag grows.
    pub fn pause(&self) {
        let n = self.run_log().lines().filter(|l| *l == "PAUSED").count();
        self.with_jvm(|j| j.command("pause"));
        self.wait_for_nth_line("PAUSED", n + 1, Duration::from_secs(10));
    }

    /// Resumes processing.
    pub fn resume(&self) {
        let n = self.run_log().lines().filter(|l| *l == "RESUMED").count();
        self.with_jvm(|j| j.command("resume"));
        self.wait_for_nth_line("RESUMED", n + 1, Duration::from_secs(10));
    }

    /// Removes one stream thread (`KafkaStreams.removeStreamThread()`); returns its name.
    pub fn remove_thread(&self) -> String {
        let n = self
            .run_log()
            .lines()
            .filter(|l| l.starts_with("THREAD-REMOVED "))
            .count();
        self.with_jvm(|j| j.command("remove-thread"));
        let line = self.wait_for_nth_line("THREAD-REMOVED ", n + 1, Duration::from_secs(60));
        line.trim_start_matches("THREAD-REMOVED ").to_string()
    }

    /// How many input records the app's first processors have seen (all threads, this run).
    pub fn processed(&self) -> u64 {
        let n = self
            .run_log()
            .lines()
            .filter(|l| l.starts_with("PROCESSED "))
            .count();
        self.with_jvm(|j| j.command("status"));
        let line = self.wait_for_nth_line("PROCESSED ", n + 1, Duration::from_secs(10));
        line.split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("bad status line: {line}"))
    }

    /// Waits until the app has processed at least `n` input records in this run.
    pub fn wait_processed(&self, n: u64, timeout: Duration) -> u64 {
        wait_until(
            &format!("app {} to process {n} records", self.opts.app_id),
            timeout,
            || {
                let p = self.processed();
                (p >= n).then_some(p)
            },
        )
    }

    /// Kills the JVM at once (SIGKILL): no clean shutdown, no final commit.
    pub fn kill(&mut self) {
        if let Some(mut j) = self.jvm.lock().unwrap_or_else(|e| e.into_inner()).take() {
            j.kill();
        }
    }

    /// Stops the JVM cleanly (KafkaStreams.close through its shutdown hook).
    pub fn stop(&mut self) {
        if let Some(mut j) = self.jvm.lock().unwrap_or_else(|e| e.into_inner()).take() {
            j.stop();
        }
    }

    /// Stops the app if it runs (cleanly) and starts it again with the same application id,
    /// topics and state directory; `wipe_state` wipes the local state first (restore from
    /// the changelogs). The generator keeps producing where it left off.
    pub fn restart(&mut self, wipe_state: bool) {
        self.stop();
        self.launch(wipe_state);
    }

    /// Captures the app's MBeans (see `capture`).
    pub fn capture(&self, patterns: &[&str]) -> serde_json::Value {
        capture(self.line, self.pid(), patterns)
    }
}

impl Drop for StreamsApp {
    fn drop(&mut self) {
        self.kill();
        let _ = fs::remove_dir_all(&self.dir);
        if self.opts.state_dir.is_none() {
            let _ = fs::remove_dir_all(&self.state_dir);
        }
    }
}

/// Dumps the MBeans of JVM `pid` (matching any of the ObjectName `patterns`; all when empty)
/// with the lab's capture tool (`ksbridge.lab.Capture`, attach API) in the capture format.
pub fn capture(line: KafkaLine, pid: u32, patterns: &[&str]) -> serde_json::Value {
    let line = line.broker_line();
    let dir = fresh_dir("capture");
    let file = dir.join("capture.json");
    let mut cmd = Command::new(java());
    cmd.args(JVM_FLAGS)
        .arg("-cp")
        .arg(classpath(line))
        .arg("ksbridge.lab.Capture")
        .args(["--pid", &pid.to_string(), "--out"])
        .arg(&file)
        .stdin(Stdio::null());
    for p in patterns {
        cmd.args(["--pattern", p]);
    }
    let out = cmd.output().expect("running ksbridge.lab.Capture");
    assert!(
        out.status.success(),
        "capturing the MBeans of pid {pid} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = fs::read_to_string(&file).expect("reading the capture");
    let _ = fs::remove_dir_all(&dir);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("the capture is not JSON: {e}"))
}

/// Options of the plain client driver (`ksbridge.lab.ClientDriver` flags).
#[derive(Clone, Debug, Default)]
pub struct DriverOptions {
    /// Prefix of the client ids (`<id>-producer`, `<id>-consumer`); default unique.
    pub client_id: Option<String>,
    /// Consumer group; default unique.
    pub group: Option<String>,
    /// Extra producer properties.
    pub producer: Vec<(String, String)>,
    /// Extra consumer properties.
    pub consumer: Vec<(String, String)>,
    /// Jars or directories appended to the classpath.
    pub classpath_extra: Vec<PathBuf>,
    /// Extra JVM flags.
    pub jvm_args: Vec<String>,
    /// Logging flags replacing the lab's (which write INFO to a file in the driver's directory).
    pub logging: Option<Vec<String>>,
}

/// A plain (non-Streams) Kafka producer and consumer in their own JVM, driven by stdin
/// commands (see ClientDriver.java). Drop kills the JVM and deletes its directory.
pub struct ClientDriver {
    dir: PathBuf,
    out: PathBuf,
    client_id: String,
    group: String,
    jvm: Option<Jvm>,
}

impl ClientDriver {
    /// Starts the driver against `broker` and waits until it is ready (clients are created on
    /// first use).
    pub fn start(broker: &Broker, opts: DriverOptions) -> ClientDriver {
        let line = broker.line();
        let client_id = opts.client_id.clone().unwrap_or_else(|| unique("driver"));
        let group = opts.group.clone().unwrap_or_else(|| unique("driver-group"));
        let dir = fresh_dir("driver");
        let out = dir.join("driver.out");
        let mut args = vec![
            "--bootstrap".to_owned(),
            broker.bootstrap().to_owned(),
            "--client-id".to_owned(),
            client_id.clone(),
            "--group".to_owned(),
            group.clone(),
        ];
        for (k, v) in &opts.producer {
            args.extend(["--producer-set".to_owned(), format!("{k}={v}")]);
        }
        for (k, v) in &opts.consumer {
            args.extend(["--consumer-set".to_owned(), format!("{k}={v}")]);
        }
        let logging = opts
            .logging
            .clone()
            .unwrap_or_else(|| line.log_flags(&dir.join("driver.log")));
        let mut jvm_args = vec!["-Xmx256m".to_owned()];
        jvm_args.extend(opts.jvm_args.iter().cloned());
        let jvm = Jvm::spawn_with(
            &classpath_with(line, &opts.classpath_extra),
            &jvm_args,
            &logging,
            "ksbridge.lab.ClientDriver",
            &args,
            &out,
        );
        let mut d = ClientDriver {
            dir,
            out,
            client_id,
            group,
            jvm: Some(jvm),
        };
        d.wait_for_line("KSB-DRIVER ", 1, Duration::from_secs(60));
        d
    }

    pub fn pid(&self) -> u32 {
        self.jvm
            .as_ref()
            .map(Jvm::pid)
            .expect("the driver is not running")
    }

    /// The producer's client id.
    pub fn producer_id(&self) -> String {
        format!("{}-producer", self.client_id)
    }

    /// The consumer's client id.
    pub fn consumer_id(&self) -> String {
        format!("{}-consumer", self.client_id)
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    /// The driver's directory (its output and default log live here).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Everything the driver printed.
    pub fn output(&self) -> String {
        read_lossy(&self.out)
    }

    /// Sends `command` and returns the next line starting with `reply` (its answer).
    pub fn command(&mut self, command: &str, reply: &str, timeout: Duration) -> String {
        let n = self
            .output()
            .lines()
            .filter(|l| l.starts_with(reply))
            .count();
        self.jvm
            .as_mut()
            .expect("the driver is not running")
            .command(command);
        self.wait_for_line(reply, n + 1, timeout)
    }

    fn wait_for_line(&mut self, prefix: &str, n: usize, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let text = self.output();
            if let Some(l) = text.lines().filter(|l| l.starts_with(prefix)).nth(n - 1) {
                return l.to_owned();
            }
            let exited = self.jvm.as_mut().map_or(true, Jvm::exited);
            if exited || start.elapsed() > timeout {
                panic!(
                    "{} waiting for line #{n} starting with '{prefix}' from the client driver:\n{}",
                    if exited { "driver exited" } else { "timed out" },
                    tail(&text, 60)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ClientDriver {
    fn drop(&mut self) {
        if let Some(mut j) = self.jvm.take() {
            j.kill();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The jar of ksbridge's producer/consumer interceptors (built once per test
/// binary by `scripts/build-interceptors.sh`, which prints its path).
pub fn interceptor_jar() -> PathBuf {
    static JAR: OnceLock<PathBuf> = OnceLock::new();
    JAR.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo_root().join("scripts/build-interceptors.sh"))
            .stdin(Stdio::null())
            .output()
            .expect("running scripts/build-interceptors.sh");
        assert!(
            out.status.success(),
            "building the interceptor jar failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
    .clone()
}
