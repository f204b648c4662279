//! What `/proc` says about a process, read without touching it: whether it is
//! a HotSpot JVM that can take the attach signal, and whether it is a Kafka
//! Streams app. Input: a [`ProcRoot`] (normally `/proc`, a recorded tree in
//! tests) and a pid; output: [`Facts`], then pure verdicts over them
//! ([`attach_verdict`], [`streams_verdict`], [`command_line_matches`]).
//!
//! Attaching to a HotSpot JVM whose attach listener is not running yet sends
//! it SIGQUIT; most other programs die of that signal. So the rule fails
//! closed: attach only when the evidence says "a JVM with its signal
//! dispatcher running" (or its attach socket already exists, in which case
//! no signal is sent at all), and refuse whenever the evidence is missing.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Byte caps for what is read from one process (a hostile process can make
/// its command line, environment or maps large).
const MAX_CMDLINE: u64 = 1 << 20;
const MAX_ARGFILE: u64 = 1 << 20;
const MAX_ENVIRON: u64 = 1 << 20;
const MAX_MAPS: u64 = 16 << 20;
/// At most this many threads and file descriptors are looked at.
const MAX_ENTRIES: usize = 100_000;
/// At most this many entries of a class-path wildcard directory are listed.
const MAX_WILDCARD: usize = 10_000;

/// Thread names (`comm`, 15 bytes at most) that only HotSpot gives its threads.
const HOTSPOT_THREAD: &str = "VM Thread";
/// HotSpot's "Signal Dispatcher": it exists once the JVM handles SIGQUIT
/// (not at all under `-Xrs`), and it is the thread that starts the attach listener.
const SIGNAL_THREAD: &str = "Signal Dispatch";
/// Client threads of a Kafka producer or consumer (`comm` prefixes): a Kafka
/// Streams app always runs some; a broker runs none of them.
const CLIENT_THREADS: &[&str] = &["kafka-producer-", "kafka-coordinat", "consumer_backgr"];
/// Thread name parts that only Kafka Streams uses (visible when the client id is short).
const STREAMS_THREADS: &[&str] = &["StreamThread-", "GlobalStreamThr", "StateUpdater-"];
/// Main classes of Kafka's own server-side programs, whose distribution puts
/// the kafka-streams jar on every class path.
const KAFKA_SERVER_MAINS: &[&str] = &[
    "kafka.Kafka",
    "kafka.admin.",
    "kafka.tools.",
    "org.apache.kafka.connect.",
    "org.apache.kafka.tools.",
    "org.apache.kafka.shell.",
    "org.apache.zookeeper.",
];

/// Where process information is read from: `/proc`, or a recorded copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcRoot(PathBuf);

impl ProcRoot {
    /// The host's `/proc` (`KSBRIDGE_PROC_ROOT` overrides it, for tests and
    /// for inspecting a recorded tree; the Java side checks the real `/proc`
    /// again before it attaches).
    pub fn host() -> ProcRoot {
        match std::env::var_os("KSBRIDGE_PROC_ROOT") {
            Some(p) if !p.is_empty() => ProcRoot(PathBuf::from(p)),
            _ => ProcRoot(PathBuf::from("/proc")),
        }
    }

    pub fn new(path: impl Into<PathBuf>) -> ProcRoot {
        ProcRoot(path.into())
    }

    fn pid(&self, pid: u32) -> PathBuf {
        self.0.join(pid.to_string())
    }

    /// Every pid under the root, ascending.
    pub fn pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = std::fs::read_dir(&self.0)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        pids.sort_unstable();
        pids
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("no process with pid {pid}")]
    NoSuchProcess { pid: u32 },
}

