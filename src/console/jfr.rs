//! Mission Control's flight recorder: the `JFR.*` diagnostic commands over
//! the connection, and a summary of a recording file read with the JDK's own
//! `jfr print --json` (hot methods, allocation by class, GC pauses, longest
//! lock waits). Input: a [`Session`] or a recording path; output: command
//! text and a [`Summary`].

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value as Json;

use super::{bytes, ConsoleError, Session};

/// The events the summary reads.
const EVENTS: &str = "jdk.ExecutionSample,jdk.ObjectAllocationSample,jdk.ObjectAllocationInNewTLAB,jdk.GarbageCollection,jdk.JavaMonitorEnter,jdk.ThreadPark";

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Summary {
    pub execution_samples: u64,
    /// `class.method` of the top frame, most samples first.
    pub hot_methods: Vec<(String, u64)>,
    /// Sampled allocation weight in bytes by class, most first.
    pub allocation_by_class: Vec<(String, u64)>,
    pub gc: Vec<GcPause>,
    pub gc_count: u64,
    pub gc_pause_total_ms: f64,
    pub lock_waits: Vec<LockWait>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GcPause {
    pub name: String,
    pub cause: String,
    pub longest_pause_ms: f64,
    pub sum_of_pauses_ms: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LockWait {
    /// `jdk.JavaMonitorEnter` or `jdk.ThreadPark`.
    pub event: String,
    pub class: String,
    pub thread: String,
    pub duration_ms: f64,
    pub frame: String,
}

impl Session {
    /// `JFR.start name=.. [duration=..] [settings=..] [filename=..]`.
    pub async fn jfr_start(
        &self,
        name: &str,
        duration: Option<&str>,
        settings: &str,
        filename: Option<&str>,
    ) -> Result<String, ConsoleError> {
        let mut args = vec![format!("name={name}"), format!("settings={settings}")];
        if let Some(d) = duration {
            args.push(format!("duration={d}"));
        }
        if let Some(f) = filename {
            args.push(format!("filename={f}"));
        }
        self.dcmd("JFR.start", &args).await
    }

    /// `JFR.dump name=.. filename=..` (the file is written on the target's host).
    pub async fn jfr_dump(&self, name: &str, filename: &str) -> Result<String, ConsoleError> {
        self.dcmd(
            "JFR.dump",
            &[format!("name={name}"), format!("filename={filename}")],
        )
        .await
    }

    pub async fn jfr_stop(&self, name: &str) -> Result<String, ConsoleError> {
        self.dcmd("JFR.stop", &[format!("name={name}")]).await
    }

    pub async fn jfr_check(&self) -> Result<String, ConsoleError> {
        self.dcmd("JFR.check", &[]).await
    }
}

/// The JDK's `jfr` tool: `$JAVA_HOME/bin/jfr`, else the embedded JVM's JDK, else `PATH`.
pub fn jfr_tool(java_home: Option<&Path>) -> PathBuf {
    let homes = std::env::var_os("JAVA_HOME")
        .map(PathBuf::from)
        .into_iter()
        .chain(java_home.map(Path::to_path_buf));
    for h in homes {
        let p = h.join("bin").join("jfr");
        if p.is_file() {
            return p;
        }
    }
    PathBuf::from("jfr")
}

/// Reads a recording with `jfr print --json --stack-depth 1` and summarizes it.
pub fn summarize_file(tool: &Path, file: &Path, top: usize) -> Result<Summary, ConsoleError> {
    let failed = |message: String| ConsoleError::Failed {
        target: file.display().to_string(),
        message,
    };
    if !file.is_file() {
        return Err(ConsoleError::NotFound {
            target: file.display().to_string(),
            message: "no such recording file".into(),
        });
    }
    let out = std::process::Command::new(tool)
        .args(["print", "--json", "--stack-depth", "1", "--events", EVENTS])
        .arg(file)
        .output()
        .map_err(|e| failed(format!("running {}: {e}", tool.display())))?;
    if !out.status.success() {
        return Err(failed(format!(
            "{} print failed ({}): {}",
            tool.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let json: Json = serde_json::from_slice(&out.stdout)
        .map_err(|e| failed(format!("jfr print --json output did not parse: {e}")))?;
    Ok(summarize(&json, top))
}

/// ISO-8601 durations as `jfr print --json` writes them (`PT0.0263S`, `PT1M2S`) in ms.
pub fn iso_ms(s: &str) -> Option<f64> {
    let mut rest = s.strip_prefix("PT")?;
    let mut ms = 0.0;
    while !rest.is_empty() {
        let end = rest.find(|c: char| c.is_ascii_alphabetic())?;
        let n: f64 = rest[..end].parse().ok()?;
        ms += n * match &rest[end..=end] {
            "H" => 3_600_000.0,
            "M" => 60_000.0,
            "S" => 1000.0,
            _ => return None,
        };
        rest = &rest[end + 1..];
    }
    Some(ms)
}

fn class_name(v: &Json) -> String {
    v.get("name")
        .and_then(Json::as_str)
        .unwrap_or("?")
        .replace('/', ".")
}

fn top_frame(values: &Json) -> Option<String> {
    let f = values.get("stackTrace")?.get("frames")?.get(0)?;
    let m = f.get("method")?;
    Some(format!(
        "{}.{}",
        class_name(m.get("type")?),
        m.get("name")?.as_str()?
    ))
}

fn ranked(map: HashMap<String, u64>, top: usize) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = map.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(top);
    v
}

/// The summary of a parsed `jfr print --json` document.
pub fn summarize(doc: &Json, top: usize) -> Summary {
    let mut s = Summary::default();
    let mut hot: HashMap<String, u64> = HashMap::new();
    let mut alloc: HashMap<String, u64> = HashMap::new();
    let events = doc
        .pointer("/recording/events")
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for e in events {
        let ty = e.get("type").and_then(Json::as_str).unwrap_or("");
        let Some(v) = e.get("values") else { continue };
        match ty {
            "jdk.ExecutionSample" => {
                s.execution_samples += 1;
                if let Some(f) = top_frame(v) {
                    *hot.entry(f).or_default() += 1;
                }
            }
            "jdk.ObjectAllocationSample" | "jdk.ObjectAllocationInNewTLAB" => {
                let weight = v
                    .get("weight")
                    .or_else(|| v.get("tlabSize"))
                    .and_then(Json::as_u64)
                    .unwrap_or(0);
                if let Some(c) = v.get("objectClass") {
                    *alloc.entry(class_name(c)).or_default() += weight;
                }
            }
            "jdk.GarbageCollection" => {
                let ms = |k: &str| {
                    v.get(k)
                        .and_then(Json::as_str)
                        .and_then(iso_ms)
                        .unwrap_or(0.0)
                };
                s.gc_count += 1;
                s.gc_pause_total_ms += ms("sumOfPauses");
                s.gc.push(GcPause {
                    name: v.get("name").and_then(Json::as_str).unwrap_or("?").into(),
                    cause: v.get("cause").and_then(Json::as_str).unwrap_or("?").into(),
                    longest_pause_ms: ms("longestPause"),
                    sum_of_pauses_ms: ms("sumOfPauses"),
                });
            }
            "jdk.JavaMonitorEnter" | "jdk.ThreadPark" => {
                let class = v
                    .get("monitorClass")
                    .or_else(|| v.get("parkedClass"))
                    .filter(|c| !c.is_null())
                    .map(class_name)
                    .unwrap_or_else(|| "-".into());
                s.lock_waits.push(LockWait {
                    event: ty.into(),
                    class,
                    thread: v
                        .pointer("/eventThread/javaName")
                        .and_then(Json::as_str)
                        .unwrap_or("?")
                        .into(),
                    duration_ms: v
                        .get("duration")
                        .and_then(Json::as_str)
                        .and_then(iso_ms)
                        .unwrap_or(0.0),
                    frame: top_frame(v).unwrap_or_default(),
                });
            }
            _ => {}
        }
    }
    s.hot_methods = ranked(hot, top);
    s.allocation_by_class = ranked(alloc, top);
    s.gc.sort_by(|a, b| b.longest_pause_ms.total_cmp(&a.longest_pause_ms));
    s.gc.truncate(top);
    s.lock_waits
        .sort_by(|a, b| b.duration_ms.total_cmp(&a.duration_ms));
    s.lock_waits.truncate(top);
    s
}

pub fn write_summary(out: &mut impl Write, s: &Summary) -> std::io::Result<()> {
    writeln!(
        out,
        "hot methods ({} execution samples, top frame):",
        s.execution_samples
    )?;
    for (m, n) in &s.hot_methods {
        let share = if s.execution_samples > 0 {
            *n as f64 * 100.0 / s.execution_samples as f64
        } else {
            0.0
        };
        writeln!(out, "  {n:>7}  {share:>5.1}%  {m}")?;
    }
    writeln!(out, "\nallocation by class (sampled weight):")?;
    for (c, b) in &s.allocation_by_class {
        writeln!(out, "  {:>12}  {c}", bytes(*b as i64))?;
    }
    writeln!(
        out,
        "\nGC: {} collections, {:.1} ms paused in total; longest pauses:",
        s.gc_count, s.gc_pause_total_ms
    )?;
    for g in &s.gc {
        writeln!(
            out,
            "  {:>9.2} ms  {}  ({})",
            g.longest_pause_ms, g.name, g.cause
        )?;
    }
    writeln!(out, "\nlongest lock waits:")?;
    for w in &s.lock_waits {
        writeln!(
            out,
            "  {:>9.2} ms  {}  on {}  thread \"{}\"  at {}",
            w.duration_ms,
            w.event.trim_start_matches("jdk."),
            w.class,
            w.thread,
            w.frame
        )?;
    }
    if s.lock_waits.is_empty() {
        writeln!(out, "  (none recorded above the settings' threshold)")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations() {
        assert_eq!(iso_ms("PT0.5S"), Some(500.0));
        assert_eq!(iso_ms("PT1M2S"), Some(62_000.0));
        assert_eq!(iso_ms("PT0S"), Some(0.0));
        assert_eq!(iso_ms("5s"), None);
    }

    #[test]
    fn summarizes_events() {
        let frame = |c: &str, m: &str| serde_json::json!({"stackTrace": {"frames": [{"method": {"type": {"name": c}, "name": m}}]}});
        let doc = serde_json::json!({"recording": {"events": [
            {"type": "jdk.ExecutionSample", "values": frame("a/B", "spin")},
            {"type": "jdk.ExecutionSample", "values": frame("a/B", "spin")},
            {"type": "jdk.ExecutionSample", "values": frame("a/C", "idle")},
            {"type": "jdk.ObjectAllocationSample", "values": {"objectClass": {"name": "a/Blob"}, "weight": 4096}},
            {"type": "jdk.GarbageCollection", "values": {"name": "G1New", "cause": "x", "longestPause": "PT0.01S", "sumOfPauses": "PT0.02S"}},
        ]}});
        let s = summarize(&doc, 10);
        assert_eq!(s.hot_methods[0], ("a.B.spin".to_string(), 2));
        assert_eq!(s.allocation_by_class[0], ("a.Blob".to_string(), 4096));
        assert_eq!(s.gc_count, 1);
        assert!((s.gc_pause_total_ms - 20.0).abs() < 1e-9);
    }
}
