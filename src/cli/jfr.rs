//! `ksbridge jfr start|dump|stop|status <TARGET>`: Mission Control's flight
//! recorder controls through the `JFR.*` diagnostic commands (files are
//! written by the target on its host), and `ksbridge jfr summary <FILE>`:
//! hot methods, allocation by class, GC pauses and lock waits, read with the
//! JDK's `jfr print --json`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::console::jfr;

use super::console::with_session;
use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Start a recording (JFR.start).
    Start {
        #[command(flatten)]
        target: TargetArgs,
        /// Recording name, used by dump and stop.
        #[arg(long, default_value = "ksbridge")]
        name: String,
        /// Stop by itself after this long (JFR syntax: 30s, 5m, 1h); default: until stopped.
        #[arg(long)]
        duration: Option<String>,
        /// Settings profile: `default` (about 1% overhead) or `profile` (more detail).
        #[arg(long, default_value = "profile")]
        settings: String,
        /// With --duration: the file the target writes when the recording ends.
        #[arg(long)]
        filename: Option<String>,
    },
    /// Write a running recording to a file on the target's host (JFR.dump).
    Dump {
        #[command(flatten)]
        target: TargetArgs,
        /// Absolute path on the target's host (relative: ksbridge's directory, for a local pid).
        file: PathBuf,
        #[arg(long, default_value = "ksbridge")]
        name: String,
    },
    /// Stop a recording (JFR.stop).
    Stop {
        #[command(flatten)]
        target: TargetArgs,
        #[arg(long, default_value = "ksbridge")]
        name: String,
    },
    /// The target's recordings (JFR.check).
    Status {
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Summarize a recording file: hot methods, allocation, GC pauses, lock waits.
    Summary {
        file: PathBuf,
        /// Rows per section.
        #[arg(long, default_value_t = 10)]
        top: usize,
        #[arg(long)]
        json: bool,
    },
}

fn print_text(r: Result<String, ExitCode>) -> anyhow::Result<ExitCode> {
    match r {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            write!(out, "{text}")?;
            if !text.ends_with('\n') {
                writeln!(out)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(code) => Ok(code),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.action {
        Action::Start {
            target,
            name,
            duration,
            settings,
            filename,
        } => print_text(with_session(&target, move |s| async move {
            s.jfr_start(&name, duration.as_deref(), &settings, filename.as_deref())
                .await
        })?),
        Action::Dump { target, file, name } => {
            let local = matches!(target.resolve()?, Some(crate::jvm::Target::Pid(_)));
            let file = if file.is_relative() && local {
                std::env::current_dir()?.join(file)
            } else {
                file
            };
            if local && file.exists() {
                eprintln!("ksbridge: {} exists; not overwriting it", file.display());
                return Ok(ExitCode::from(super::EXIT_FAILURE));
            }
            let path = file.to_string_lossy().to_string();
            print_text(with_session(&target, move |s| async move {
                s.jfr_dump(&name, &path).await
            })?)
        }
        Action::Stop { target, name } => print_text(with_session(&target, move |s| async move {
            s.jfr_stop(&name).await
        })?),
        Action::Status { target } => {
            print_text(with_session(
                &target,
                |s| async move { s.jfr_check().await },
            )?)
        }
        Action::Summary { file, top, json } => {
            let home = crate::jvm::Jvm::get()
                .ok()
                .map(|j| j.java_home().to_path_buf());
            let tool = jfr::jfr_tool(home.as_deref());
            let s = match jfr::summarize_file(&tool, &file, top) {
                Ok(s) => s,
                Err(e) => return Ok(super::console::fail(&e)),
            };
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &s)?;
                writeln!(out)?;
            } else {
                jfr::write_summary(&mut out, &s)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