/// What could be read about one process. `None` means "could not be read"
/// (another user's process, a restrictive ptrace policy), which is never
/// taken as evidence either way.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub pid: u32,
    /// The pid inside the process's own pid namespace (names its perf-data file and socket).
    pub ns_pid: u32,
    /// Real uid (from `status`).
    pub uid: Option<u32>,
    /// Seconds since the process started.
    pub age_seconds: Option<f64>,
    /// The command line with `@argfiles` of the launcher expanded.
    pub args: Option<Vec<String>>,
    /// `CLASSPATH` and the `*JAVA*_OPTIONS` variables, when `environ` is readable.
    pub env: Option<Vec<(String, String)>>,
    /// Thread names (`task/*/comm`).
    pub threads: Option<Vec<String>>,
    /// Distinct file paths mapped into the process.
    pub maps: Option<Vec<String>>,
    /// Targets of the open file descriptors.
    pub fds: Option<Vec<String>>,
    /// Class-path entries (from `-cp`/`-jar`/`CLASSPATH`, wildcards listed).
    pub class_path: Vec<String>,
    /// A HotSpot perf-data file `/tmp/hsperfdata_<user>/<nspid>` in the process's root.
    pub perf_data: bool,
    /// The attach socket `/tmp/.java_pid<nspid>` in the process's root.
    pub attach_socket: bool,
    /// Paths of Kafka Streams state-directory locks among the open files.
    pub streams_state_locks: Vec<String>,
}

fn read_capped(path: &Path, cap: u64) -> Option<Vec<u8>> {
    let f = std::fs::File::open(path).ok()?;
    let mut buf = Vec::new();
    f.take(cap).read_to_end(&mut buf).ok()?;
    Some(buf)
}

fn nul_split(raw: &[u8]) -> Vec<String> {
    raw.split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Reads everything the verdicts need; only a missing process is an error.
pub fn read_facts(root: &ProcRoot, pid: u32) -> Result<Facts, EvidenceError> {
    let dir = root.pid(pid);
    let status = std::fs::read_to_string(dir.join("status"))
        .map_err(|_| EvidenceError::NoSuchProcess { pid })?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    let ns_pid = field("NSpid:")
        .and_then(|v| v.split_whitespace().last()?.parse().ok())
        .unwrap_or(pid);
    let uid = field("Uid:").and_then(|v| v.split_whitespace().next()?.parse().ok());
    let proc_root = dir.join("root");
    let cwd = dir.join("cwd");
    let resolve = |p: &str| -> PathBuf {
        match p.strip_prefix('/') {
            Some(abs) => proc_root.join(abs),
            None => cwd.join(p),
        }
    };
    let args = read_capped(&dir.join("cmdline"), MAX_CMDLINE)
        .map(|raw| expand_argfiles(nul_split(&raw), |p| read_capped(&resolve(p), MAX_ARGFILE)));
    let env = read_capped(&dir.join("environ"), MAX_ENVIRON).map(|raw| {
        nul_split(&raw)
            .into_iter()
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                matches!(
                    k,
                    "CLASSPATH" | "JAVA_TOOL_OPTIONS" | "_JAVA_OPTIONS" | "JDK_JAVA_OPTIONS"
                )
                .then(|| (k.to_string(), v.to_string()))
            })
            .collect::<Vec<_>>()
    });
    let threads = std::fs::read_dir(dir.join("task")).ok().map(|rd| {
        rd.flatten()
            .take(MAX_ENTRIES)
            .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
            .map(|c| c.trim_end_matches('\n').to_string())
            .collect::<Vec<_>>()
    });
    let maps = read_capped(&dir.join("maps"), MAX_MAPS).map(|raw| {
        let mut paths: Vec<String> = String::from_utf8_lossy(&raw)
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .filter(|p| p.starts_with('/'))
            .map(str::to_string)
            .collect();
        paths.sort();
        paths.dedup();
        paths
    });
    let fds = std::fs::read_dir(dir.join("fd")).ok().map(|rd| {
        rd.flatten()
            .take(MAX_ENTRIES)
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .map(|t| t.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    });
    let tmp = proc_root.join("tmp");
    let perf_data = std::fs::read_dir(&tmp)
        .map(|rd| {
            rd.flatten().any(|e| {
                e.file_name().to_string_lossy().starts_with("hsperfdata_")
                    && e.path().join(ns_pid.to_string()).exists()
            })
        })
        .unwrap_or(false);
    let attach_socket = tmp.join(format!(".java_pid{ns_pid}")).exists();
    let mut facts = Facts {
        pid,
        ns_pid,
        uid,
        age_seconds: age_seconds(root, pid),
        args,
        env,
        threads,
        maps,
        fds,
        class_path: Vec::new(),
        perf_data,
        attach_socket,
        streams_state_locks: Vec::new(),
    };
    facts.class_path = class_path(&facts, |dir| list_dir(&resolve(dir)));
    facts.streams_state_locks = facts
        .fds
        .iter()
        .flatten()
        .filter(|p| p.ends_with("/.lock"))
        .filter(|p| {
            let parent = p.trim_end_matches("/.lock");
            resolve(&format!("{parent}/kafka-streams-process-metadata")).exists()
        })
        .cloned()
        .collect();
    Ok(facts)
}

fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .take(MAX_WILDCARD)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Seconds since the process started (`stat` field 22 in USER_HZ = 100
/// ticks, against the root's `uptime`).
fn age_seconds(root: &ProcRoot, pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(root.pid(pid).join("stat")).ok()?;
    // The command name (field 2) may contain spaces: split after its ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let start_ticks: f64 = rest.split(' ').nth(19)?.parse().ok()?;
    let uptime: f64 = std::fs::read_to_string(root.0.join("uptime"))
        .ok()?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    Some(uptime - start_ticks / 100.0)
}

/// The `java` launcher's `@argfile` expansion (JDK 9+): every `@file`
/// argument before the main class is replaced by the file's tokens; `@@x`
/// stands for a literal `@x`. Files are not expanded recursively (neither
/// does the launcher).
pub fn expand_argfiles(
    args: Vec<String>,
    mut read: impl FnMut(&str) -> Option<Vec<u8>>,
) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut done = false;
    let mut expecting_value = false;
    for (i, a) in args.into_iter().enumerate() {
        if i == 0 || done {
            out.push(a);
            continue;
        }
        if let Some(lit) = a.strip_prefix("@@") {
            out.push(format!("@{lit}"));
            expecting_value = false;
            continue;
        }
        if let Some(file) = a.strip_prefix('@') {
            match read(file) {
                Some(raw) => out.extend(argfile_tokens(&String::from_utf8_lossy(&raw))),
                None => out.push(a),
            }
            expecting_value = false;
            continue;
        }
        if expecting_value {
            expecting_value = false;
        } else if OPTIONS_WITH_VALUE.contains(&a.as_str()) {
            expecting_value = true;
        } else if matches!(a.as_str(), "-jar" | "-m" | "--module") || !a.starts_with('-') {
            // The main class (or what names it): the rest are program arguments.
            done = true;
        }
        out.push(a);
    }
    out
}

/// Launcher options whose value is the next argument.
const OPTIONS_WITH_VALUE: &[&str] = &[
    "-cp",
    "-classpath",
    "--class-path",
    "-p",
    "--module-path",
    "--upgrade-module-path",
    "--add-modules",
    "--limit-modules",
    "--add-opens",
    "--add-exports",
    "--add-reads",
    "--patch-module",
    "--enable-native-access",
];

/// Tokens of an argfile: whitespace-separated, `"` or `'` quoting, `#`
/// comments to the end of the line, backslash escapes inside quotes.
pub fn argfile_tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut cur = String::new();
    let mut have = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), '\\') => match chars.next() {
                Some('n') => cur.push('\n'),
                Some('t') => cur.push('\t'),
                Some(other) => cur.push(other),
                None => {}
            },
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                have = true;
            }
            (None, '#') if !have => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
            }
            (None, c) if c.is_whitespace() => {
                if have {
                    tokens.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            (None, c) => {
                cur.push(c);
                have = true;
            }
        }
    }
    if have {
        tokens.push(cur);
    }
    tokens
}

/// A command line split as the `java` launcher reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandLine<'a> {
    /// Options before the main class (JVM and launcher options).
    pub options: Vec<&'a str>,
    /// `-cp`-style class path value, when given.
    pub class_path: Option<&'a str>,
    /// The `-jar` file, when given.
    pub jar: Option<&'a str>,
    /// Main class, `-jar` file or `-m` module, when there is one.
    pub main: Option<&'a str>,
    /// Program arguments after it.
    pub program_args: Vec<&'a str>,
}

