//! The JVM-backed [`Source`]: one connection (attach by pid or JMX URL)
//! through the embedded JVM, opened lazily and reopened after a failure.
//! Input: a `jvm::Target` and the enabled groups; output: `ReadResult`s or
//! `SourceError`s (a vanished pid is `Gone`).

use std::time::Duration;

use crate::jmx::wire::ReadResult;
use crate::jvm::{ConnectionId, Jvm, JvmError, ReadMode, Target};
use crate::scrape::{BoxFuture, Source, SourceError};
use crate::streams::Options;

/// ObjectName patterns the enabled groups need.
pub fn patterns(options: &Options) -> Vec<String> {
    let on = |g: &str| options.groups.contains(&g);
    let mut p = vec!["kafka.streams:*".to_string()];
    if on("consumer") || on("restore_consumer") {
        p.push("kafka.consumer:type=consumer-fetch-manager-metrics,*".into());
        p.push("kafka.consumer:type=consumer-coordinator-metrics,*".into());
    }
    if on("producer") {
        p.push("kafka.producer:type=producer-metrics,*".into());
        p.push("kafka.producer:type=producer-topic-metrics,*".into());
    }
    if on("admin") {
        p.push("kafka.admin.client:type=admin-client-metrics,*".into());
    }
    if on("interceptors") {
        p.extend(
            crate::streams::interceptors::PATTERNS
                .iter()
                .map(|s| s.to_string()),
        );
    }
    if on("jvm") {
        for t in [
            "java.lang:type=Memory",
            "java.lang:type=MemoryPool,*",
            "java.lang:type=GarbageCollector,*",
            "java.lang:type=Threading",
            "java.lang:type=ClassLoading",
            "java.lang:type=OperatingSystem",
            "java.lang:type=Runtime",
        ] {
            p.push(t.into());
        }
    }
    p
}

pub struct JvmSource {
    jvm: Jvm,
    target: Target,
    patterns: Vec<String>,
    mode: ReadMode,
    conn: tokio::sync::Mutex<Option<ConnectionId>>,
}

impl JvmSource {
    pub fn new(jvm: Jvm, target: Target, patterns: Vec<String>) -> Self {
        JvmSource {
            jvm,
            target,
            patterns,
            mode: ReadMode::default(),
            conn: tokio::sync::Mutex::new(None),
        }
    }

    /// Reads with `mode` (the per-attribute mode is a benchmark baseline).
    pub fn with_mode(mut self, mode: ReadMode) -> Self {
        self.mode = mode;
        self
    }

    /// Uses an already open connection (from a discovery probe).
    pub fn with_connection(
        jvm: Jvm,
        target: Target,
        patterns: Vec<String>,
        conn: ConnectionId,
    ) -> Self {
        JvmSource {
            jvm,
            target,
            patterns,
            mode: ReadMode::default(),
            conn: tokio::sync::Mutex::new(Some(conn)),
        }
    }

    fn pid_gone(&self) -> bool {
        match self.target {
            Target::Pid(pid) => !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            Target::Url { .. } => false,
        }
    }

    fn classify(&self, e: JvmError) -> SourceError {
        if self.pid_gone() {
            return SourceError::Gone(e.to_string());
        }
        match e {
            JvmError::NoSuchProcess { .. } | JvmError::TargetGone { .. } => {
                SourceError::Gone(e.to_string())
            }
            JvmError::Timeout { after, .. } => SourceError::Timeout(after),
            JvmError::NotAJvm { .. }
            | JvmError::AttachRefused { .. }
            | JvmError::Connect { .. }
            | JvmError::Auth { .. }
            | JvmError::NoJdk { .. }
            | JvmError::NoAttachModule { .. } => SourceError::Connect(e.to_string()),
            other => SourceError::Read(other.to_string()),
        }
    }
}

impl Source for JvmSource {
    fn read(&self, deadline: Duration) -> BoxFuture<'_, Result<ReadResult, SourceError>> {
        Box::pin(async move {
            let start = std::time::Instant::now();
            let mut conn = self.conn.lock().await;
            let id = match *conn {
                Some(id) => id,
                None => {
                    if self.pid_gone() {
                        return Err(SourceError::Gone("process exited".into()));
                    }
                    let id = self
                        .jvm
                        .connect(self.target.clone(), deadline)
                        .await
                        .map_err(|e| self.classify(e))?;
                    *conn = Some(id);
                    id
                }
            };
            let left = deadline
                .saturating_sub(start.elapsed())
                .max(Duration::from_millis(50));
            match self
                .jvm
                .read_with(id, self.patterns.clone(), left, self.mode)
                .await
            {
                Ok(r) => Ok(r),
                Err(e) => {
                    let e = self.classify(e);
                    if !matches!(e, SourceError::Timeout(_)) {
                        // Reconnect on the next refresh.
                        *conn = None;
                        let jvm = self.jvm.clone();
                        tokio::spawn(async move { jvm.close(id).await });
                    }
                    Err(e)
                }
            }
        })
    }
}

impl Drop for JvmSource {
    fn drop(&mut self) {
        if let Some(id) = self.conn.get_mut().take() {
            let jvm = self.jvm.clone();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move { jvm.close(id).await });
            }
        }
    }
}
