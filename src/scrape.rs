//! Scraping: the [`Source`] seam (a JVM connection or a capture file), one
//! [`Target`] per watched JVM with single-flight refresh under a deadline and
//! its last good snapshot, and the [`Scraper`] that turns every target's
//! snapshot into `Vec<Family>` on each scrape (fresh const metrics: nothing
//! dead lingers). Input: targets and a scrape deadline; output: families.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::exposition::selfmetrics::{self, TargetOutcome};
use crate::exposition::Family;
use crate::jmx::wire::ReadResult;
use crate::jmx::Snapshot;
use crate::streams::{self, Context, Families, Options};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a read failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    /// The target no longer exists (process exited, file removed): its
    /// series are dropped at once.
    #[error("target gone: {0}")]
    Gone(String),
    #[error("read did not finish within {0:?}")]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("read failed: {0}")]
    Read(String),
}

impl SourceError {
    /// The `kind` label of `ksbridge_scrape_errors_total`.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceError::Gone(_) => "gone",
            SourceError::Timeout(_) => "timeout",
            SourceError::Connect(_) => "connect",
            SourceError::Read(_) => "read",
        }
    }
}

/// Where a target's snapshots come from.
pub trait Source: Send + Sync + 'static {
    /// Reads every bean the model needs, finishing within `deadline`.
    fn read(&self, deadline: Duration) -> BoxFuture<'_, Result<ReadResult, SourceError>>;
}

/// A capture file (the lab's format), read again on every refresh: serves
/// recorded apps and drives the server tests. A missing file is a gone target.
pub struct FileSource {
    pub path: PathBuf,
}

impl Source for FileSource {
    fn read(&self, _deadline: Duration) -> BoxFuture<'_, Result<ReadResult, SourceError>> {
        let path = self.path.clone();
        Box::pin(async move {
            let p = path.clone();
            let read = tokio::task::spawn_blocking(move || std::fs::read_to_string(p)).await;
            let read = read.map_err(|e| SourceError::Read(e.to_string()))?;
            let text = match read {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(SourceError::Gone(format!("{} removed", path.display())))
                }
                Err(e) => return Err(SourceError::Read(format!("{}: {e}", path.display()))),
            };
            let snapshot =
                Snapshot::from_capture_json(&text).map_err(|e| SourceError::Read(e.to_string()))?;
            Ok(ReadResult {
                snapshot,
                problems: Vec::new(),
            })
        })
    }
}

/// The last snapshot read from a target.
#[derive(Debug, Clone)]
struct Last {
    snapshot: Arc<Snapshot>,
    at: Instant,
}

/// Result of the most recent refresh, shared with scrapes that waited for it.
#[derive(Debug, Clone, Copy)]
struct Flight {
    finished: Instant,
    success: bool,
    duration: Duration,
}

/// Current status of a target, for the index page.
#[derive(Debug, Clone)]
pub struct Status {
    pub name: String,
    pub description: String,
    pub success: Option<bool>,
    pub last_error: Option<String>,
    pub snapshot_age: Option<Duration>,
    pub application_ids: Vec<String>,
    pub beans: usize,
}

/// One watched JVM (or capture file).
pub struct Target {
    pub name: String,
    /// Human description (main class, URL, path).
    pub description: String,
    source: Arc<dyn Source>,
    flight: tokio::sync::Mutex<Option<Flight>>,
    last: Mutex<Option<Last>>,
    last_error: Mutex<Option<SourceError>>,
    /// Application ids seen in any good snapshot (kept after the target is gone,
    /// to recognise the app when it restarts).
    known_apps: Mutex<Vec<String>>,
}