pub fn split_command_line(args: &[String]) -> CommandLine<'_> {
    let mut cl = CommandLine::default();
    let mut i = 1;
    while i < args.len() {
        let a = args[i].as_str();
        if OPTIONS_WITH_VALUE.contains(&a) {
            cl.options.push(a);
            if let Some(v) = args.get(i + 1) {
                cl.options.push(v);
                if matches!(a, "-cp" | "-classpath" | "--class-path") {
                    cl.class_path = Some(v);
                }
            }
            i += 2;
            continue;
        }
        if a == "-jar" || a == "-m" || a == "--module" {
            cl.options.push(a);
            cl.main = args.get(i + 1).map(String::as_str);
            if a == "-jar" {
                cl.jar = cl.main;
            }
            cl.program_args = args.iter().skip(i + 2).map(String::as_str).collect();
            return cl;
        }
        if a.starts_with('-') {
            if let Some(v) = a.strip_prefix("--class-path=") {
                cl.class_path = Some(v);
            }
            cl.options.push(a);
            i += 1;
            continue;
        }
        cl.main = Some(a);
        cl.program_args = args.iter().skip(i + 1).map(String::as_str).collect();
        return cl;
    }
    cl
}

/// JVM options in the order the JVM applies them: `JAVA_TOOL_OPTIONS`,
/// `JDK_JAVA_OPTIONS`, the command line, `_JAVA_OPTIONS` (last wins).
fn jvm_options(f: &Facts) -> Vec<String> {
    let env = |k: &str| -> Vec<String> {
        f.env
            .iter()
            .flatten()
            .filter(|(n, _)| n == k)
            .flat_map(|(_, v)| argfile_tokens(v))
            .collect()
    };
    let mut out = env("JAVA_TOOL_OPTIONS");
    out.extend(env("JDK_JAVA_OPTIONS"));
    if let Some(args) = &f.args {
        out.extend(
            split_command_line(args)
                .options
                .into_iter()
                .map(str::to_string),
        );
    }
    out.extend(env("_JAVA_OPTIONS"));
    out
}

/// Class-path entries: `-cp`, else `CLASSPATH`; the `-jar` file; a `dir/*`
/// entry lists the jars in `dir` (through `list`).
fn class_path(f: &Facts, mut list: impl FnMut(&str) -> Vec<String>) -> Vec<String> {
    let Some(args) = &f.args else {
        return Vec::new();
    };
    let cl = split_command_line(args);
    let env_cp = f
        .env
        .iter()
        .flatten()
        .find(|(k, _)| k == "CLASSPATH")
        .map(|(_, v)| v.as_str());
    let mut out = Vec::new();
    if let Some(jar) = cl.jar {
        out.push(jar.to_string());
    } else if let Some(cp) = cl.class_path.or(env_cp) {
        for entry in cp.split(':').filter(|e| !e.is_empty()) {
            match entry.strip_suffix('*') {
                Some(dir) if dir.is_empty() || dir.ends_with('/') => {
                    let base = if dir.is_empty() { "." } else { dir };
                    out.extend(
                        list(base)
                            .into_iter()
                            .filter(|n| n.ends_with(".jar") || n.ends_with(".JAR"))
                            .map(|n| format!("{dir}{n}")),
                    );
                }
                _ => out.push(entry.to_string()),
            }
        }
    }
    out
}

/// Why ksbridge will not attach to a process.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("started with -Xrs: it has no SIGQUIT handler, and the attach signal would kill it")]
    ReducedSignals,
    #[error("started with -XX:+DisableAttachMechanism")]
    AttachDisabled,
    #[error("a HotSpot JVM without its Signal Dispatcher thread (still starting, or -Xrs set where ksbridge cannot read it): attaching would signal it")]
    NoSignalHandler,
    #[error("not a HotSpot JVM (threads: {threads}); attaching would send it SIGQUIT, so ksbridge does not")]
    NotAJvm { threads: String },
    #[error("owned by {owner}: only that user (or root) can attach; run ksbridge as {owner}")]
    OtherUser { owner: String },
    #[error("cannot tell whether it is a JVM: {unreadable} not readable (another user's process, or a restrictive ptrace policy); run ksbridge as the process's user")]
    NoEvidence { unreadable: String },
}

/// Why ksbridge may attach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachEvidence {
    /// The attach socket exists: attaching connects to it, no signal is sent.
    AttachSocket,
    /// A HotSpot JVM with its Signal Dispatcher running: SIGQUIT starts the
    /// attach listener and harms nothing.
    SignalDispatcher,
}

