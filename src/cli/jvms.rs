//! `ksbridge jvms`: every local JVM (the `jps` view, other users' included),
//! whether ksbridge can attach and why not, what `/proc` says about Kafka
//! Streams, and (attaching only to Streams apps, or to all with `--probe`) the
//! apps inside with their application id and state.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use crate::discovery;
use crate::discovery::evidence::{self, ProcRoot};
use crate::jvm::{Jvm, LocalJvm, Target};
use crate::settings::parse_duration;
use crate::streams::{self, StreamsApp};

use super::target::{embedded_jvm, fail, runtime};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Longest wait for each JVM to answer (500ms, 5s, 1m; a bare number is seconds).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Attach to every JVM that can safely take it to look for Kafka Streams
    /// beans (by default only JVMs that /proc shows to be Streams apps are attached to).
    #[arg(long)]
    pub probe: bool,

    /// Only these pids.
    #[arg(value_name = "PID")]
    pub pids: Vec<u32>,
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
    /// What /proc says about Kafka Streams in it.
    pub evidence: String,
    /// Whether ksbridge attached to look inside.
    pub probed: bool,
    pub streams: Vec<StreamsApp>,
}

/// A row from /proc evidence alone; `Some` facts when attaching is safe and wanted.
fn assess(root: &ProcRoot, pid: u32, display: Option<&LocalJvm>, probe: bool) -> Option<JvmRow> {
    let facts = evidence::read_facts(root, pid).ok()?;
    let main = display
        .map(|j| j.display_name.clone())
        .filter(|d| !d.is_empty())
        .or_else(|| {
            let args = facts.args.as_deref()?;
            let cl = evidence::split_command_line(args);
            let mut m = vec![cl.main?];
            m.extend(cl.program_args);
            Some(m.join(" "))
        })
        .unwrap_or_default();
    let streams = evidence::streams_verdict(&facts);
    let mut row = JvmRow {
        pid,
        user: evidence::user_name(facts.uid),
        main,
        java_version: String::new(),
        attachable: false,
        error: String::new(),
        evidence: streams.describe(),
        probed: false,
        streams: Vec::new(),
    };
    match evidence::attach_verdict_for(&facts, evidence::own_uid()) {
        Ok(_) => {
            row.attachable = true;
            row.probed = probe || streams.is_yes();
        }
        Err(refusal) => row.error = refusal.to_string(),
    }
    Some(row)
}

async fn probe(jvm: Jvm, mut row: JvmRow, timeout: Duration) -> JvmRow {
    if !row.probed {
        return row;
    }
    let conn = match jvm.connect(Target::Pid(row.pid), timeout).await {
        Ok(c) => c,
        Err(e) => {
            row.attachable = false;
            row.error = e.to_string();
            return row;
        }
    };
    let patterns = vec![
        streams::CLIENT_BEANS.pattern(),
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
            row.streams = streams::apps(&r.snapshot);
        }
        Err(e) => row.error = e.to_string(),
    }
    jvm.close(conn).await;
    row
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let timeout = args
        .timeout
        .clamp(Duration::from_millis(100), Duration::from_secs(600));
    let jvm = match embedded_jvm() {
        Ok(j) => j,
        Err(code) => return Ok(code),
    };
    let rt = runtime()?;
    let root = ProcRoot::host();
    let me = std::process::id();
    let rows = rt.block_on(async {
        // The attach API's list names JVMs by their perf data; /proc shows
        // the others (-XX:-UsePerfData, other users, other namespaces).
        let listed = discovery::local_jvms(&jvm).await?;
        let mut pids = evidence::jvm_pids(&root);
        pids.extend(listed.iter().map(|j| j.pid));
        pids.sort_unstable();
        pids.dedup();
        pids.retain(|p| *p != me && (args.pids.is_empty() || args.pids.contains(p)));
        let tasks: Vec<_> = pids
            .into_iter()
            .filter_map(|pid| assess(&root, pid, listed.iter().find(|j| j.pid == pid), args.probe))
            .map(|row| tokio::spawn(probe(jvm.clone(), row, timeout)))
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
        } else if !r.probed {
            format!("not attached: {} (--probe to look)", r.evidence)
        } else if r.streams.is_empty() {
            "-".into()
        } else {
            r.streams
                .iter()
                .map(|s| {
                    let state = s.state.as_deref().unwrap_or("UNKNOWN");
                    format!("{} {state} ({})", s.application_id, s.client_id)
                })
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
