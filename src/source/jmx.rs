//! The JMX source: one JVM (a connection through the embedded JVM, opened
//! lazily and reopened after a failure) or one capture file (read again on
//! every refresh), turned into families by the Streams model. Input: a
//! target and the model options; output: [`Output`]s with families, the
//! snapshot and the Streams apps, or [`SourceError`]s (a vanished pid or a
//! removed file is `Gone`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{cause, BoxFuture, Output, Source, SourceError};
use crate::jmx::wire::ReadResult;
use crate::jmx::{limits, Snapshot};
use crate::jvm::{ConnectionId, Jvm, JvmError, ReadMode, Target};
use crate::streams::{self, Options};
use crate::target::TargetId;

/// Where the snapshots come from.
enum Reader {
    Live {
        jvm: Jvm,
        target: Target,
        mode: ReadMode,
        conn: tokio::sync::Mutex<Option<ConnectionId>>,
        /// The skip list the connection has (attributes no group serves,
        /// see `streams::select`), grown after each read.
        skip: Mutex<Option<(ConnectionId, Skip)>>,
        /// The open connection has been given the limits (one from a
        /// discovery probe has not).
        limited: AtomicBool,
    },
    File(PathBuf),
}

/// Attribute names by MBean type.
type Skip = BTreeMap<String, BTreeSet<String>>;

pub struct JmxSource {
    id: TargetId,
    description: String,
    reader: Reader,
    options: Arc<Options>,
    /// The reader's include list, from the enabled groups.
    patterns: Vec<String>,
    /// How long recent refreshes took after their read (thread CPU times,
    /// skip list, model), in nanoseconds, decaying: the read leaves that
    /// much of the deadline (see [`JmxSource::read_deadline`]).
    after_read: AtomicU64,
}

impl JmxSource {
    /// A live JVM, connected on the first refresh (or through `conn`, an
    /// already open connection from a discovery probe).
    pub fn live(
        jvm: Jvm,
        target: Target,
        description: String,
        options: Arc<Options>,
        conn: Option<ConnectionId>,
    ) -> Self {
        JmxSource {
            id: target.id(),
            description,
            patterns: options.patterns(),
            options,
            after_read: AtomicU64::new(0),
            reader: Reader::Live {
                jvm,
                target,
                mode: ReadMode::default(),
                conn: tokio::sync::Mutex::new(conn),
                skip: Mutex::new(None),
                limited: AtomicBool::new(false),
            },
        }
    }

    /// A capture file in the lab's format.
    pub fn file(path: PathBuf, options: Arc<Options>) -> Self {
        JmxSource {
            id: TargetId::File(path.clone()),
            description: format!("capture {}", path.display()),
            patterns: options.patterns(),
            options,
            after_read: AtomicU64::new(0),
            reader: Reader::File(path),
        }
    }

    /// Reads with `mode` (the per-attribute mode is a benchmark baseline).
    pub fn with_mode(mut self, new: ReadMode) -> Self {
        if let Reader::Live { mode, .. } = &mut self.reader {
            *mode = new;
        }
        self
    }

    fn error(&self, e: JvmError) -> SourceError {
        let target = self.id.to_string();
        let pid_gone = self
            .id
            .pid()
            .is_some_and(|p| !crate::discovery::procfs::alive(p));
        let c: super::Cause = Arc::new(e.clone());
        if pid_gone {
            return SourceError::Gone { target, cause: c };
        }
        match e {
            JvmError::NoSuchProcess { .. } | JvmError::TargetGone { .. } => {
                SourceError::Gone { target, cause: c }
            }
            JvmError::Timeout { after, .. } => SourceError::Timeout { target, after },
            JvmError::NotAJvm { .. }
            | JvmError::AttachRefused { .. }
            | JvmError::Connect { .. }
            | JvmError::Auth { .. }
            | JvmError::NoJdk { .. }
            | JvmError::NoAttachModule { .. } => SourceError::Connect { target, cause: c },
            _ => SourceError::Read { target, cause: c },
        }
    }