/// Whether attaching to this process is safe. Pure: decides from `f` alone.
pub fn attach_verdict(f: &Facts) -> Result<AttachEvidence, Refusal> {
    let opts = jvm_options(f);
    if opts.iter().any(|o| o == "-Xrs") {
        return Err(Refusal::ReducedSignals);
    }
    let disabled = opts.iter().rev().find_map(|o| match o.as_str() {
        "-XX:+DisableAttachMechanism" => Some(true),
        "-XX:-DisableAttachMechanism" => Some(false),
        _ => None,
    });
    if disabled == Some(true) {
        return Err(Refusal::AttachDisabled);
    }
    let has_thread = |name: &str| f.threads.iter().flatten().any(|t| t == name);
    let libjvm = f.maps.iter().flatten().any(|p| p.ends_with("/libjvm.so"));
    let hotspot = has_thread(HOTSPOT_THREAD) || libjvm || f.perf_data;
    if f.attach_socket && hotspot {
        return Ok(AttachEvidence::AttachSocket);
    }
    if hotspot && has_thread(SIGNAL_THREAD) {
        return Ok(AttachEvidence::SignalDispatcher);
    }
    if hotspot {
        return Err(Refusal::NoSignalHandler);
    }
    match &f.threads {
        Some(threads) => {
            let mut names: Vec<&str> = threads.iter().map(String::as_str).collect();
            names.sort_unstable();
            names.dedup();
            names.truncate(8);
            Err(Refusal::NotAJvm {
                threads: names.join(", "),
            })
        }
        None => Err(Refusal::NoEvidence {
            unreadable: format!("/proc/{}/task", f.pid),
        }),
    }
}

/// Reads the facts of `pid` and decides whether attaching is safe.
pub fn check_attach(root: &ProcRoot, pid: u32) -> Result<AttachEvidence, CheckError> {
    let facts = read_facts(root, pid).map_err(|_| CheckError::NoSuchProcess { pid })?;
    attach_verdict_for(&facts, own_uid()).map_err(|refusal| CheckError::Refused { pid, refusal })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("no process with pid {pid}")]
    NoSuchProcess { pid: u32 },
    #[error("pid {pid}: {refusal}")]
    Refused { pid: u32, refusal: Refusal },
}

/// What says a JVM runs Kafka Streams (or why it seems not to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamsVerdict {
    /// Kafka Streams is in use; the reasons, most telling first.
    Yes(Vec<String>),
    /// The kafka-streams jar is there but nothing shows it in use.
    Unsure(String),
    No(String),
}

impl StreamsVerdict {
    pub fn is_yes(&self) -> bool {
        matches!(self, StreamsVerdict::Yes(_))
    }

    /// The reasons as one line.
    pub fn describe(&self) -> String {
        match self {
            StreamsVerdict::Yes(why) => why.join("; "),
            StreamsVerdict::Unsure(why) | StreamsVerdict::No(why) => why.clone(),
        }
    }
}

/// `kafka-streams-<version>.jar` (not the -scala, -test-utils or -examples jars).
fn is_streams_jar(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_prefix("kafka-streams-")
        .and_then(|rest| rest.strip_suffix(".jar"))
        .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
}

