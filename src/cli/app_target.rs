//! The `<TARGET|APPLICATION_ID>` argument of `topology` and `status`: a pid, a
//! JMX URL, a capture file (`.json`), or an application id looked up among the
//! local JVMs. Input: the flags; output: one snapshot per instance read.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::discovery::apps;
use crate::jmx::Snapshot;
use crate::jvm::{target_label, Target};

use super::target::{embedded_jvm, fail, load_credentials, parse_target, runtime, TargetArgs};

/// Skip JVMs younger than this when searching by application id (attaching
/// signals the JVM, which one still starting up may not handle yet).
const MIN_AGE: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, clap::Args)]
pub struct AppTargetArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// With an application id: only consider these local pids (comma separated).
    #[arg(long, value_delimiter = ',')]
    pub among: Vec<u32>,
}

/// What TARGET names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    Jvm(Target),
    File(String),
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
        let t = self.target.target.trim();
        if t.parse::<u32>().is_ok() || t.starts_with("service:jmx:") {
            let creds = load_credentials(
                self.target.credentials_file.as_deref(),
                self.target.user.as_deref(),
            )?;
            return Ok(Named::Jvm(parse_target(t, creds)?));
        }
        if t.ends_with(".json") && Path::new(t).is_file() {
            return Ok(Named::File(t.to_string()));
        }
        Ok(Named::Application(t.to_string()))
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
        let timeout = self.target.timeout();
        match self.named()? {
            Named::File(path) => {
                let snapshot = Snapshot::load(Path::new(&path))
                    .with_context(|| format!("loading capture {path}"))?;
                Ok(Ok(vec![Read {
                    label: path,
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