    async fn read(&self, deadline: Duration) -> Result<ReadResult, SourceError> {
        match &self.reader {
            Reader::File(path) => self.read_file(path.clone()).await,
            Reader::Live {
                jvm,
                target,
                mode,
                conn,
                limited,
                ..
            } => {
                let start = Instant::now();
                let mut conn = conn.lock().await;
                let id = match *conn {
                    Some(id) => id,
                    None => {
                        if self
                            .id
                            .pid()
                            .is_some_and(|p| !crate::discovery::procfs::alive(p))
                        {
                            return Err(SourceError::Gone {
                                target: self.id.to_string(),
                                cause: cause("process exited"),
                            });
                        }
                        let id = jvm
                            .connect(target.clone(), deadline)
                            .await
                            .map_err(|e| self.error(e))?;
                        *conn = Some(id);
                        limited.store(false, Ordering::Relaxed);
                        id
                    }
                };
                if !limited.swap(true, Ordering::Relaxed) {
                    self.set_limits(jvm, id).await;
                }
                let left = deadline
                    .saturating_sub(start.elapsed())
                    .max(Duration::from_millis(50));
                match jvm.read_with(id, self.patterns.clone(), left, *mode).await {
                    Ok(r) => Ok(r),
                    Err(e) => {
                        let e = self.error(e);
                        if !matches!(e, SourceError::Timeout { .. }) {
                            // Reconnect on the next refresh.
                            *conn = None;
                            let jvm = jvm.clone();
                            tokio::spawn(async move { jvm.close(id).await });
                        }
                        Err(e)
                    }
                }
            }
        }
    }

    /// Gives a new connection this source's limits; without them the shim's
    /// defaults (the same as `Limits::default()`) apply.
    async fn set_limits(&self, jvm: &Jvm, id: ConnectionId) {
        if let Err(e) = jvm.set_limits(id, self.options.limits).await {
            tracing::warn!(target_name = %self.id, error = %e, "cannot set read limits, the defaults apply");
        }
    }

    async fn read_file(&self, path: PathBuf) -> Result<ReadResult, SourceError> {
        let target = self.id.to_string();
        let max = self.options.limits.bytes;
        let p = path.clone();
        let read = tokio::task::spawn_blocking(move || read_capped(&p, max))
            .await
            .map_err(|e| SourceError::Read {
                target: target.clone(),
                cause: Arc::new(e),
            })?;
        let text = match read {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SourceError::Gone {
                    target,
                    cause: Arc::new(e),
                })
            }
            Err(e) => {
                return Err(SourceError::Read {
                    target,
                    cause: Arc::new(e),
                })
            }
        };
        let snapshot = Snapshot::from_capture_json(&text).map_err(|e| SourceError::Read {
            target,
            cause: Arc::new(e),
        })?;
        Ok(ReadResult::of(snapshot))
    }
}

/// Reads a capture file as text, at most `max` bytes: a longer file (or an
/// endless one such as `/dev/zero`) is an error that says so, not an
/// allocation that grows until it fails.
fn read_capped(path: &Path, max: usize) -> std::io::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(max as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} is larger than {max} bytes (--limits.bytes): not read",
                path.display()
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

impl JmxSource {
    /// With the `thread_cpu` group on and a live JVM with Kafka Streams
    /// threads: adds their CPU times to the snapshot (see
    /// `streams::thread_cpu`). A failure only leaves the metric out.
    async fn add_thread_cpu(&self, r: &mut ReadResult, left: Duration) {
        let Reader::Live { jvm, conn, .. } = &self.reader else {
            return;
        };
        let wanted = self
            .options
            .groups
            .contains(&streams::thread_cpu::GROUP.name)
            && r.snapshot
                .of_type("kafka.streams", "stream-thread-metrics")
                .next()
                .is_some();
        let Some(id) = *conn.lock().await else {
            return;
        };
        if !wanted {
            return;
        }
        let left = left.max(Duration::from_millis(50));
        match crate::console::threads::streams_cpu_beans(jvm, id, left).await {
            Ok(beans) if !beans.is_empty() => {
                let mut all = std::mem::take(&mut r.snapshot.beans);
                all.extend(beans);
                r.snapshot = Snapshot::new(r.snapshot.taken_at_ms, all);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(target_name = %self.id, error = %e, "thread CPU times unavailable")
            }
        }
    }
}

impl JmxSource {
    /// Grows the connection's skip list with what this read showed no group
    /// serves (one JNI call when it changed, none otherwise): the next read
    /// leaves those attributes out. A failure only means reading them again.
    async fn update_skip(&self, snapshot: &Snapshot) {
        let Reader::Live {
            jvm,
            mode,
            conn,
            skip,
            ..
        } = &self.reader
        else {
            return;
        };
        if mode.all_attributes {
            return;
        }
        let Some(id) = *conn.lock().await else {
            return;
        };
        let found = streams::select::skipped(snapshot, &self.options);
        let grown = {
            let mut g = crate::sync::lock(skip, "skip list");
            let current = match &mut *g {
                Some((c, s)) if *c == id => s,
                other => &mut other.insert((id, Skip::new())).1,
            };
            let mut grown = false;
            for (ty, names) in found {
                let have = current.entry(ty).or_default();
                for n in names {
                    grown |= have.insert(n);
                }
            }
            grown.then(|| {
                current
                    .iter()
                    .map(|(t, n)| (t.clone(), n.iter().cloned().collect::<Vec<_>>()))
                    .collect::<Vec<_>>()
            })
        };
        if let Some(list) = grown {
            let n: usize = list.iter().map(|(_, a)| a.len()).sum();
            match jvm.skip(id, list).await {
                Ok(()) => {
                    tracing::debug!(target_name = %self.id, attributes = n, "reads skip attributes no group serves")
                }
                Err(e) => {
                    // Forget it: the next read sends the whole list again.
                    *crate::sync::lock(skip, "skip list") = None;
                    tracing::debug!(target_name = %self.id, error = %e, "skip list not set");
                }
            }
        }
    }
}

