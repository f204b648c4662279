//! The embedded JVM: the only home of `jni::` and `unsafe`. Input: targets
//! (pid or JMX URL) and ObjectName patterns; output: `jmx::wire::ReadResult`
//! snapshots and typed [`JvmError`]s. All JNI runs on a dedicated worker
//! thread behind the `Send + Clone` [`Jvm`] handle that async code awaits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use jni::objects::{JClass, JObject, JValue, JValueOwned};
use jni::JNIEnv;

use crate::jmx::wire::{self, ReadResult};
use crate::target::{TargetError, TargetId};

mod console;
mod limits;
mod memory;
mod runtime;

pub use console::ConsoleOp;
pub use memory::{limit_malloc_arenas, release_free_memory_soon};

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

pub use crate::target::Credentials;

impl Target {
    /// The connection for a target identity (`None` for a capture file).
    pub fn for_id(
        id: &TargetId,
        credentials: Option<Credentials>,
    ) -> Result<Option<Target>, TargetError> {
        match id {
            TargetId::Pid(pid) if credentials.is_none() => Ok(Some(Target::Pid(*pid))),
            TargetId::Pid(_) => Err(TargetError::CredentialsForLocal { target: id.clone() }),
            TargetId::Url(url) => Ok(Some(Target::Url {
                url: url.clone(),
                credentials,
            })),
            TargetId::File(_) => Ok(None),
        }
    }

    /// The identity of this target (its display, without credentials).
    pub fn id(&self) -> TargetId {
        match self {
            Target::Pid(pid) => TargetId::Pid(*pid),
            Target::Url { url, .. } => TargetId::Url(url.clone()),
        }
    }
}

/// A local JVM as the attach API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalJvm {
    pub pid: u32,
    /// Owner of the process ("" when unknown).
    pub user: String,
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

/// The fail-closed gate in front of every local attach (see `discovery::evidence`).
fn attach_allowed(pid: u32) -> Result<(), JvmError> {
    use crate::discovery::evidence::{self, CheckError, Refusal};
    match evidence::check_attach(&evidence::ProcRoot::host(), pid) {
        Ok(how) => {
            tracing::debug!(pid, evidence = ?how, "attach allowed");
            Ok(())
        }
        Err(CheckError::NoSuchProcess { pid }) => Err(JvmError::NoSuchProcess { pid }),
        Err(CheckError::Refused { pid, refusal }) => {
            let reason = refusal.to_string();
            Err(match refusal {
                Refusal::NotAJvm { .. } | Refusal::NoEvidence { .. } => {
                    JvmError::NotAJvm { pid, reason }
                }
                _ => JvmError::AttachRefused { pid, reason },
            })
        }
    }
}

/// How a read walks the target (the slow modes exist as benchmark baselines).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadMode {
    /// One `getAttribute` per attribute instead of one bulk `getAttributes` per bean.
    pub per_attribute: bool,
    /// `queryNames` and `getMBeanInfo` on every read instead of following notifications.
    pub requery: bool,
    /// Every attribute of every bean, also those no group serves (the
    /// reader's callers otherwise set a skip list, see [`Jvm::skip`]).
    pub all_attributes: bool,
}

/// Handle to the process-wide embedded JVM. Cheap to clone; every method runs
/// its JNI work on a worker thread and only awaits the answer.
#[derive(Clone)]
pub struct Jvm {
    rt: &'static runtime::Runtime,
}

static RUNTIME: OnceLock<Result<runtime::Runtime, JvmError>> = OnceLock::new();

/// Extra time the Rust side waits past a Java-side deadline before it gives up
/// on the worker (the Java side normally answers at its deadline).
const GRACE: Duration = Duration::from_secs(2);

impl Jvm {
    /// The embedded JVM, started on first use (blocking, about 100-300 ms).
    pub fn get() -> Result<Jvm, JvmError> {
        match RUNTIME.get_or_init(runtime::start) {
            Ok(rt) => Ok(Jvm { rt }),
            Err(e) => Err(e.clone()),
        }
    }

    /// The embedded JVM if it was started (never starts it).
    pub fn started() -> Option<Jvm> {
        match RUNTIME.get() {
            Some(Ok(rt)) => Some(Jvm { rt }),
            _ => None,
        }
    }

    /// The JDK the embedded JVM was loaded from.
    pub fn java_home(&self) -> &std::path::Path {
        &self.rt.java_home
    }

