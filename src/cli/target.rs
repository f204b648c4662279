//! Turning a TARGET argument (pid or JMX service URL) and credential options
//! into a `jvm::Target`, and `JvmError`s into exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use crate::jvm::{Credentials, JvmError, Target};

/// Options shared by every command that takes a TARGET.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// A local JVM's pid, or a remote `service:jmx:rmi:///jndi/rmi://host:port/jmxrmi` URL.
    pub target: String,

    /// File holding remote JMX credentials as `user password` (or `user:password`) on its first line.
    #[arg(long = "jmx.credentials-file", env = "KSBRIDGE_JMX_CREDENTIALS_FILE")]
    pub credentials_file: Option<PathBuf>,

    /// Remote JMX user (the password comes from KSBRIDGE_JMX_PASSWORD, never from argv).
    #[arg(long = "jmx.user", env = "KSBRIDGE_JMX_USER")]
    pub user: Option<String>,

    /// Seconds to wait for attaching/connecting and for each read.
    #[arg(long, default_value_t = 15.0)]
    pub timeout: f64,
}

impl TargetArgs {
    pub fn resolve(&self) -> anyhow::Result<Target> {
        parse_target(
            &self.target,
            load_credentials(self.credentials_file.as_deref(), self.user.as_deref())?,
        )
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.timeout.clamp(0.1, 3600.0))
    }
}

/// A pid or a `service:jmx:` URL.
pub fn parse_target(s: &str, credentials: Option<Credentials>) -> anyhow::Result<Target> {
    let s = s.trim();
    if let Ok(pid) = s.parse::<u32>() {
        if credentials.is_some() {
            bail!("credentials apply to remote JMX URLs, not to a local pid");
        }
        return Ok(Target::Pid(pid));
    }
    if s.starts_with("service:jmx:") {
        return Ok(Target::Url {
            url: s.to_string(),
            credentials,
        });
    }
    bail!("target {s:?} is neither a pid nor a service:jmx: URL")
}

/// Credentials from a file (`user password` or `user:password`) or from
/// `--jmx.user` plus the `KSBRIDGE_JMX_PASSWORD` environment variable.
pub fn load_credentials(
    file: Option<&std::path::Path>,
    user: Option<&str>,
) -> anyhow::Result<Option<Credentials>> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading JMX credentials from {}", path.display()))?;
        let line = text.lines().next().unwrap_or_default().trim();
        let (u, p) = line
            .split_once(':')
            .or_else(|| line.split_once(char::is_whitespace))
            .with_context(|| {
                format!(
                    "{}: expected `user password` on the first line",
                    path.display()
                )
            })?;
        return Ok(Some(Credentials {
            user: u.trim().to_string(),
            password: p.trim().to_string(),
        }));
    }
    if let Some(u) = user {
        let password = std::env::var("KSBRIDGE_JMX_PASSWORD")
            .context("--jmx.user needs the password in KSBRIDGE_JMX_PASSWORD")?;
        return Ok(Some(Credentials {
            user: u.to_string(),
            password,
        }));
    }
    Ok(None)
}

/// The exit code for a failed attach/connect/read.
pub fn exit_code(e: &JvmError) -> ExitCode {
    use super::{EXIT_CANNOT_ATTACH, EXIT_NOT_FOUND, EXIT_READ_FAILED};
    ExitCode::from(match e {
        JvmError::NoSuchProcess { .. } | JvmError::UnknownConnection(_) => EXIT_NOT_FOUND,
        JvmError::NoJdk { .. }
        | JvmError::NoAttachModule { .. }
        | JvmError::Startup(_)
        | JvmError::NotAJvm { .. }
        | JvmError::AttachRefused { .. }
        | JvmError::Connect { .. }
        | JvmError::Auth { .. } => EXIT_CANNOT_ATTACH,
        JvmError::TargetGone { .. }
        | JvmError::Timeout { .. }
        | JvmError::Java { .. }
        | JvmError::Wire(_)
        | JvmError::WorkerGone => EXIT_READ_FAILED,
    })
}

/// The embedded JVM, or the exit code to end with after printing why not.
pub fn embedded_jvm() -> Result<crate::jvm::Jvm, ExitCode> {
    crate::jvm::Jvm::get().map_err(|e| fail(&e))
}

/// Prints a JVM error and returns its exit code.
pub fn fail(e: &JvmError) -> ExitCode {
    eprintln!("ksbridge: {e}");
    exit_code(e)
}

impl TargetArgs {
    /// Connects, reads the beans matching `patterns` once, and disconnects.
    /// `Err` carries the exit code (the error is printed).
    pub fn read_once(
        &self,
        patterns: Vec<String>,
    ) -> anyhow::Result<Result<crate::jmx::wire::ReadResult, ExitCode>> {
        let target = self.resolve()?;
        let timeout = self.timeout();
        let jvm = match embedded_jvm() {
            Ok(j) => j,
            Err(code) => return Ok(Err(code)),
        };
        let result = runtime()?.block_on(async {
            let conn = jvm.connect(target, timeout).await?;
            let r = jvm.read(conn, patterns, timeout).await;
            jvm.close(conn).await;
            r
        });
        Ok(result.map_err(|e| fail(&e)))
    }
}

/// A current-thread runtime for the one-shot commands.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(parse_target("123", None).unwrap(), Target::Pid(123));
        assert!(matches!(
            parse_target("service:jmx:rmi:///jndi/rmi://127.0.0.1:9999/jmxrmi", None).unwrap(),
            Target::Url { .. }
        ));
        assert!(parse_target("abc", None).is_err());
        assert!(parse_target("-1", None).is_err());
    }

    #[test]
    fn credentials_file_forms() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c");
        std::fs::write(&p, "monitor s3cret\n").unwrap();
        let c = load_credentials(Some(&p), None).unwrap().unwrap();
        assert_eq!(
            (c.user.as_str(), c.password.as_str()),
            ("monitor", "s3cret")
        );
        std::fs::write(&p, "monitor:s3 cret\n").unwrap();
        let c = load_credentials(Some(&p), None).unwrap().unwrap();
        assert_eq!(c.password, "s3 cret");
        std::fs::write(&p, "nopassword\n").unwrap();
        assert!(load_credentials(Some(&p), None).is_err());
    }
}
