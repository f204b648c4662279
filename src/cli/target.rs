//! The TARGET argument and the remote-JMX credential flags shared by every
//! command that reads a JVM, and `JvmError`s as exit codes. Input: flags;
//! output: a `jvm::Target` (or a capture file's snapshot) and exit codes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::jmx::objectname::matches_pattern;
use crate::jmx::wire::ReadResult;
use crate::jmx::Snapshot;
use crate::jvm::{JvmError, Target};
use crate::settings::parse_duration;
use crate::target::{Credentials, TargetError, TargetId};

/// Remote JMX credentials: a file, or a user with the password in
/// `KSBRIDGE_JMX_PASSWORD` (never on the command line).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CredentialArgs {
    /// File holding remote JMX credentials as `user password` (or `user:password`) on its first line.
    #[arg(
        long = "jmx.credentials-file",
        env = "KSBRIDGE_JMX_CREDENTIALS_FILE",
        value_name = "FILE"
    )]
    pub jmx_credentials_file: Option<PathBuf>,

    /// Remote JMX user (the password comes from KSBRIDGE_JMX_PASSWORD, never from argv).
    #[arg(long = "jmx.user", env = "KSBRIDGE_JMX_USER", value_name = "USER")]
    pub jmx_user: Option<String>,
}

impl CredentialArgs {
    pub fn load(&self) -> Result<Option<Credentials>, TargetError> {
        Credentials::load(
            self.jmx_credentials_file.as_deref(),
            self.jmx_user.as_deref(),
        )
    }
}

/// Options shared by every command that takes a TARGET.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// A local JVM's pid, a remote `service:jmx:rmi:///jndi/rmi://host:port/jmxrmi` URL,
    /// or `file:<capture.json>`.
    pub target: TargetId,

    #[command(flatten)]
    pub credentials: CredentialArgs,

    /// Longest wait for attaching/connecting and for each read (500ms, 15s, 1m; a bare number is seconds).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub timeout: Duration,
}

impl TargetArgs {
    /// The JVM connection, or `None` for a capture file.
    pub fn resolve(&self) -> anyhow::Result<Option<Target>> {
        let creds = self.credentials.load()?;
        if creds.is_some() && self.target.pid().is_some() {
            return Err(TargetError::CredentialsForLocal {
                target: self.target.clone(),
            }
            .into());
        }
        Ok(Target::for_id(&self.target, creds)?)
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
            .clamp(Duration::from_millis(100), Duration::from_secs(3600))
    }

    /// Connects, reads the beans matching `patterns` once, and disconnects
    /// (a capture file is loaded and filtered instead). `Err` carries the
    /// exit code (the error is printed).
    pub fn read_once(&self, patterns: Vec<String>) -> anyhow::Result<Result<ReadResult, ExitCode>> {
        let Some(target) = self.resolve()? else {
            return self.read_file(&patterns).map(Ok);
        };
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

    fn read_file(&self, patterns: &[String]) -> anyhow::Result<ReadResult> {
        let TargetId::File(path) = &self.target else {
            anyhow::bail!("{} is not a capture file", self.target);
        };
        let all = Snapshot::load(path).with_context(|| format!("reading {}", self.target))?;
        let beans = all
            .beans
            .into_iter()
            .filter(|b| patterns.iter().any(|p| matches_pattern(p, &b.name)))
            .collect();
        Ok(ReadResult::of(Snapshot::new(all.taken_at_ms, beans)))
    }
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

/// A current-thread runtime for the one-shot commands.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