    fn require_attach(&self) -> Result<(), JvmError> {
        if self.rt.has_attach {
            Ok(())
        } else {
            Err(JvmError::NoAttachModule {
                java_home: self.rt.java_home.display().to_string(),
            })
        }
    }

    /// Runs `f` on a JNI worker and awaits its answer for at most `limit`
    /// (plus [`GRACE`]). When this future is dropped or gives up first (the
    /// scrape's deadline passed, the HTTP client went away), the job's cancel
    /// flag is set: a worker that has not started it drops it unrun, and the
    /// shim, which asks `Shim.cancelled()` while it waits, stops a read that
    /// is running (see `Conn.read`).
    async fn call<T: Send + 'static>(
        &self,
        limit: Duration,
        what: &'static str,
        target: String,
        f: impl FnOnce(&mut JNIEnv, &JClass) -> Result<T, JvmError> + Send + 'static,
    ) -> Result<T, JvmError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let cancel = Arc::new(AtomicBool::new(false));
        // Set when this future ends, however it ends (a finished job no
        // longer looks at it).
        let _gave_up = SetOnDrop(cancel.clone());
        let job = runtime::Job {
            run: Box::new(move |env, class| {
                let _ = tx.send(f(env, class));
            }),
            cancel: Some(cancel),
        };
        self.rt.submit(job).map_err(|_| JvmError::WorkerGone)?;
        match tokio::time::timeout(limit + GRACE, rx).await {
            // A shim-side timeout that did not say its deadline ran under `limit`.
            Ok(Ok(Err(JvmError::Timeout {
                target: t,
                operation,
                after,
            }))) if after.is_zero() => Err(JvmError::Timeout {
                target: t,
                operation,
                after: limit,
            }),
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(JvmError::WorkerGone),
            Err(_) => Err(JvmError::Timeout {
                target,
                operation: what,
                after: limit,
            }),
        }
    }

    /// Runs `f` on a JNI worker without waiting for it and without letting
    /// anyone cancel it (closing a connection must happen even when nobody
    /// waits for it any more).
    fn detached(&self, f: impl FnOnce(&mut JNIEnv, &JClass) + Send + 'static) {
        let job = runtime::Job {
            run: Box::new(f),
            cancel: None,
        };
        if self.rt.submit(job).is_err() {
            tracing::debug!("the embedded JVM worker has stopped: job not run");
        }
    }

    /// JNI worker threads started so far (they start as concurrent jobs
    /// need them, up to eight).
    pub fn jni_workers(&self) -> usize {
        self.rt.workers()
    }

    /// How many JNI jobs were dropped unrun because their caller had given up.
    pub fn dropped_jobs(&self) -> u64 {
        runtime::dropped_jobs()
    }

    /// How many reads the shim stopped before they answered, because their
    /// caller gave up or their connection was closed meanwhile.
    pub async fn cancelled_reads(&self) -> Result<u64, JvmError> {
        self.call(
            Duration::from_secs(5),
            "stats",
            "every connection".into(),
            |env, class| {
                let v = call_static(env, class, "cancelledReads", "()J", &[], "stats")?;
                Ok(v.j().map_err(|e| jni_error("stats", e))? as u64)
            },
        )
        .await
    }

    /// Every local JVM the attach API can see (not ksbridge itself).
    pub async fn list_local(&self) -> Result<Vec<LocalJvm>, JvmError> {
        self.require_attach()?;
        let text = self
            .call(
                Duration::from_secs(10),
                "list",
                "local JVMs".into(),
                |env, class| {
                    let v =
                        call_static(env, class, "listLocal", "()Ljava/lang/String;", &[], "list")?;
                    let obj = v.l().map_err(|e| jni_error("list", e))?;
                    Ok(runtime::java_string(env, obj))
                },
            )
            .await?;
        Ok(parse_local(&text))
    }

    /// Connects to a target: attach + local management agent for a pid, the
    /// RMI connector for a URL.
    pub async fn connect(
        &self,
        target: Target,
        timeout: Duration,
    ) -> Result<ConnectionId, JvmError> {
        if let Target::Pid(pid) = target {
            self.require_attach()?;
            // Attaching may send SIGQUIT: only where /proc shows a JVM that handles it.
            attach_allowed(pid)?;
        }
        let ms = duration_ms(timeout);
        let label = target_label(&target);
        let jvm = self.clone();
        let opened = self
            .call(timeout, "connect", label, move |env, class| {
                let v = match &target {
                    Target::Pid(pid) => call_static(
                        env,
                        class,
                        "connectPid",
                        "(JJ)J",
                        &[JValue::Long(i64::from(*pid)), JValue::Long(ms)],
                        "connect",
                    )?,
                    Target::Url { url, credentials } => {
                        let url = new_string(env, url)?;
                        let (user, password) = match credentials {
                            Some(c) => (new_string(env, &c.user)?, new_string(env, &c.password)?),
                            None => (JObject::null(), JObject::null()),
                        };
                        call_static(
                            env,
                            class,
                            "connectUrl",
                            "(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;J)J",
                            &[
                                JValue::Object(&url),
                                JValue::Object(&user),
                                JValue::Object(&password),
                                JValue::Long(ms),
                            ],
                            "connect",
                        )?
                    }
                };
                let id = v.j().map_err(|e| jni_error("connect", e))?;
                Ok(Unclaimed {
                    jvm,
                    id: Some(ConnectionId(id as u64)),
                })
            })
            .await?;
        Ok(opened.claim())
    }

    /// Reads every bean matching one of the ObjectName patterns in one JNI
    /// crossing, with one bulk `getAttributes` per bean.
    pub async fn read(
        &self,
        conn: ConnectionId,
        patterns: Vec<String>,
        deadline: Duration,
    ) -> Result<ReadResult, JvmError> {
        self.read_with(conn, patterns, deadline, ReadMode::default())
            .await
    }

    pub async fn read_with(
        &self,
        conn: ConnectionId,
        patterns: Vec<String>,
        deadline: Duration,
        mode: ReadMode,
    ) -> Result<ReadResult, JvmError> {
        let ms = duration_ms(deadline);
        let bytes = self
            .call(
                deadline,
                "read",
                format!("connection {}", conn.0),
                move |env, class| {
                    let arr = env
                        .new_object_array(
                            patterns.len() as i32,
                            "java/lang/String",
                            JObject::null(),
                        )
                        .map_err(|e| jni_error("read", e))?;
                    for (i, p) in patterns.iter().enumerate() {
                        let s = new_string(env, p)?;
                        env.set_object_array_element(&arr, i as i32, &s)
                            .map_err(|e| jni_error("read", e))?;
                    }
                    let v = call_static(
                        env,
                        class,
                        "read",
                        "(J[Ljava/lang/String;JZZ)[B",
                        &[
                            JValue::Long(conn.0 as i64),
                            JValue::Object(&arr),
                            JValue::Long(ms),
                            JValue::Bool(u8::from(mode.per_attribute)),
                            JValue::Bool(u8::from(mode.requery)),
                        ],
                        "read",
                    )?;
                    let obj = v.l().map_err(|e| jni_error("read", e))?;
                    let arr = jni::objects::JByteArray::from(obj);
                    env.convert_byte_array(&arr)
                        .map_err(|e| jni_error("read", e))
                },
            )
            .await?;
        Ok(wire::decode(&bytes)?)
    }

    /// Sets the attributes the connection's reads leave out, by MBean `type`
    /// key (`(type, attributes)`; empty: read every attribute again). Kept by
    /// the connection until replaced; a new connection starts with none.
    pub async fn skip(
        &self,
        conn: ConnectionId,
        skipped: Vec<(String, Vec<String>)>,
    ) -> Result<(), JvmError> {
        let mut spec = String::new();
        for (ty, attributes) in &skipped {
            if attributes.is_empty() || ty.contains(['\t', '\n']) {
                continue;
            }
            spec.push_str(ty);
            for a in attributes.iter().filter(|a| !a.contains(['\t', '\n'])) {
                spec.push('\t');
                spec.push_str(a);
            }
            spec.push('\n');
        }
        self.call(
            Duration::from_secs(5),
            "skip",
            format!("connection {}", conn.0),
            move |env, class| {
                let s = new_string(env, &spec)?;
                call_static(
                    env,
                    class,
                    "skip",
                    "(JLjava/lang/String;)V",
                    &[JValue::Long(conn.0 as i64), JValue::Object(&s)],
                    "skip",
                )?;
                Ok(())
            },
        )
        .await
    }

    /// How many times the connection listed every name (1 when notifications
    /// kept the set current).
    pub async fn name_queries(&self, conn: ConnectionId) -> Result<u64, JvmError> {
        self.call(
            Duration::from_secs(5),
            "stats",
            format!("connection {}", conn.0),
            move |env, class| {
                let v = call_static(
                    env,
                    class,
                    "nameQueries",
                    "(J)J",
                    &[JValue::Long(conn.0 as i64)],
                    "stats",
                )?;
                Ok(v.j().map_err(|e| jni_error("stats", e))? as u64)
            },
        )
        .await
    }

    /// Closes every connection and refuses new ones (ksbridge is stopping),
    /// within `timeout`; returns how many were open.
    pub async fn close_all(&self, timeout: Duration) -> Result<usize, JvmError> {
        let ms = duration_ms(timeout);
        self.call(
            timeout,
            "close",
            "every connection".into(),
            move |env, class| {
                let v = call_static(env, class, "closeAll", "(J)I", &[JValue::Long(ms)], "close")?;
                let n = v.i().map_err(|e| jni_error("close", e))?;
                Ok(usize::try_from(n).unwrap_or(0))
            },
        )
        .await
    }

    /// Closes a connection (the target keeps running; its management agent
    /// stays). The shim closes it in the background and then has the embedded
    /// JVM collect, so the connection's RMI lease and thread go too. The job
    /// is never dropped, even when this future is.
    pub async fn close(&self, conn: ConnectionId) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.detached(move |env, class| {
            close_now(env, class, conn);
            let _ = tx.send(());
        });
        let _ = tokio::time::timeout(Duration::from_secs(5), rx).await;
    }

    /// Closes a connection without waiting (from `Drop`, or where no runtime
    /// runs): the job is queued and never dropped.
    pub fn close_detached(&self, conn: ConnectionId) {
        self.detached(move |env, class| close_now(env, class, conn));
    }

    /// The targets of the connections open now, one entry per connection
    /// (`pid 42`, a service URL): what tests count to show that nothing is
    /// left open.
    pub async fn open_connections(&self) -> Result<Vec<String>, JvmError> {
        let text = self
            .call(
                Duration::from_secs(5),
                "stats",
                "every connection".into(),
                |env, class| {
                    let v = call_static(
                        env,
                        class,
                        "openTargets",
                        "()Ljava/lang/String;",
                        &[],
                        "stats",
                    )?;
                    let obj = v.l().map_err(|e| jni_error("stats", e))?;
                    Ok(runtime::java_string(env, obj))
                },
            )
            .await?;
        Ok(text.lines().map(str::to_string).collect())
    }
}

