//! The JVM console (what VisualVM, JConsole and Mission Control answer):
//! typed answers over one open connection. Input: a [`Jvm`] connection;
//! output: [`overview::Overview`], [`threads::ThreadDump`], class histograms,
//! operation results, diagnostic command text, and [`ConsoleError`]s.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::jvm::{ConnectionId, ConsoleOp, Jvm, JvmError, Target};

pub mod histogram;
pub mod jfr;
pub mod operations;
pub mod overview;
pub mod streams;
pub mod threads;
pub mod top;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Jvm(#[from] JvmError),
    #[error("{target}: {message}")]
    NotFound { target: String, message: String },
    #[error("{target}: {message}")]
    BadArgument { target: String, message: String },
    #[error("{target}: {message}")]
    Failed { target: String, message: String },
    #[error("{target}: access denied: {message}")]
    Denied { target: String, message: String },
    #[error("{target}: the shim's answer to {operation} did not parse: {cause}")]
    Decode {
        target: String,
        operation: &'static str,
        cause: String,
    },
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    kind: String,
    message: String,
}

/// One open connection and what the console calls need with it.
#[derive(Clone)]
pub struct Session {
    pub jvm: Jvm,
    pub conn: ConnectionId,
    /// The target as a user names it (no credentials).
    pub label: String,
    pub timeout: Duration,
}

impl Session {
    /// Connects to a target.
    pub async fn open(jvm: Jvm, target: Target, timeout: Duration) -> Result<Session, JvmError> {
        let label = crate::jvm::target_label(&target);
        let conn = jvm.connect(target, timeout).await?;
        Ok(Session {
            jvm,
            conn,
            label,
            timeout,
        })
    }

    pub async fn close(&self) {
        self.jvm.close(self.conn).await;
    }

    /// Runs one console operation and decodes its JSON answer as `T`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        op: ConsoleOp,
        args: Vec<String>,
    ) -> Result<T, ConsoleError> {
        let text = self.jvm.console(self.conn, op, args, self.timeout).await?;
        decode(&self.label, op, &text)
    }

    /// `HotSpotDiagnostic.dumpHeap`: the target writes `file` on its own host
    /// (and refuses a file that exists); `live` collects garbage first.
    pub async fn dump_heap(&self, file: &str, live: bool) -> Result<(), ConsoleError> {
        let _: serde_json::Value = self
            .call(
                ConsoleOp::DumpHeap,
                vec![file.to_string(), live.to_string()],
            )
            .await?;
        Ok(())
    }

    /// The Kafka Streams clients, threads and tasks inside (empty when none).
    pub async fn streams(&self) -> Result<streams::StreamsIndex, ConsoleError> {
        let snap = self.read(streams::patterns()).await?;
        Ok(streams::StreamsIndex::from_snapshot(&snap))
    }

    /// Reads the beans matching the patterns (the ordinary bulk read).
    pub async fn read(&self, patterns: Vec<String>) -> Result<crate::jmx::Snapshot, ConsoleError> {
        Ok(self
            .jvm
            .read(self.conn, patterns, self.timeout)
            .await?
            .snapshot)
    }
}

/// Decodes an answer, turning `{"error": {kind, message}}` into a typed error.
pub fn decode<T: DeserializeOwned>(
    target: &str,
    op: ConsoleOp,
    text: &str,
) -> Result<T, ConsoleError> {
    if text.starts_with("{\"error\":") {
        if let Ok(e) = serde_json::from_str::<ErrorAnswer>(text) {
            let (target, message) = (target.to_string(), e.error.message);
            return Err(match e.error.kind.as_str() {
                "NOT_FOUND" => ConsoleError::NotFound { target, message },
                "BAD_ARGUMENT" => ConsoleError::BadArgument { target, message },
                "DENIED" => ConsoleError::Denied { target, message },
                _ => ConsoleError::Failed { target, message },
            });
        }
    }
    serde_json::from_str(text).map_err(|e| ConsoleError::Decode {
        target: target.to_string(),
        operation: op_name(op),
        cause: e.to_string(),
    })
}

fn op_name(op: ConsoleOp) -> &'static str {
    match op {
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

/// Human-readable bytes: `512 B`, `1.5 KiB`, `3.2 GiB`.
pub fn bytes(n: i64) -> String {
    if n < 0 {
        return "-".into();
    }
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// `3d 4h`, `2h 5m`, `4m 10s`, `12s`.
pub fn duration_text(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {sec}s")
    } else {
        format!("{sec}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_answers_are_typed() {
        let r: Result<serde_json::Value, _> = decode(
            "pid 1",
            ConsoleOp::Invoke,
            r#"{"error":{"kind":"NOT_FOUND","message":"no MBean a:b=c"}}"#,
        );
        assert!(matches!(r, Err(ConsoleError::NotFound { .. })));
        let r: Result<serde_json::Value, _> = decode("pid 1", ConsoleOp::Invoke, "{oops");
        assert!(matches!(r, Err(ConsoleError::Decode { .. })));
    }

    #[test]
    fn human_units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(-1), "-");
        assert_eq!(duration_text(3_723_000), "1h 2m");
        assert_eq!(duration_text(5_000), "5s");
    }
}
