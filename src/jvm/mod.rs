//! The embedded JVM: the only home of `jni::` and `unsafe`. Input: targets
//! (pid or JMX URL) and ObjectName patterns; output: `jmx::wire::ReadResult`
//! snapshots and typed [`JvmError`]s. All JNI runs on a dedicated worker
//! thread behind the `Send + Clone` [`Jvm`] handle that async code awaits.

use std::time::Duration;

use crate::jmx::wire::ReadResult;

/// What to connect to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A local JVM by process id (attach API -> local management agent).
    Pid(u32),
    /// A remote JVM by `service:jmx:...` URL, with optional credentials.
    Url {
        url: String,
        credentials: Option<Credentials>,
    },
}

/// JMX credentials, never taken from argv.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.user)
    }
}

/// A local JVM as the attach API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalJvm {
    pub pid: u32,
    /// Main class or jar and its arguments, as the attach API reports it.
    pub display_name: String,
}

/// An open connection to one target (an id into the worker's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionId(pub u64);

#[derive(Debug, Clone, thiserror::Error)]
pub enum JvmError {
    #[error("no JDK found (tried: {tried}); set JAVA_HOME to a JDK 11+ installation")]
    NoJdk { tried: String },
    #[error("the Java runtime at {java_home} has no jdk.attach module: attaching to a local JVM needs a JDK, not a JRE (set JAVA_HOME to a JDK)")]
    NoAttachModule { java_home: String },
    #[error("the embedded JVM failed to start: {0}")]
    Startup(String),
    #[error("no process with pid {pid}")]
    NoSuchProcess { pid: u32 },
    #[error("process {pid} is not a JVM that can be attached to: {reason}")]
    NotAJvm { pid: u32, reason: String },
    #[error("attach to pid {pid} refused: {reason}")]
    AttachRefused { pid: u32, reason: String },
    #[error("cannot connect to {target}: {reason}")]
    Connect { target: String, reason: String },
    #[error("authentication to {target} failed: {reason}")]
    Auth { target: String, reason: String },
    #[error("{target} went away: {reason}")]
    TargetGone { target: String, reason: String },
    #[error("{operation} on {target} timed out after {after:?}")]
    Timeout {
        target: String,
        operation: &'static str,
        after: Duration,
    },
    #[error("{operation} failed: {class}: {message}")]
    Java {
        operation: &'static str,
        class: String,
        message: String,
    },
    #[error("unknown connection {0:?}")]
    UnknownConnection(ConnectionId),
    #[error("decoding the shim's answer failed: {0}")]
    Wire(#[from] crate::jmx::wire::WireError),
    #[error("the embedded JVM worker has stopped")]
    WorkerGone,
}

/// Placeholder so dependants compile while the JNI worker is written.
#[doc(hidden)]
pub fn _api_shape(_: ReadResult) {}
