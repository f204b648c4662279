//! `ksbridge jvms`: every local JVM (the `jps` view), whether ksbridge can
//! attach, and the Kafka Streams apps inside with their application id and state.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use crate::discovery;
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
    let rows = rt.block_on(async {
        let list = discovery::local_jvms(&jvm).await?;
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
