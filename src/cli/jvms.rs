//! `ksbridge jvms`: every local JVM (the `jps` view), whether ksbridge can
//! attach, and the Kafka Streams apps inside with their application id and state.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use crate::discovery::procfs;
use crate::jmx::Snapshot;
use crate::jvm::{Jvm, LocalJvm, Target};

use super::target::{embedded_jvm, fail, runtime};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Seconds to wait for each JVM to answer.
    #[arg(long, default_value_t = 5.0)]
    pub timeout: f64,
}

/// One Kafka Streams client inside a JVM.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StreamsApp {
    pub application_id: String,
    pub client_id: String,
    pub state: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct JvmRow {
    pub pid: u32,
    pub user: String,
    pub main: String,
    pub java_version: String,
    pub attachable: bool,
    /// Why ksbridge cannot attach (empty when it can).
    pub error: String,
    pub streams: Vec<StreamsApp>,
}

/// The Kafka Streams clients in a snapshot of `kafka.streams:type=stream-metrics,*`.
pub fn streams_apps(snap: &Snapshot) -> Vec<StreamsApp> {
    snap.of_type("kafka.streams", "stream-metrics")
        .filter(|b| b.get("state").is_some() || b.get("application-id").is_some())
        .map(|b| StreamsApp {
            application_id: b.text("application-id").unwrap_or_default().to_string(),
            client_id: b.name.get("client-id").unwrap_or_default().to_string(),
            state: b
                .get("state")
                .map(|v| v.display())
                .unwrap_or_else(|| "UNKNOWN".into()),
        })
        .collect()
}

async fn probe(jvm: Jvm, j: LocalJvm, timeout: Duration) -> JvmRow {
    let mut row = JvmRow {
        pid: j.pid,
        user: j.user,
        main: j.display_name,
        java_version: String::new(),
        attachable: false,
        error: String::new(),
        streams: Vec::new(),
    };
    let conn = match jvm.connect(Target::Pid(j.pid), timeout).await {
        Ok(c) => c,
        Err(e) => {
            row.error = e.to_string();
            return row;
        }
    };
    row.attachable = true;
    let patterns = vec![
        "kafka.streams:type=stream-metrics,*".to_string(),
        "java.lang:type=Runtime".to_string(),
    ];
    match jvm.read(conn, patterns, timeout).await {
        Ok(r) => {
            if let Some(rt) = r.snapshot.find("java.lang:type=Runtime") {
                row.java_version = rt
                    .text("SystemProperties.java.version.value")
                    .or_else(|| rt.text("SpecVersion"))
                    .unwrap_or_default()
                    .to_string();
            }
            row.streams = streams_apps(&r.snapshot);
        }
        Err(e) => row.error = e.to_string(),
    }
    jvm.close(conn).await;
    row
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let timeout = Duration::from_secs_f64(args.timeout.clamp(0.1, 600.0));
    let jvm = match embedded_jvm() {
        Ok(j) => j,
        Err(code) => return Ok(code),
    };
    let rt = runtime()?;
    let rows = rt.block_on(async {
        let mut list = jvm.list_local().await?;
        // JVMs started with -XX:-UsePerfData are missing from the attach
        // API's list; /proc still shows them.
        for pid in procfs::java_pids() {
            if !list.iter().any(|j| j.pid == pid) && pid != std::process::id() {
                list.push(LocalJvm {
                    pid,
                    user: proc_user(pid),
                    display_name: procfs::main_class(pid).unwrap_or_default(),
                });
            }
        }
        let tasks: Vec<_> = list
            .into_iter()
            .map(|j| tokio::spawn(probe(jvm.clone(), j, timeout)))
            .collect();
        let mut rows = Vec::new();
        for t in tasks {
            if let Ok(r) = t.await {
                rows.push(r);
            }
        }
        Ok::<_, crate::jvm::JvmError>(rows)
    });
    let mut rows = match rows {
        Ok(r) => r,
        Err(e) => return Ok(fail(&e)),
    };
    rows.sort_by_key(|r| r.pid);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else {
        write_table(&mut out, &rows)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The owner of a process: its real uid from `/proc/<pid>/status`, named
/// through `/etc/passwd` when listed there.
fn proc_user(pid: u32) -> String {
    let uid = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .unwrap_or_default();
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid).then(|| f[0].to_string())
            })
        })
        .unwrap_or(uid)
}

fn write_table(out: &mut impl Write, rows: &[JvmRow]) -> std::io::Result<()> {
    let main_of = |r: &JvmRow| -> String {
        let m = r.main.split_whitespace().next().unwrap_or("").to_string();
        if m.is_empty() {
            "<unknown>".into()
        } else {
            m
        }
    };
    let wm = rows
        .iter()
        .map(|r| main_of(r).len())
        .max()
        .unwrap_or(4)
        .max(4);
    let wu = rows.iter().map(|r| r.user.len()).max().unwrap_or(4).max(4);
    writeln!(
        out,
        "{:<8} {:<wu$} {:<wm$} {:<8} {:<6} KAFKA STREAMS",
        "PID", "USER", "MAIN", "JAVA", "ATTACH"
    )?;
    for r in rows {
        let streams = if !r.error.is_empty() {
            r.error.clone()
        } else if r.streams.is_empty() {
            "-".into()
        } else {
            r.streams
                .iter()
                .map(|s| format!("{} {} ({})", s.application_id, s.state, s.client_id))
                .collect::<Vec<_>>()
                .join("; ")
        };
        writeln!(
            out,
            "{:<8} {:<wu$} {:<wm$} {:<8} {:<6} {}",
            r.pid,
            r.user,
            main_of(r),
            r.java_version,
            if r.attachable { "yes" } else { "no" },
            streams
        )?;
    }
    Ok(())
}