/// Sets its flag when dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A connection the shim opened that no caller has taken yet: if it is
/// dropped undelivered (the caller of `connect` gave up while the shim
/// connected), it is closed instead of staying open with nobody to close it.
struct Unclaimed {
    jvm: Jvm,
    id: Option<ConnectionId>,
}

impl Unclaimed {
    fn claim(mut self) -> ConnectionId {
        // Always set by `connect`; taken only here or in `drop`.
        self.id.take().unwrap_or(ConnectionId(0))
    }
}

impl Drop for Unclaimed {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            tracing::debug!(
                connection = id.0,
                "closing a connection its caller gave up on"
            );
            self.jvm.close_detached(id);
        }
    }
}

/// `Shim.close(id)` on this worker (the shim closes in the background).
fn close_now(env: &mut JNIEnv, class: &JClass, conn: ConnectionId) {
    if let Err(e) = call_static(
        env,
        class,
        "close",
        "(J)V",
        &[JValue::Long(conn.0 as i64)],
        "close",
    ) {
        tracing::debug!(connection = conn.0, error = %e, "closing a connection failed");
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// A human-readable name for a target, without credentials.
pub fn target_label(t: &Target) -> String {
    t.id().to_string()
}

fn parse_local(text: &str) -> Vec<LocalJvm> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, '\t');
            let pid = parts.next()?.parse().ok()?;
            let user = parts.next().unwrap_or_default().to_string();
            let display_name = parts.next().unwrap_or_default().to_string();
            Some(LocalJvm {
                pid,
                user,
                display_name,
            })
        })
        .collect()
}

