//! The `<TARGET|APPLICATION_ID>` argument of `topology` and `status`: a pid, a
//! JMX URL, a capture file (`file:<path>` or a path ending in `.json`), or an
//! application id looked up among the local JVMs. Input: the flags; output:
//! one snapshot per instance read.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::discovery::apps;
use crate::jmx::Snapshot;
use crate::jvm::{target_label, Target};
use crate::settings::parse_duration;
use crate::target::TargetId;

use super::target::{embedded_jvm, fail, runtime, CredentialArgs};

/// Skip JVMs younger than this when searching by application id (attaching
/// signals the JVM, which one still starting up may not handle yet).
const MIN_AGE: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, clap::Args)]
pub struct AppTargetArgs {
    /// A local JVM's pid, a remote `service:jmx:` URL, `file:<capture.json>`,
    /// or an application id (every local JVM running it).
    pub target: String,

    #[command(flatten)]
    pub credentials: CredentialArgs,

    /// Longest wait for attaching/connecting and for each read (500ms, 15s, 1m).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// With an application id: only consider these local pids (comma separated).
    #[arg(long, value_delimiter = ',')]
    pub among: Vec<u32>,
}

/// What TARGET names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    Jvm(Target),
    File(PathBuf),
    Application(String),
}

/// One instance read: its label (`pid:123`, a URL or a file) and its beans.
#[derive(Debug, Clone)]
pub struct Read {
    pub label: String,
    pub snapshot: Snapshot,
}

impl AppTargetArgs {
    pub fn named(&self) -> anyhow::Result<Named> {
        let t = self.target.trim();
        match t.parse::<TargetId>() {
            Ok(TargetId::File(p)) => Ok(Named::File(p)),
            Ok(id) => {
                let creds = self.credentials.load()?;
                match Target::for_id(&id, creds)? {
                    Some(target) => Ok(Named::Jvm(target)),
                    None => anyhow::bail!("{id} is not a JVM"),
                }
            }
            Err(_) if t.ends_with(".json") && Path::new(t).is_file() => {
                Ok(Named::File(PathBuf::from(t)))
            }
            Err(_) => Ok(Named::Application(t.to_string())),
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
            .clamp(Duration::from_millis(100), Duration::from_secs(3600))
    }

    /// The application id TARGET names, if it names one.
    pub fn application_id(&self) -> Option<String> {
        match self.named() {
            Ok(Named::Application(a)) => Some(a),
            _ => None,
        }
    }

    /// Reads `patterns` from every instance TARGET names. `Err` carries the
    /// exit code after printing why (not found, cannot attach, read failed).
    pub fn read_all(&self, patterns: &[&str]) -> anyhow::Result<Result<Vec<Read>, ExitCode>> {
        let timeout = self.timeout();
        match self.named()? {
            Named::File(path) => {
                let snapshot = Snapshot::load(&path)
                    .with_context(|| format!("loading capture {}", path.display()))?;
                Ok(Ok(vec![Read {
                    label: path.display().to_string(),
                    snapshot,
                }]))
            }
            Named::Jvm(target) => {
                let jvm = match embedded_jvm() {
                    Ok(j) => j,
                    Err(code) => return Ok(Err(code)),
                };
                let label = target_label(&target);
                let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
                let r = runtime()?.block_on(async {
                    let conn = jvm.connect(target, timeout).await?;
                    let r = jvm.read(conn, patterns, timeout).await;
                    jvm.close(conn).await;
                    r
                });
                Ok(match r {
                    Ok(r) => Ok(vec![Read {
                        label,
                        snapshot: r.snapshot,
                    }]),
                    Err(e) => Err(fail(&e)),
                })
            }
            Named::Application(app) => self.read_application(&app, patterns, timeout),
        }
    }

    fn read_application(
        &self,
        app: &str,
        patterns: &[&str],
        timeout: Duration,
    ) -> anyhow::Result<Result<Vec<Read>, ExitCode>> {
        let jvm = match embedded_jvm() {
            Ok(j) => j,
            Err(code) => return Ok(Err(code)),
        };
        let among = (!self.among.is_empty()).then_some(self.among.as_slice());
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        let reads = runtime()?.block_on(async {
            let found = apps::find(&jvm, app, among, timeout, MIN_AGE).await?;
            let mut out = Vec::new();
            for inst in found {
                let label = format!("pid:{}", inst.pid);
                let r = async {
                    let conn = jvm.connect(inst.target(), timeout).await?;
                    let r = jvm.read(conn, patterns.clone(), timeout).await;
                    jvm.close(conn).await;
                    r
                }
                .await;
                match r {
                    Ok(r) => out.push(Read {
                        label,
                        snapshot: r.snapshot,
                    }),
                    // The JVM went away between finding and reading: skip it.
                    Err(e) => tracing::warn!(pid = inst.pid, error = %e, "instance not readable"),
                }
            }
            Ok::<_, apps::AppsError>(out)
        })?;
        if reads.is_empty() {
            eprintln!("ksbridge: no local JVM runs Kafka Streams application {app:?} (see `ksbridge jvms`)");
            return Ok(Err(ExitCode::from(super::EXIT_NOT_FOUND)));
        }
        Ok(Ok(reads))
    }
}
