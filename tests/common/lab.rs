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
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
}

impl KafkaLine {
    pub fn all() -> [KafkaLine; 2] {
        [KafkaLine::V4, KafkaLine::V3_9]
    }

    /// The line as scripts/kafka-lab names it: "4" or "3.9".
    pub fn as_str(self) -> &'static str {
        match self {
            KafkaLine::V4 => "4",
            KafkaLine::V3_9 => "3.9",
        }
    }

    fn index(self) -> usize {
        match self {
            KafkaLine::V4 => 0,
            KafkaLine::V3_9 => 1,
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
            KafkaLine::V3_9 => "-Dlog4j.configuration=ksb-file-log4j.properties",
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
    static CLASSPATHS: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];
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
        let out_file = File::options()
            .create(true)
            .append(true)
            .open(out)
            .unwrap_or_else(|e| panic!("creating {}: {e}", out.display()));
        let err_file = out_file.try_clone().expect("cloning a file handle");
        let mut cmd = Command::new(java());
        cmd.args(JVM_FLAGS)
            .args(jvm_args)
            .args(line.log_flags(log))
            .arg("-cp")
            .arg(classpath(line))
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
        Jvm {
            child,
            stdin,
            out: out.to_owned(),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
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
    /// Starts a fresh broker (new data directory, free ports).
    pub fn start(line: KafkaLine) -> Broker {
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
        SHARED[line.index()].get_or_init(|| Broker::start(line))
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