/// Whether the process is a Kafka Streams app, from its facts alone.
pub fn streams_verdict(f: &Facts) -> StreamsVerdict {
    let jar = f
        .class_path
        .iter()
        .chain(f.fds.iter().flatten())
        .chain(f.maps.iter().flatten())
        .find(|p| is_streams_jar(p));
    let main = f
        .args
        .as_deref()
        .and_then(|a| split_command_line(a).main.map(str::to_string))
        .unwrap_or_default();
    let mut why = Vec::new();
    if let Some(lib) = f.maps.iter().flatten().find(|p| {
        p.rsplit('/')
            .next()
            .is_some_and(|n| n.starts_with("librocksdbjni"))
    }) {
        why.push(format!("RocksDB's JNI library is mapped ({lib})"));
    }
    if let Some(lock) = f.streams_state_locks.first() {
        why.push(format!(
            "holds a Kafka Streams state-directory lock ({lock})"
        ));
    }
    if let Some(t) = f
        .threads
        .iter()
        .flatten()
        .find(|t| STREAMS_THREADS.iter().any(|s| t.contains(s)))
    {
        why.push(format!("runs a Kafka Streams thread ({t})"));
    }
    let Some(jar) = jar else {
        return if why.is_empty() {
            StreamsVerdict::No(
                "no kafka-streams jar on its class path or among its open files".into(),
            )
        } else {
            // A fat jar hides the kafka-streams jar; the other signs still count.
            StreamsVerdict::Yes(why)
        };
    };
    if let Some(m) = KAFKA_SERVER_MAINS
        .iter()
        .find(|m| main == **m || (m.ends_with('.') && main.starts_with(**m)))
    {
        if why.is_empty() {
            return StreamsVerdict::No(format!("a Kafka server-side program ({m})"));
        }
    }
    let clients = f
        .threads
        .iter()
        .flatten()
        .find(|t| CLIENT_THREADS.iter().any(|c| t.starts_with(c)));
    if why.is_empty() {
        return match clients {
            Some(t) => StreamsVerdict::Yes(vec![format!(
                "{jar} on its class path and Kafka client threads ({t})"
            )]),
            None => StreamsVerdict::Unsure(format!(
                "{jar} on its class path, but no Kafka client thread, RocksDB or state directory in use"
            )),
        };
    }
    why.push(format!("{jar} on its class path"));
    StreamsVerdict::Yes(why)
}

/// Whether `re` matches the command line as far as it can tell before
/// attaching: the main class, one argument, or the whole line.
pub fn command_line_matches(re: &regex::Regex, f: &Facts) -> bool {
    let Some(args) = &f.args else {
        return false;
    };
    let cl = split_command_line(args);
    cl.main.is_some_and(|m| re.is_match(m))
        || cl.program_args.iter().any(|a| re.is_match(a))
        || re.is_match(&args.join(" "))
}

/// Pids that look like JVMs from entries any user can read: the `java`
/// launcher's name (main thread or argv\[0\]) or a HotSpot "VM Thread". Other
/// users' JVMs are included (listed as not attachable, never left out).
pub fn jvm_pids(root: &ProcRoot) -> Vec<u32> {
    root.pids()
        .into_iter()
        .filter(|pid| {
            let dir = root.pid(*pid);
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if comm.trim_end() == "java" {
                return true;
            }
            let argv0 = read_capped(&dir.join("cmdline"), 4096)
                .map(|raw| nul_split(&raw).into_iter().next().unwrap_or_default())
                .unwrap_or_default();
            if argv0 == "java" || argv0.ends_with("/java") {
                return true;
            }
            std::fs::read_dir(dir.join("task"))
                .map(|rd| {
                    rd.flatten().take(MAX_ENTRIES).any(|t| {
                        std::fs::read_to_string(t.path().join("comm"))
                            .is_ok_and(|c| c.trim_end() == HOTSPOT_THREAD)
                    })
                })
                .unwrap_or(false)
        })
        .collect()
}

/// The effective uid of ksbridge itself (from the real `/proc/self`).
pub fn own_uid() -> Option<u32> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// A user name for a uid from the root's `/etc/passwd`, else the number.
pub fn user_name(uid: Option<u32>) -> String {
    let Some(uid) = uid else {
        return String::new();
    };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}

/// The attach verdict for a caller with effective uid `caller`: besides
/// [`attach_verdict`], a non-root caller cannot attach to another user's JVM
/// (HotSpot accepts attach connections from its own user and root only).
pub fn attach_verdict_for(f: &Facts, caller: Option<u32>) -> Result<AttachEvidence, Refusal> {
    let verdict = attach_verdict(f)?;
    match (caller, f.uid) {
        (Some(me), Some(owner)) if me != 0 && me != owner => Err(Refusal::OtherUser {
            owner: user_name(Some(owner)),
        }),
        _ => Ok(verdict),
    }
}

/// What discovery is asked to watch.
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'a> {
    /// `--target.match`: with it, only JVMs whose command line matches.
    pub matcher: Option<&'a regex::Regex>,
    /// Main classes of watched targets that went away: a JVM with the same
    /// main class may be their restart.
    pub restarted_mains: &'a [String],
    /// `--discovery.probe`: attach to every JVM that can take it and look
    /// for Kafka Streams beans (the intrusive way, on explicit request).
    pub probe: bool,
    /// Discovery is off: only restarts of watched targets are looked for.
    pub only_restarts: bool,
}