impl Target {
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        source: Arc<dyn Source>,
    ) -> Self {
        Target {
            name: name.into(),
            description: description.into(),
            source,
            flight: tokio::sync::Mutex::new(None),
            last: Mutex::new(None),
            last_error: Mutex::new(None),
            known_apps: Mutex::new(Vec::new()),
        }
    }

    /// Refreshes single-flight: a scrape that finds a read in progress waits
    /// for it (until its deadline) and shares its result instead of starting
    /// another. Returns (success, duration, error).
    pub async fn refresh(
        &self,
        requested: Instant,
        deadline: Instant,
    ) -> (bool, Duration, Option<SourceError>) {
        let t0 = Instant::now();
        let wait = deadline.saturating_duration_since(t0);
        let mut flight = match tokio::time::timeout(wait, self.flight.lock()).await {
            Ok(g) => g,
            Err(_) => return (false, t0.elapsed(), Some(SourceError::Timeout(wait))),
        };
        if let Some(f) = *flight {
            if f.finished >= requested {
                return (f.success, f.duration, None);
            }
        }
        let budget = deadline.saturating_duration_since(Instant::now());
        let result = match tokio::time::timeout(budget, self.source.read(budget)).await {
            Ok(r) => r,
            Err(_) => Err(SourceError::Timeout(budget)),
        };
        let duration = t0.elapsed();
        let (success, error) = match result {
            Ok(r) => {
                if !r.problems.is_empty() {
                    tracing::debug!(target_name = %self.name, problems = r.problems.len(), "beans unreadable in this read");
                }
                let apps: Vec<String> = streams::client::clients(&r.snapshot)
                    .into_iter()
                    .map(|c| c.application_id)
                    .collect();
                if !apps.is_empty() {
                    if let Ok(mut k) = self.known_apps.lock() {
                        *k = apps;
                    }
                }
                self.set_last(Some(Last {
                    snapshot: Arc::new(r.snapshot),
                    at: Instant::now(),
                }));
                self.set_error(None);
                (true, None)
            }
            Err(e) => {
                if matches!(e, SourceError::Gone(_)) {
                    self.set_last(None);
                }
                self.set_error(Some(e.clone()));
                (false, Some(e))
            }
        };
        *flight = Some(Flight {
            finished: Instant::now(),
            success,
            duration,
        });
        (success, duration, error)
    }

    fn set_last(&self, v: Option<Last>) {
        if let Ok(mut g) = self.last.lock() {
            *g = v;
        }
    }

    fn set_error(&self, e: Option<SourceError>) {
        if let Ok(mut g) = self.last_error.lock() {
            let changed = match (&*g, &e) {
                (None, None) => false,
                (Some(a), Some(b)) => a.kind() != b.kind(),
                _ => true,
            };
            if changed {
                match &e {
                    Some(err) => {
                        tracing::warn!(target_name = %self.name, error = %err, "target read failed")
                    }
                    None => tracing::info!(target_name = %self.name, "target read ok again"),
                }
            }
            *g = e;
        }
    }

    /// The snapshot to serve, if one is younger than `stale_after`.
    pub fn served(&self, stale_after: Duration) -> Option<(Arc<Snapshot>, Duration)> {
        let g = self.last.lock().ok()?;
        let last = g.as_ref()?;
        let age = last.at.elapsed();
        (age <= stale_after).then(|| (last.snapshot.clone(), age))
    }

    /// Application ids in the last good snapshot (to follow an app across restarts).
    pub fn application_ids(&self) -> Vec<String> {
        let Ok(g) = self.last.lock() else {
            return Vec::new();
        };
        g.as_ref()
            .map(|l| {
                streams::client::clients(&l.snapshot)
                    .into_iter()
                    .map(|c| c.application_id)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Application ids of any good snapshot so far (also after the target is gone).
    pub fn known_apps(&self) -> Vec<String> {
        self.known_apps
            .lock()
            .map(|k| k.clone())
            .unwrap_or_default()
    }

    /// True once the last refresh found the target gone.
    pub fn is_gone(&self) -> bool {
        self.last_error
            .lock()
            .map(|e| matches!(*e, Some(SourceError::Gone(_))))
            .unwrap_or(false)
    }

    pub fn status(&self) -> Status {
        let last = self.last.lock().ok().and_then(|g| g.clone());
        let err = self.last_error.lock().ok().and_then(|g| g.clone());
        let flight = self.flight.try_lock().ok().and_then(|g| *g);
        Status {
            name: self.name.clone(),
            description: self.description.clone(),
            success: flight.map(|f| f.success),
            last_error: err.map(|e| e.to_string()),
            snapshot_age: last.as_ref().map(|l| l.at.elapsed()),
            application_ids: self.known_apps(),
            beans: last.map(|l| l.snapshot.beans.len()).unwrap_or(0),
        }
    }
}

/// A snapshot being served and its age.
type Served = (Arc<Snapshot>, Duration);

/// Extra families from other sources (consumer-group lag), built on each
/// scrape from the application ids of the served targets.
pub type ExtraFamilies = Arc<dyn Fn(&[String]) -> Vec<Family> + Send + Sync>;

/// Scrape settings.
#[derive(Debug, Clone)]
pub struct ScrapeSettings {
    /// Deadline when the scraper sends no timeout header, and the upper bound otherwise.
    pub max_deadline: Duration,
    /// A missed target's last good snapshot is served until it is this old.
    pub stale_after: Duration,
    pub options: Options,
}

/// What one scrape produced.
#[derive(Debug)]
pub struct ScrapeResult {
    pub families: Vec<Family>,
    /// Every target failed this scrape for a reason other than being gone (the response is a 503).
    pub all_failed: bool,
}

/// All targets and how to turn them into families.
pub struct Scraper {
    targets: RwLock<Vec<Arc<Target>>>,
    settings: ScrapeSettings,
    errors: Mutex<BTreeMap<String, u64>>,
    extras: Vec<ExtraFamilies>,
}

impl Scraper {
    pub fn new(settings: ScrapeSettings, extras: Vec<ExtraFamilies>) -> Self {
        Scraper {
            targets: RwLock::new(Vec::new()),
            settings,
            errors: Mutex::new(BTreeMap::new()),
            extras,
        }
    }

    pub fn targets(&self) -> Vec<Arc<Target>> {
        self.targets.read().map(|t| t.clone()).unwrap_or_default()
    }

    pub fn set_targets(&self, targets: Vec<Arc<Target>>) {
        if let Ok(mut t) = self.targets.write() {
            *t = targets;
        }
    }

    pub fn add_target(&self, target: Arc<Target>) {
        if let Ok(mut t) = self.targets.write() {
            t.retain(|x| x.name != target.name);
            t.push(target);
            t.sort_by(|a, b| a.name.cmp(&b.name));
        }
    }

    pub fn remove_target(&self, name: &str) {
        if let Ok(mut t) = self.targets.write() {
            t.retain(|x| x.name != name);
        }
    }

    /// The read deadline for a scrape: a bit under Prometheus's
    /// `X-Prometheus-Scrape-Timeout-Seconds` (90%, minus 100 ms for encoding
    /// and the network), never above `max_deadline`.
    pub fn deadline(&self, scrape_timeout_header: Option<f64>) -> Duration {
        let max = self.settings.max_deadline;
        match scrape_timeout_header.filter(|s| s.is_finite() && *s > 0.0) {
            Some(s) => Duration::from_secs_f64((s * 0.9 - 0.1).max(0.05)).min(max),
            None => max,
        }
    }

    /// Refreshes every target in parallel under the deadline and builds the
    /// families of everything served, plus self-metrics and extras.
    pub async fn scrape(self: &Arc<Self>, scrape_timeout_header: Option<f64>) -> ScrapeResult {
        let requested = Instant::now();
        let deadline = requested + self.deadline(scrape_timeout_header);
        let targets = self.targets();
        let mut set = tokio::task::JoinSet::new();
        for (i, t) in targets.iter().enumerate() {
            let t = t.clone();
            set.spawn(async move { (i, t.refresh(requested, deadline).await) });
        }
        let mut results = vec![(false, Duration::ZERO, None); targets.len()];
        while let Some(r) = set.join_next().await {
            if let Ok((i, r)) = r {
                results[i] = r;
            }
        }
        if let Ok(mut errors) = self.errors.lock() {
            for (_, _, e) in &results {
                if let Some(e) = e {
                    *errors.entry(e.kind().to_string()).or_insert(0) += 1;
                }
            }
        }
        let errors = self.errors.lock().map(|e| e.clone()).unwrap_or_default();
        let stale_after = self.settings.stale_after;
        let served: Vec<(String, Option<Served>)> = targets
            .iter()
            .map(|t| (t.name.clone(), t.served(stale_after)))
            .collect();
        let outcomes: Vec<TargetOutcome> = served
            .iter()
            .zip(&results)
            .map(|((name, s), (ok, d, _))| TargetOutcome {
                target: name.clone(),
                success: *ok,
                duration_seconds: d.as_secs_f64(),
                snapshot_age_seconds: s.as_ref().map(|(_, age)| age.as_secs_f64()),
            })
            .collect();
        // 503 only when every target failed: a target found gone (its JVM
        // exited) is no failure of the agent, it is reported by
        // `ksbridge_scrape_success` 0 in a normal response.
        let present: Vec<bool> = results
            .iter()
            .filter(|(_, _, e)| !matches!(e, Some(SourceError::Gone(_))))
            .map(|(ok, _, _)| *ok)
            .collect();
        let all_failed = !present.is_empty() && present.iter().all(|ok| !ok);
        let options = self.settings.options.clone();
        let extras = self.extras.clone();
        let build = move || {
            let mut out = Families::new();
            for (name, s) in &served {
                if let Some((snapshot, _)) = s {
                    let ctx = Context::new(snapshot, options.rates, name.clone());
                    out.extend(streams::build(snapshot, &ctx, &options));
                }
            }
            let mut apps: Vec<String> = Vec::new();
            for (_, s) in &served {
                if let Some((snapshot, _)) = s {
                    apps.extend(
                        streams::client::clients(snapshot)
                            .into_iter()
                            .map(|c| c.application_id),
                    );
                }
            }
            apps.sort();
            apps.dedup();
            for e in &extras {
                out.extend(e(&apps));
            }
            out.extend(selfmetrics::families(&outcomes, &errors));
            out.into_vec()
        };
        let families = match tokio::task::spawn_blocking(build).await {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "building families failed");
                Vec::new()
            }
        };
        ScrapeResult {
            families,
            all_failed,
        }
    }
}

