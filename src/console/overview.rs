//! VisualVM's Overview and Monitor tabs: one [`Overview`] sample of the
//! platform MXBeans, and [`Rates`] between two samples (CPU from
//! `ProcessCpuTime` deltas, GC share of wall time). Input: a [`Session`];
//! output: samples, rates and their text rendering.

use std::collections::BTreeMap;
use std::io::Write;

use serde::{Deserialize, Serialize};

use super::{bytes, duration_text, ConsoleError, Session};
use crate::jvm::ConsoleOp;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    pub sampled_at_ms: i64,
    pub runtime: RuntimeInfo,
    pub os: OsInfo,
    pub memory: Memory,
    pub pools: Vec<Pool>,
    pub gc: Vec<Collector>,
    pub threads: Threads,
    pub classes: Classes,
    /// `VM.flags` output: the flags that differ from their defaults.
    pub vm_flags: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeInfo {
    pub name: String,
    pub vm_name: String,
    pub vm_vendor: String,
    pub vm_version: String,
    pub spec_version: String,
    pub uptime_ms: i64,
    pub start_time_ms: i64,
    pub input_arguments: Vec<String>,
    pub system_properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OsInfo {
    pub name: Option<String>,
    pub arch: Option<String>,
    pub version: Option<String>,
    pub available_processors: Option<i64>,
    /// Nanoseconds of CPU the process has used.
    pub process_cpu_time: Option<i64>,
    pub system_load_average: Option<f64>,
    pub open_file_descriptor_count: Option<i64>,
    pub max_file_descriptor_count: Option<i64>,
    pub total_physical_memory_size: Option<i64>,
    pub free_physical_memory_size: Option<i64>,
    pub committed_virtual_memory_size: Option<i64>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub struct Usage {
    pub init: i64,
    pub used: i64,
    pub committed: i64,
    pub max: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    pub heap: Usage,
    pub non_heap: Usage,
    pub pending_finalization: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Pool {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub usage: Option<Usage>,
    pub peak: Option<Usage>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Collector {
    pub name: String,
    pub count: i64,
    pub time_ms: i64,
    pub pools: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Threads {
    pub live: i64,
    pub daemon: i64,
    pub peak: i64,
    pub total_started: i64,
    pub cpu_time_supported: bool,
    pub cpu_time_enabled: bool,
    pub by_state: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Classes {
    pub loaded: i64,
    pub total_loaded: i64,
    pub unloaded: i64,
}

/// What changed between two samples of the same JVM.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Rates {
    pub interval_ms: i64,
    /// CPU used by the process over the interval, in cores (1.0 = one core busy).
    pub cpu_cores: Option<f64>,
    /// The same as a share of all the host's processors (0..1).
    pub cpu_share: Option<f64>,
    /// Share of wall time spent in GC over the interval (0..1, summed over collectors).
    pub gc_share: f64,
    pub gc_collections: i64,
    pub classes_loaded: i64,
    pub threads_started: i64,
}

pub use super::streams::StreamsApp;

impl Overview {
    /// Share of wall time spent in GC since the JVM started (0..1).
    pub fn gc_share_since_start(&self) -> f64 {
        let gc: i64 = self.gc.iter().map(|g| g.time_ms.max(0)).sum();
        if self.runtime.uptime_ms <= 0 {
            return 0.0;
        }
        gc as f64 / self.runtime.uptime_ms as f64
    }

    /// Average CPU since start, in cores.
    pub fn cpu_cores_since_start(&self) -> Option<f64> {
        let cpu = self.os.process_cpu_time.filter(|c| *c >= 0)?;
        (self.runtime.uptime_ms > 0).then(|| cpu as f64 / 1e6 / self.runtime.uptime_ms as f64)
    }

    /// The main class (or jar) and its arguments (`sun.java.command`).
    pub fn command(&self) -> &str {
        self.runtime
            .system_properties
            .get("sun.java.command")
            .map(String::as_str)
            .unwrap_or("")
    }

    /// The flags that differ from their defaults, one per entry.
    pub fn flags(&self) -> Vec<&str> {
        self.vm_flags
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .collect()
    }

    /// Rates from `earlier` to `self` (same JVM).
    pub fn rates_since(&self, earlier: &Overview) -> Rates {
        let interval_ms = (self.runtime.uptime_ms - earlier.runtime.uptime_ms).max(0);
        let gc_ms: i64 = self.gc.iter().map(|g| g.time_ms).sum::<i64>()
            - earlier.gc.iter().map(|g| g.time_ms).sum::<i64>();
        let gc_n: i64 = self.gc.iter().map(|g| g.count).sum::<i64>()
            - earlier.gc.iter().map(|g| g.count).sum::<i64>();
        let cpu_cores = match (self.os.process_cpu_time, earlier.os.process_cpu_time) {
            (Some(a), Some(b)) if a >= 0 && b >= 0 && interval_ms > 0 => {
                Some((a - b).max(0) as f64 / 1e6 / interval_ms as f64)
            }
            _ => None,
        };
        let procs = self.os.available_processors.unwrap_or(1).max(1) as f64;
        Rates {
            interval_ms,
            cpu_cores,
            cpu_share: cpu_cores.map(|c| c / procs),
            gc_share: if interval_ms > 0 {
                gc_ms.max(0) as f64 / interval_ms as f64
            } else {
                0.0
            },
            gc_collections: gc_n.max(0),
            classes_loaded: (self.classes.total_loaded - earlier.classes.total_loaded).max(0),
            threads_started: (self.threads.total_started - earlier.threads.total_started).max(0),
        }
    }
}

impl Session {
    pub async fn overview(&self) -> Result<Overview, ConsoleError> {
        self.call(ConsoleOp::Overview, Vec::new()).await
    }
}

/// System properties shown without `--properties`.
pub const SELECTED_PROPERTIES: &[&str] = &[
    "java.home",
    "java.version",
    "java.class.path",
    "user.name",
    "user.dir",
    "file.encoding",
    "java.io.tmpdir",
];

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn usage_line(u: &Usage) -> String {
    format!(
        "used {:>10}  committed {:>10}  max {:>10}",
        bytes(u.used),
        bytes(u.committed),
        bytes(u.max)
    )
}

/// The `ksbridge jvm` text. `rates` is the last interval (absent for one sample).
/// One long function on purpose: it is the page, section by section, top to bottom.
pub fn write_text(
    out: &mut impl Write,
    o: &Overview,
    rates: Option<&Rates>,
    apps: &[StreamsApp],
    all_properties: bool,
) -> std::io::Result<()> {
    let r = &o.runtime;
    writeln!(out, "JVM        {} ({})", r.name, r.vm_name)?;
    writeln!(
        out,
        "version    {} {} (spec {}), {}",
        r.vm_vendor,
        r.vm_version,
        r.spec_version,
        o.runtime
            .system_properties
            .get("java.version")
            .map(|v| format!("java {v}"))
            .unwrap_or_default()
    )?;
    writeln!(out, "uptime     {}", duration_text(r.uptime_ms))?;
    writeln!(out, "main       {}", o.command())?;
    writeln!(out, "arguments  {}", r.input_arguments.join(" "))?;
    if let (Some(n), Some(a)) = (&o.os.name, &o.os.arch) {
        writeln!(
            out,
            "os         {n} {a} {}, {} processors, load {}",
            o.os.version.as_deref().unwrap_or(""),
            o.os.available_processors.unwrap_or(0),
            o.os.system_load_average
                .map(|l| format!("{l:.2}"))
                .unwrap_or_else(|| "-".into())
        )?;
    }
    writeln!(out)?;
    let cpu_now = rates.and_then(|r| r.cpu_cores);
    writeln!(
        out,
        "CPU        {} cores over the last {}; {} cores on average since start",
        cpu_now
            .map(|c| format!("{c:.2}"))
            .unwrap_or_else(|| "-".into()),
        rates
            .map(|r| format!("{:.1}s", r.interval_ms as f64 / 1000.0))
            .unwrap_or_else(|| "-".into()),
        o.cpu_cores_since_start()
            .map(|c| format!("{c:.2}"))
            .unwrap_or_else(|| "-".into())
    )?;
    writeln!(
        out,
        "GC         {} of wall time since start{}",
        pct(o.gc_share_since_start()),
        rates
            .map(|r| format!(
                ", {} over the last {:.1}s ({} collections)",
                pct(r.gc_share),
                r.interval_ms as f64 / 1000.0,
                r.gc_collections
            ))
            .unwrap_or_default()
    )?;
    for g in &o.gc {
        writeln!(
            out,
            "  {:<28} {:>8} collections  {:>10} ms  pools: {}",
            g.name,
            g.count,
            g.time_ms,
            g.pools.join(", ")
        )?;
    }
    writeln!(out)?;
    writeln!(out, "heap       {}", usage_line(&o.memory.heap))?;
    writeln!(out, "non-heap   {}", usage_line(&o.memory.non_heap))?;
    for p in &o.pools {
        if let Some(u) = &p.usage {
            writeln!(out, "  {:<30} {:<8} {}", p.name, p.kind, usage_line(u))?;
        }
    }
    writeln!(out)?;
    let t = &o.threads;
    let states: Vec<String> = t
        .by_state
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    writeln!(
        out,
        "threads    {} live, {} daemon, {} peak, {} started; {}",
        t.live,
        t.daemon,
        t.peak,
        t.total_started,
        states.join(", ")
    )?;
    writeln!(
        out,
        "classes    {} loaded, {} unloaded, {} total",
        o.classes.loaded, o.classes.unloaded, o.classes.total_loaded
    )?;
    if let Some(fds) = o.os.open_file_descriptor_count {
        writeln!(
            out,
            "files      {fds} open of {}",
            o.os.max_file_descriptor_count.unwrap_or(-1)
        )?;
    }
    writeln!(out)?;
    if apps.is_empty() {
        writeln!(out, "streams    (no Kafka Streams app)")?;
    }
    for a in apps {
        writeln!(
            out,
            "streams    {}  {}  client {}",
            a.application_id,
            a.state.as_deref().unwrap_or("UNKNOWN"),
            a.client_id
        )?;
    }
    writeln!(out)?;
    let flags = o.flags();
    writeln!(out, "flags (not default)")?;
    for f in flags {
        writeln!(out, "  {f}")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "properties{}",
        if all_properties {
            ""
        } else {
            " (selected; --properties for all)"
        }
    )?;
    for (k, v) in &o.runtime.system_properties {
        if all_properties || SELECTED_PROPERTIES.contains(&k.as_str()) {
            writeln!(out, "  {k} = {}", v.replace('\n', "\\n"))?;
        }
    }
    Ok(())
}

/// One `--watch` line: time, heap, CPU, GC share, threads, classes.
pub fn watch_line(o: &Overview, r: &Rates) -> String {
    format!(
        "{:>8}  heap {:>10} / {:>10}  cpu {:>5} cores  gc {:>6} ({} collections)  threads {:>4}  classes +{}",
        duration_text(o.runtime.uptime_ms),
        bytes(o.memory.heap.used),
        bytes(o.memory.heap.max),
        r.cpu_cores
            .map(|c| format!("{c:.2}"))
            .unwrap_or_else(|| "-".into()),
        pct(r.gc_share),
        r.gc_collections,
        o.threads.live,
        r.classes_loaded
    )
}