/// Whether discovery should attach to a JVM that can safely take it. `Ok`
/// says why; `Err` why not. Pure.
pub fn discovery_verdict(f: &Facts, w: &Wanted) -> Result<String, String> {
    if w.probe {
        return Ok("--discovery.probe".into());
    }
    let streams = streams_verdict(f);
    let StreamsVerdict::Yes(why) = &streams else {
        return Err(format!(
            "not seen to be a Kafka Streams app: {}",
            streams.describe()
        ));
    };
    let main = f
        .args
        .as_deref()
        .and_then(|a| split_command_line(a).main.map(str::to_string))
        .unwrap_or_default();
    if !main.is_empty() && w.restarted_mains.contains(&main) {
        return Ok(format!("may be the restart of a watched {main}"));
    }
    if w.only_restarts {
        return Err("not the restart of a watched target (discovery is off)".into());
    }
    match w.matcher {
        None => Ok(why.join("; ")),
        Some(re) if command_line_matches(re, f) => Ok(why.join("; ")),
        Some(re) => Err(format!(
            "a Kafka Streams app, but its command line does not match --target.match {re}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> (ProcRoot, u32) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/proc")
            .join(name);
        let root = ProcRoot::new(&dir);
        let pids = root.pids();
        assert_eq!(pids.len(), 1, "{name}: one recorded pid");
        (root, pids[0])
    }

    fn facts(name: &str) -> Facts {
        let (root, pid) = fixture(name);
        read_facts(&root, pid).unwrap()
    }

    #[test]
    fn recorded_jvms_and_non_jvms() {
        assert_eq!(
            attach_verdict(&facts("plain-jvm")),
            Ok(AttachEvidence::SignalDispatcher)
        );
        assert_eq!(
            attach_verdict(&facts("streams-app-4")),
            Ok(AttachEvidence::SignalDispatcher)
        );
        assert_eq!(
            attach_verdict(&facts("broker-4")),
            Ok(AttachEvidence::SignalDispatcher)
        );
        // -Xrs: refused although its attach socket exists.
        let xrs = facts("jvm-xrs");
        assert!(xrs.attach_socket && xrs.perf_data);
        assert_eq!(attach_verdict(&xrs), Err(Refusal::ReducedSignals));
        for name in ["python", "shell"] {
            match attach_verdict(&facts(name)) {
                Err(Refusal::NotAJvm { threads }) => assert!(!threads.is_empty(), "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn unreadable_evidence_refuses() {
        // A process whose task list, maps and fds cannot be read: no evidence, no attach.
        let mut f = facts("python");
        f.threads = None;
        f.maps = None;
        f.fds = None;
        assert!(matches!(
            attach_verdict(&f),
            Err(Refusal::NoEvidence { .. })
        ));
        // The same for a JVM whose threads are hidden: maps alone show HotSpot,
        // but nothing shows its signal handler.
        let mut f = facts("plain-jvm");
        f.threads = None;
        f.perf_data = false;
        assert_eq!(attach_verdict(&f), Err(Refusal::NoSignalHandler));
    }

    #[test]
    fn a_starting_jvm_is_refused() {
        let mut f = facts("plain-jvm");
        f.threads
            .as_mut()
            .unwrap()
            .retain(|t| t != "Signal Dispatch");
        assert_eq!(attach_verdict(&f), Err(Refusal::NoSignalHandler));
        // With its socket already there no signal is needed.
        f.attach_socket = true;
        assert_eq!(attach_verdict(&f), Ok(AttachEvidence::AttachSocket));
    }

    #[test]
    fn flags_from_the_environment_and_last_one_wins() {
        let mut f = facts("plain-jvm");
        f.env = Some(vec![("JAVA_TOOL_OPTIONS".into(), "-Xrs".into())]);
        assert_eq!(attach_verdict(&f), Err(Refusal::ReducedSignals));
        f.env = Some(vec![(
            "JAVA_TOOL_OPTIONS".into(),
            "-XX:+DisableAttachMechanism".into(),
        )]);
        assert_eq!(attach_verdict(&f), Err(Refusal::AttachDisabled));
        f.env = Some(vec![(
            "_JAVA_OPTIONS".into(),
            "-XX:-DisableAttachMechanism".into(),
        )]);
        let args = f.args.as_mut().unwrap();
        args.insert(1, "-XX:+DisableAttachMechanism".into());
        assert_eq!(attach_verdict(&f), Ok(AttachEvidence::SignalDispatcher));
        // An application argument is not a JVM flag.
        let mut f = facts("plain-jvm");
        f.args.as_mut().unwrap().push("-Xrs".into());
        assert_eq!(attach_verdict(&f), Ok(AttachEvidence::SignalDispatcher));
    }

    #[test]
    fn streams_app_versus_broker_on_the_same_class_path() {
        let app = streams_verdict(&facts("streams-app-4"));
        assert!(app.is_yes(), "{app:?}");
        assert!(app.describe().contains("librocksdbjni"), "{app:?}");
        assert!(app.describe().contains("state-directory lock"), "{app:?}");
        let broker = facts("broker-4");
        // Its class path names the jar and it even holds it open.
        assert!(broker.fds.iter().flatten().any(|p| is_streams_jar(p)));
        assert!(matches!(
            streams_verdict(&broker),
            StreamsVerdict::Unsure(_)
        ));
        assert!(matches!(
            streams_verdict(&facts("plain-jvm")),
            StreamsVerdict::No(_)
        ));
        // A stateless app: the jar plus client threads.
        let mut f = facts("broker-4");
        f.threads.as_mut().unwrap().push("kafka-producer-".into());
        assert!(streams_verdict(&f).is_yes());
        // Kafka's own main classes are not Streams apps, whatever their class path.
        f.args = Some(vec![
            "java".into(),
            "kafka.Kafka".into(),
            "server.properties".into(),
        ]);
        f.threads.as_mut().unwrap().pop();
        assert!(matches!(streams_verdict(&f), StreamsVerdict::No(_)));
    }

    #[test]
    fn argfiles_and_class_paths() {
        let args: Vec<String> = ["java", "@opts", "-cp", "@x", "Main", "@arg"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let expanded = expand_argfiles(args, |p| match p {
            "opts" => Some(b"# comment\n-Xmx1g \"-Dname=a b\"\n-cp 'lib/*'\n".to_vec()),
            _ => None,
        });
        assert_eq!(
            expanded,
            [
                "java",
                "-Xmx1g",
                "-Dname=a b",
                "-cp",
                "lib/*",
                "-cp",
                "@x",
                "Main",
                "@arg"
            ]
        );
        let f = Facts {
            args: Some(expanded),
            ..Facts::default()
        };
        let cp = class_path(&f, |dir| {
            assert_eq!(dir, "lib/");
            vec!["kafka-streams-4.4.0.jar".into(), "README".into()]
        });
        // The last -cp wins, as in the launcher.
        assert_eq!(cp, ["@x"]);
        let f = Facts {
            args: Some(vec!["java".into(), "Main".into()]),
            env: Some(vec![("CLASSPATH".into(), "/opt/app/*:/x.jar".into())]),
            ..Facts::default()
        };
        let cp = class_path(&f, |_| vec!["kafka-streams-3.9.2.jar".into()]);
        assert_eq!(cp, ["/opt/app/kafka-streams-3.9.2.jar", "/x.jar"]);
        assert!(is_streams_jar("/a/kafka-streams-3.9.2.jar"));
        assert!(!is_streams_jar("/a/kafka-streams-scala_2.13-3.9.2.jar"));
        assert!(!is_streams_jar("/a/kafka-streams-test-utils-3.9.2.jar"));
    }

    #[test]
    fn command_line_match() {
        let f = facts("streams-app-4");
        let re = |s: &str| regex::Regex::new(s).unwrap();
        assert!(command_line_matches(&re("^zmart$"), &f));
        assert!(command_line_matches(&re("^ksbridge.lab.Guard$"), &f));
        assert!(!command_line_matches(&re("^HiddenStreams"), &f));
    }

    #[test]
    fn a_missing_process() {
        let (root, _) = fixture("python");
        assert_eq!(
            check_attach(&root, 1),
            Err(CheckError::NoSuchProcess { pid: 1 })
        );
    }
}