/// Builds the families of one capture's snapshot alone (golden files, `--target file:`).
pub fn families_of(snapshot: &Snapshot, target: &str, options: &Options) -> Vec<Family> {
    let ctx = Context::new(snapshot, options.rates, target);
    streams::build(snapshot, &ctx, options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A source that takes `delay` per read and counts its reads.
    struct Slow {
        delay: Duration,
        reads: Arc<AtomicUsize>,
    }

    impl Source for Slow {
        fn read(&self, _deadline: Duration) -> BoxFuture<'_, Result<ReadResult, SourceError>> {
            Box::pin(async move {
                self.reads.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(self.delay).await;
                let snapshot = Snapshot::from_capture_json(
                    r#"[{"name":"kafka.streams:type=stream-metrics,client-id=c","attributes":{"alive-stream-threads":{"type":"java.lang.Integer","value":1}}}]"#,
                )
                .map_err(|e| SourceError::Read(e.to_string()))?;
                Ok(ReadResult {
                    snapshot,
                    problems: Vec::new(),
                })
            })
        }
    }

    fn scraper(delay: Duration) -> (Arc<Scraper>, Arc<AtomicUsize>) {
        let reads = Arc::new(AtomicUsize::new(0));
        let s = Arc::new(Scraper::new(
            ScrapeSettings {
                max_deadline: Duration::from_secs(5),
                stale_after: Duration::from_secs(60),
                options: Options::default(),
            },
            Vec::new(),
        ));
        s.add_target(Arc::new(Target::new(
            "t",
            "slow",
            Arc::new(Slow {
                delay,
                reads: reads.clone(),
            }),
        )));
        (s, reads)
    }

    fn value(r: &ScrapeResult, family: &str) -> Option<f64> {
        r.families
            .iter()
            .find(|f| f.name == family)
            .map(|f| f.samples[0].value)
    }

    #[tokio::test]
    async fn concurrent_scrapes_share_one_read() {
        let (s, reads) = scraper(Duration::from_millis(300));
        let (a, b) = tokio::join!(s.scrape(None), s.scrape(None));
        assert_eq!(reads.load(Ordering::SeqCst), 1, "single flight");
        for r in [&a, &b] {
            assert_eq!(value(r, "ksbridge_scrape_success"), Some(1.0));
            assert_eq!(
                value(r, "kafka_streams_client_alive_stream_threads"),
                Some(1.0)
            );
        }
    }

    #[tokio::test]
    async fn a_missed_deadline_serves_the_last_good_snapshot() {
        let (s, _) = scraper(Duration::from_millis(400));
        let first = s.scrape(None).await;
        assert_eq!(value(&first, "ksbridge_scrape_success"), Some(1.0));
        // Prometheus's 0.3 s timeout gives a read deadline of 0.17 s: missed.
        assert_eq!(s.deadline(Some(0.3)), Duration::from_secs_f64(0.17));
        let t = Instant::now();
        let second = s.scrape(Some(0.3)).await;
        assert!(
            t.elapsed() < Duration::from_millis(350),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(value(&second, "ksbridge_scrape_success"), Some(0.0));
        assert_eq!(
            value(&second, "kafka_streams_client_alive_stream_threads"),
            Some(1.0),
            "last good snapshot"
        );
        assert!(second.all_failed, "the only target failed");
        assert_eq!(s.deadline(Some(100.0)), Duration::from_secs(5), "capped");
    }
}
