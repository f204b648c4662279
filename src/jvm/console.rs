//! The console's one JNI crossing: `Console.call(conn, op, args, timeout)`
//! in the shim (platform MXBeans, MBean operations, DiagnosticCommand,
//! HotSpotDiagnostic). Input: a connection, an operation name and string
//! arguments; output: the shim's JSON answer as text, or a typed [`JvmError`].

use std::time::Duration;

use jni::objects::{JObject, JValue};

use super::{
    call_static, duration_ms, jni_error, new_string, runtime, ConnectionId, Jvm, JvmError,
};

/// The operations `Console.java` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleOp {
    /// Operations of the beans matching a pattern: `[pattern]`.
    Operations,
    /// `[objectName, operation, args...]`.
    Invoke,
    /// The DiagnosticCommand commands.
    Dcmds,
    /// `[command, args...]`.
    Dcmd,
    /// Runtime, OS, memory, pools, GC, threads, classes, flags.
    Overview,
    /// Thread dump with locks, CPU times and deadlocks.
    Threads,
    /// Per-thread CPU time, one sample.
    ThreadCpu,
    /// `[file, live]`: HotSpotDiagnostic.dumpHeap on the target's host.
    DumpHeap,
}

impl ConsoleOp {
    fn name(self) -> &'static str {
        match self {
            ConsoleOp::Operations => "operations",
            ConsoleOp::Invoke => "invoke",
            ConsoleOp::Dcmds => "dcmds",
            ConsoleOp::Dcmd => "dcmd",
            ConsoleOp::Overview => "overview",
            ConsoleOp::Threads => "threads",
            ConsoleOp::ThreadCpu => "threadCpu",
            ConsoleOp::DumpHeap => "dumpHeap",
        }
    }
}

impl Jvm {
    /// Runs one console operation; the answer is the shim's JSON text (an
    /// `{"error": ..}` object for failures the caller caused).
    pub async fn console(
        &self,
        conn: ConnectionId,
        op: ConsoleOp,
        args: Vec<String>,
        timeout: Duration,
    ) -> Result<String, JvmError> {
        let ms = duration_ms(timeout);
        let what = op.name();
        self.call(
            timeout,
            what,
            format!("connection {}", conn.0),
            move |env, class| {
                let arr = env
                    .new_object_array(args.len() as i32, "java/lang/String", JObject::null())
                    .map_err(|e| jni_error(what, e))?;
                for (i, a) in args.iter().enumerate() {
                    let s = new_string(env, a)?;
                    env.set_object_array_element(&arr, i as i32, &s)
                        .map_err(|e| jni_error(what, e))?;
                    env.delete_local_ref(s).map_err(|e| jni_error(what, e))?;
                }
                let op_name = new_string(env, what)?;
                let v = call_static(
                    env,
                    class,
                    "console",
                    "(JLjava/lang/String;[Ljava/lang/String;J)Ljava/lang/String;",
                    &[
                        JValue::Long(conn.0 as i64),
                        JValue::Object(&op_name),
                        JValue::Object(&arr),
                        JValue::Long(ms),
                    ],
                    what,
                )?;
                let obj = v.l().map_err(|e| jni_error(what, e))?;
                Ok(runtime::java_string(env, obj))
            },
        )
        .await
    }
}