fn new_string<'a>(env: &mut JNIEnv<'a>, s: &str) -> Result<JObject<'a>, JvmError> {
    env.new_string(s)
        .map(JObject::from)
        .map_err(|e| jni_error("string", e))
}

fn jni_error(operation: &'static str, e: jni::errors::Error) -> JvmError {
    JvmError::Java {
        operation,
        class: "jni".into(),
        message: e.to_string(),
    }
}

/// Calls a static shim method; a thrown exception becomes a typed error.
fn call_static<'a>(
    env: &mut JNIEnv<'a>,
    class: &JClass,
    name: &str,
    sig: &str,
    args: &[JValue],
    operation: &'static str,
) -> Result<JValueOwned<'a>, JvmError> {
    match env.call_static_method(class, name, sig, args) {
        Ok(v) => Ok(v),
        Err(e) => match runtime::take_exception(env) {
            Some((class, message)) => Err(map_exception(operation, &class, &message)),
            None => Err(jni_error(operation, e)),
        },
    }
}

/// Maps a Java exception to a typed error. The shim throws `ShimException`
/// with a `KIND|detail` message; anything else is passed on as `Java`.
fn map_exception(operation: &'static str, class: &str, message: &str) -> JvmError {
    if class != "ksbridge.shim.ShimException" {
        return JvmError::Java {
            operation,
            class: class.to_string(),
            message: message.to_string(),
        };
    }
    let (kind, detail) = message.split_once('|').unwrap_or(("JAVA", message));
    let detail = detail.to_string();
    let pid_of = |d: &str| -> u32 {
        d.split(|c: char| !c.is_ascii_digit())
            .find(|s| !s.is_empty())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    let (target, reason) = match detail.split_once(": ") {
        Some((t, r)) => (t.to_string(), r.to_string()),
        None => (String::new(), detail.clone()),
    };
    match kind {
        "NO_SUCH_PROCESS" => JvmError::NoSuchProcess {
            pid: pid_of(&detail),
        },
        "NOT_A_JVM" => JvmError::NotAJvm {
            pid: pid_of(&detail),
            reason,
        },
        "ATTACH_REFUSED" => JvmError::AttachRefused {
            pid: pid_of(&detail),
            reason,
        },
        "NO_ATTACH" => JvmError::NoAttachModule {
            java_home: String::new(),
        },
        "AUTH" => JvmError::Auth { target, reason },
        "CONNECT" => JvmError::Connect { target, reason },
        "TARGET_GONE" => JvmError::TargetGone { target, reason },
        "TIMEOUT" => JvmError::Timeout {
            after: shim_deadline(&reason).unwrap_or(Duration::ZERO),
            target,
            operation,
        },
        // Only a caller that gave up gets it (nobody, normally): the
        // connection is fine, as after a timeout.
        "CANCELLED" => JvmError::Timeout {
            after: Duration::ZERO,
            target,
            operation,
        },
        "UNKNOWN_CONNECTION" => JvmError::UnknownConnection(ConnectionId(
            detail
                .rsplit(' ')
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
        )),
        _ => JvmError::Java {
            operation,
            class: class.to_string(),
            message: detail,
        },
    }
}

/// The deadline a shim TIMEOUT names (`... did not finish within 1500 ms`).
fn shim_deadline(reason: &str) -> Option<Duration> {
    let ms = reason.rsplit_once("within ")?.1.strip_suffix(" ms")?;
    ms.trim().parse().ok().map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shim_timeouts_carry_their_deadline_and_target() {
        let e = map_exception(
            "read",
            "ksbridge.shim.ShimException",
            "TIMEOUT|pid 7: read did not finish within 1500 ms",
        );
        assert!(
            matches!(e, JvmError::Timeout { ref target, after, .. }
                if target == "pid 7" && after == Duration::from_millis(1500)),
            "{e:?}"
        );
        assert_eq!(e.to_string(), "read on pid 7 timed out after 1.5s");
        let e = map_exception(
            "connect",
            "ksbridge.shim.ShimException",
            "TIMEOUT|pid 7: interrupted",
        );
        assert!(matches!(e, JvmError::Timeout { after, .. } if after.is_zero()));
    }

    #[test]
    fn maps_shim_exceptions() {
        let e = map_exception(
            "connect",
            "ksbridge.shim.ShimException",
            "NO_SUCH_PROCESS|no process with pid 42",
        );
        assert!(matches!(e, JvmError::NoSuchProcess { pid: 42 }));
        let e = map_exception(
            "read",
            "ksbridge.shim.ShimException",
            "TARGET_GONE|pid 7: connection failed",
        );
        assert!(matches!(e, JvmError::TargetGone { ref target, .. } if target == "pid 7"));
        let e = map_exception("read", "java.lang.OutOfMemoryError", "heap");
        assert!(matches!(e, JvmError::Java { .. }));
    }

    #[test]
    fn parses_local_list() {
        let l = parse_local("12\troot\tcom.example.Main --x\nbad\n13\t\t\n");
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].display_name, "com.example.Main --x");
        assert_eq!(l[1].pid, 13);
    }
}