impl JmxSource {
    /// The part of a refresh's deadline its read may use: what is left after
    /// 1.5 times the recent time spent after the read plus 10 ms, at most a
    /// quarter of the deadline (a read cut short by its deadline answers
    /// partially; a model cut short by the scrape's deadline answers nothing).
    fn read_deadline(&self, deadline: Duration) -> Duration {
        let after = Duration::from_nanos(self.after_read.load(Ordering::Relaxed));
        let reserve = (after.mul_f64(1.5) + Duration::from_millis(10)).min(deadline / 4);
        deadline.saturating_sub(reserve)
    }

    /// Records how long this refresh took after its read: the largest of it
    /// and three quarters of the previous figure (one slow model is
    /// remembered for a few refreshes, not for ever).
    fn note_after_read(&self, took: Duration) {
        let new = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .after_read
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(new.max(old / 4 * 3))
            });
    }
}

impl Source for JmxSource {
    fn kind(&self) -> &'static str {
        "jmx"
    }

    fn target(&self) -> String {
        self.id.to_string()
    }

    fn description(&self) -> String {
        self.description.clone()
    }

    fn jvm(&self) -> Option<&TargetId> {
        match self.reader {
            Reader::Live { .. } => Some(&self.id),
            Reader::File(_) => None,
        }
    }

    fn refresh(&self, deadline: Duration) -> BoxFuture<'_, Result<Output, SourceError>> {
        Box::pin(async move {
            let start = Instant::now();
            let mut r = self.read(self.read_deadline(deadline)).await?;
            let read_done = Instant::now();
            if !r.problems.is_empty() {
                tracing::debug!(target_name = %self.id, problems = r.problems.len(), "beans unreadable in this read");
            }
            self.add_thread_cpu(&mut r, deadline.saturating_sub(start.elapsed()))
                .await;
            self.update_skip(&r.snapshot).await;
            let (options, target) = (self.options.clone(), self.target());
            let mut snapshot = r.snapshot;
            let mut cuts = r.cuts;
            let (snapshot, families, cuts) = tokio::task::spawn_blocking(move || {
                cuts.merge(&limits::apply(&mut snapshot, &options.limits));
                let (families, built) = streams::families_counted(&snapshot, &target, &options);
                cuts.merge(&built);
                (Arc::new(snapshot), families, cuts)
            })
            .await
            .map_err(|e| SourceError::Read {
                target: self.target(),
                cause: Arc::new(e),
            })?;
            self.note_after_read(read_done.elapsed());
            if !cuts.is_empty() {
                tracing::debug!(target_name = %self.id, cuts = ?cuts.0, "read cut to the limits");
            }
            Ok(Output {
                families,
                apps: streams::apps(&snapshot),
                snapshot: Some(snapshot),
                cuts,
                ..Output::default()
            })
        })
    }
}

impl Drop for JmxSource {
    fn drop(&mut self) {
        if let Reader::Live { jvm, conn, .. } = &mut self.reader {
            if let Some(id) = conn.get_mut().take() {
                jvm.close_detached(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_leaves_what_recent_refreshes_needed_after_it() {
        let s = JmxSource::file(PathBuf::from("/nowhere.json"), Arc::new(Options::default()));
        let second = Duration::from_secs(1);
        assert_eq!(s.read_deadline(second), Duration::from_millis(990));
        s.note_after_read(Duration::from_millis(100));
        assert_eq!(s.read_deadline(second), Duration::from_millis(840));
        // A quick one after it: the slow one fades (75 ms remembered).
        s.note_after_read(Duration::ZERO);
        assert_eq!(
            s.read_deadline(second),
            Duration::from_micros(1_000_000 - 112_500 - 10_000)
        );
        // Never more than a quarter of the deadline.
        s.note_after_read(Duration::from_secs(5));
        assert_eq!(s.read_deadline(second), Duration::from_millis(750));
    }

    #[test]
    fn capture_files_are_read_up_to_the_byte_limit() {
        let e = read_capped(Path::new("/dev/zero"), 4096).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("larger than 4096 bytes"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        std::fs::write(&p, "[]").unwrap();
        assert_eq!(read_capped(&p, 2).unwrap(), "[]");
        assert!(read_capped(&p, 1).is_err());
    }
}
