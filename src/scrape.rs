//! Scraping: every registered [`Source`] in a [`Slot`] with single-flight
//! refresh under a deadline and its last good output, and the [`Scraper`]
//! that refreshes them all on each scrape, emits `ksbridge_scrape_*` for
//! every source (the one place that does), and merges everything served into
//! one family list (fresh const metrics: nothing dead lingers). Input:
//! sources and the scrape's deadline; output: families.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::exposition::selfmetrics::{self, Outcome};
use crate::exposition::{merge_served, Family};
use crate::jmx::limits::Cuts;
use crate::source::{Output, Source, SourceError};
use crate::sync::{lock, read, write};

/// The last output of a source and when it was as fresh as that.
#[derive(Debug, Clone)]
struct Last {
    output: Arc<Output>,
    /// When the output's data was current (refresh time minus its own age).
    at: Instant,
    /// Beans in the output's snapshot, also when the snapshot was not kept.
    beans: usize,
}

/// How long snapshots are kept after a page asked for them.
pub const SNAPSHOTS_WANTED_FOR: Duration = Duration::from_secs(120);

/// Whether the slots of a scraper keep each output's snapshot (the beans as
/// read) or only its families. `/metrics` needs only the families; the
/// snapshot of a 2,000-bean JVM is a few MiB that stay resident between
/// scrapes, so it is kept only for a while after a page that shows beans
/// (`/apps`) asked for it.
#[derive(Debug, Default)]
pub struct SnapshotDemand {
    until: Mutex<Option<Instant>>,
}

impl SnapshotDemand {
    /// Keep snapshots from now until `for_` has passed.
    pub fn want(&self, for_: Duration) {
        let until = Instant::now() + for_;
        let mut g = lock(&self.until, "snapshot demand");
        if !g.is_some_and(|u| u >= until) {
            *g = Some(until);
        }
    }

    pub fn wanted(&self) -> bool {
        lock(&self.until, "snapshot demand").is_some_and(|u| Instant::now() < u)
    }
}

/// Result of the most recent refresh, shared with scrapes that waited for it.
#[derive(Debug, Clone, Copy)]
struct Flight {
    finished: Instant,
    success: bool,
    duration: Duration,
}

/// What one refresh of one slot gave this scrape.
#[derive(Debug, Clone, Default)]
pub struct Refresh {
    pub success: bool,
    pub duration: Duration,
    /// Set when this scrape ran the refresh and it failed.
    pub error: Option<SourceError>,
}

/// Current status of a source, for the index page.
#[derive(Debug, Clone)]
pub struct Status {
    pub kind: &'static str,
    pub target: String,
    pub description: String,
    pub success: Option<bool>,
    pub last_error: Option<String>,
    pub snapshot_age: Option<Duration>,
    pub application_ids: Vec<String>,
    pub beans: usize,
}

/// One registered source and what the scraper knows of it.
pub struct Slot {
    source: Arc<dyn Source>,
    target: String,
    flight: tokio::sync::Mutex<Option<Flight>>,
    last: Mutex<Option<Last>>,
    last_error: Mutex<Option<SourceError>>,
    /// Application ids seen in any good output (kept after the source is
    /// gone, to recognise the app when it restarts).
    known_apps: Mutex<Vec<String>>,
    /// What the limits cut from this source since it was added, by reason.
    cuts: Mutex<Cuts>,
    /// Keeps outputs' snapshots only while this says so; `None`: always.
    demand: Option<Arc<SnapshotDemand>>,
}

impl Slot {
    /// A slot that keeps every output whole, snapshot included.
    pub fn new(source: Arc<dyn Source>) -> Self {
        Slot {
            target: source.target(),
            source,
            flight: tokio::sync::Mutex::new(None),
            last: Mutex::new(None),
            last_error: Mutex::new(None),
            known_apps: Mutex::new(Vec::new()),
            cuts: Mutex::new(Cuts::default()),
            demand: None,
        }
    }

    /// A slot that keeps outputs' snapshots only while `demand` wants them.
    pub fn with_demand(source: Arc<dyn Source>, demand: Arc<SnapshotDemand>) -> Self {
        Slot {
            demand: Some(demand),
            ..Slot::new(source)
        }
    }

    /// What the limits cut from this source since it was added.
    pub fn cuts(&self) -> Cuts {
        lock(&self.cuts, "slot cuts").clone()
    }

    pub fn source(&self) -> &Arc<dyn Source> {
        &self.source
    }

    pub fn kind(&self) -> &'static str {
        self.source.kind()
    }

    pub fn target(&self) -> &str {
        &self.target
    }

    /// Refreshes single-flight: a scrape that finds a refresh in progress
    /// waits for it (until its deadline) and shares its result instead of
    /// starting another.
    pub async fn refresh(&self, requested: Instant, deadline: Instant) -> Refresh {
        let t0 = Instant::now();
        let wait = deadline.saturating_duration_since(t0);
        let mut flight = match tokio::time::timeout(wait, self.flight.lock()).await {
            Ok(g) => g,
            Err(_) => {
                return Refresh {
                    success: false,
                    duration: t0.elapsed(),
                    error: Some(self.timeout(wait)),
                }
            }
        };
        if let Some(f) = *flight {
            if f.finished >= requested {
                return Refresh {
                    success: f.success,
                    duration: f.duration,
                    error: None,
                };
            }
        }
        let budget = deadline.saturating_duration_since(Instant::now());
        let result = match tokio::time::timeout(budget, self.source.refresh(budget)).await {
            Ok(r) => r,
            Err(_) => Err(self.timeout(budget)),
        };
        let mut duration = t0.elapsed();
        let error = match result {
            Ok(output) => {
                duration = output.took.unwrap_or(duration);
                self.keep(output);
                None
            }
            Err(e) => {
                if e.is_gone() {
                    *lock(&self.last, "slot output") = None;
                }
                self.set_error(Some(e.clone()));
                Some(e)
            }
        };
        let success = error.is_none();
        *flight = Some(Flight {
            finished: Instant::now(),
            success,
            duration,
        });
        Refresh {
            success,
            duration,
            error,
        }
    }

    fn timeout(&self, after: Duration) -> SourceError {
        SourceError::Timeout {
            target: self.target.clone(),
            after,
        }
    }

    fn keep(&self, mut output: Output) {
        lock(&self.cuts, "slot cuts").merge(&output.cuts);
        let beans = output.snapshot.as_ref().map_or(0, |s| s.beans.len());
        if self.demand.as_ref().is_some_and(|d| !d.wanted()) {
            output.snapshot = None;
        }
        if !output.apps.is_empty() {
            let mut ids: Vec<String> = output
                .apps
                .iter()
                .map(|a| a.application_id.clone())
                .collect();
            ids.sort();
            ids.dedup();
            *lock(&self.known_apps, "slot apps") = ids;
        }
        let at = Instant::now()
            .checked_sub(output.age.unwrap_or_default())
            .unwrap_or_else(Instant::now);
        *lock(&self.last, "slot output") = Some(Last {
            output: Arc::new(output),
            at,
            beans,
        });
        self.set_error(None);
    }

    fn set_error(&self, e: Option<SourceError>) {
        let mut g = lock(&self.last_error, "slot error");
        let changed = match (&*g, &e) {
            (None, None) => false,
            (Some(a), Some(b)) => a.kind() != b.kind(),
            _ => true,
        };
        if changed {
            match &e {
                Some(err) => {
                    tracing::warn!(source = self.kind(), target_name = %self.target, error = %err, "source refresh failed")
                }
                None => {
                    tracing::info!(source = self.kind(), target_name = %self.target, "source refresh ok again")
                }
            }
        }
        *g = e;
    }

    /// The output to serve and its age, if one is younger than `stale_after`.
    pub fn served(&self, stale_after: Duration) -> Option<(Arc<Output>, Duration)> {
        let g = lock(&self.last, "slot output");
        let last = g.as_ref()?;
        let age = last.at.elapsed();
        (age <= stale_after).then(|| (last.output.clone(), age))
    }

    /// True when the last output had beans but its snapshot was not kept.
    fn snapshot_dropped(&self) -> bool {
        lock(&self.last, "slot output")
            .as_ref()
            .is_some_and(|l| l.beans > 0 && l.output.snapshot.is_none())
    }

    /// Application ids of any good output so far (also after the source is gone).
    pub fn known_apps(&self) -> Vec<String> {
        lock(&self.known_apps, "slot apps").clone()
    }

    /// True once the last refresh found the target gone.
    pub fn is_gone(&self) -> bool {
        lock(&self.last_error, "slot error")
            .as_ref()
            .is_some_and(SourceError::is_gone)
    }

    pub fn status(&self) -> Status {
        let last = lock(&self.last, "slot output").clone();
        let err = lock(&self.last_error, "slot error").clone();
        let flight = self.flight.try_lock().ok().and_then(|g| *g);
        Status {
            kind: self.kind(),
            target: self.target.clone(),
            description: self.source.description(),
            success: flight.map(|f| f.success),
            last_error: err.map(|e| e.to_string()),
            snapshot_age: last.as_ref().map(|l| l.at.elapsed()),
            application_ids: self.known_apps(),
            beans: last.map_or(0, |l| l.beans),
        }
    }
}

/// Scrape settings.
#[derive(Debug, Clone)]
pub struct ScrapeSettings {
    /// Deadline when the scraper sends no timeout header, and the upper bound otherwise.
    pub max_deadline: Duration,
    /// A missed source's last good output is served until it is this old.
    pub stale_after: Duration,
}

/// What one scrape produced.
#[derive(Debug)]
pub struct ScrapeResult {
    pub families: Vec<Family>,
    /// When every refresh had answered: what follows (merge, encoding,
    /// sending) is the answer's tail, reported back with [`Scraper::answered`].
    pub reads_done: Instant,
}

/// How many recent answers' tails the deadline budget looks at.
const TAILS: usize = 16;

/// The deadline budget: how long the recent answers took after their reads
/// (merging and encoding, on a machine as loaded as it is now), so that the
/// next read leaves that much of Prometheus's timeout (see [`Scraper::deadline`]).
#[derive(Debug, Default)]
struct Tails {
    recent: std::collections::VecDeque<Duration>,
}

impl Tails {
    fn add(&mut self, d: Duration) {
        if self.recent.len() == TAILS {
            self.recent.pop_front();
        }
        self.recent.push_back(d);
    }

    fn max(&self) -> Option<Duration> {
        self.recent.iter().max().copied()
    }
}

/// Every source and how to turn them into one exposition.
pub struct Scraper {
    slots: RwLock<Vec<Arc<Slot>>>,
    settings: ScrapeSettings,
    errors: Mutex<BTreeMap<&'static str, u64>>,
    tails: Mutex<Tails>,
    snapshots: Arc<SnapshotDemand>,
}

impl Scraper {
    pub fn new(settings: ScrapeSettings) -> Self {
        Scraper {
            slots: RwLock::new(Vec::new()),
            settings,
            errors: Mutex::new(BTreeMap::new()),
            tails: Mutex::new(Tails::default()),
            snapshots: Arc::new(SnapshotDemand::default()),
        }
    }

    /// Scrapes so that every source that answers leaves its snapshot in its
    /// slot (for pages that show beans), and keeps snapshots for
    /// [`SNAPSHOTS_WANTED_FOR`] after. A refresh that was kept just before
    /// the demand began is followed by one more scrape.
    pub async fn scrape_with_snapshots(self: &Arc<Self>) {
        self.snapshots.want(SNAPSHOTS_WANTED_FOR);
        self.scrape(None).await;
        if self.slots().iter().any(|s| s.snapshot_dropped()) {
            self.scrape(None).await;
        }
    }

    pub fn slots(&self) -> Vec<Arc<Slot>> {
        read(&self.slots, "slots").clone()
    }

    /// Registers a source (replacing one of the same kind and target).
    pub fn add(&self, source: Arc<dyn Source>) -> Arc<Slot> {
        let slot = Arc::new(Slot::with_demand(source, self.snapshots.clone()));
        let mut slots = write(&self.slots, "slots");
        slots.retain(|x| !(x.kind() == slot.kind() && x.target == slot.target));
        slots.push(slot.clone());
        // JVM sources first, by target; then the others.
        slots.sort_by(|a, b| (a.kind() != "jmx", &a.target).cmp(&(b.kind() != "jmx", &b.target)));
        slot
    }

    pub fn remove(&self, kind: &str, target: &str) {
        write(&self.slots, "slots").retain(|x| !(x.kind() == kind && x.target == target));
    }

    /// Application ids known from every source so far, sorted.
    pub fn known_apps(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.slots().iter().flat_map(|s| s.known_apps()).collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// The read deadline for a scrape: Prometheus's
    /// `X-Prometheus-Scrape-Timeout-Seconds` minus what the answer needs
    /// after its reads, never above `max_deadline`. That reserve is 1.5
    /// times the longest tail of the last 16 answers plus 50 ms (merging
    /// and encoding take what they take on this build and this machine's
    /// load), at least 10 % of the timeout plus 100 ms and at most half of
    /// it.
    pub fn deadline(&self, scrape_timeout_header: Option<f64>) -> Duration {
        let max = self.settings.max_deadline;
        let Some(s) = scrape_timeout_header.filter(|s| s.is_finite() && *s > 0.0) else {
            return max;
        };
        // Whole microseconds: no float rounding in what follows.
        let timeout = Duration::from_micros((s.min(1e6) * 1e6).round() as u64);
        let floor = timeout / 10 + Duration::from_millis(100);
        let measured = lock(&self.tails, "answer tails")
            .max()
            .map(|t| t.mul_f64(1.5) + Duration::from_millis(50))
            .unwrap_or_default();
        let reserve = measured.max(floor).min(timeout / 2);
        timeout
            .saturating_sub(reserve)
            .max(Duration::from_millis(50))
            .min(max)
    }

    /// Records how long an answer took after its reads (`reads_done` from
    /// its [`ScrapeResult`]; called once the answer is sent): the next
    /// deadlines leave that much time.
    pub fn answered(&self, reads_done: Instant) {
        let tail = reads_done.elapsed();
        let mut tails = lock(&self.tails, "answer tails");
        if tails.max().is_some_and(|m| tail > m) {
            tracing::debug!(
                tail_ms = tail.as_millis() as u64,
                "an answer took longer after its reads than the recent ones: the next reads leave more time"
            );
        }
        tails.add(tail);
    }

    /// Refreshes every source in parallel under the deadline and merges the
    /// families of everything served with the self-metrics.
    pub async fn scrape(self: &Arc<Self>, scrape_timeout_header: Option<f64>) -> ScrapeResult {
        let requested = Instant::now();
        let deadline = requested + self.deadline(scrape_timeout_header);
        let slots = self.slots();
        let mut set = tokio::task::JoinSet::new();
        for (i, s) in slots.iter().enumerate() {
            let s = s.clone();
            set.spawn(async move { (i, s.refresh(requested, deadline).await) });
        }
        let mut results = vec![Refresh::default(); slots.len()];
        while let Some(r) = set.join_next().await {
            if let Ok((i, r)) = r {
                results[i] = r;
            }
        }
        let reads_done = Instant::now();
        let errors = {
            let mut errors = lock(&self.errors, "error counts");
            for e in results.iter().filter_map(|r| r.error.as_ref()) {
                *errors.entry(e.kind()).or_insert(0) += 1;
            }
            errors.clone()
        };
        let served: Vec<Option<(Arc<Output>, Duration)>> = slots
            .iter()
            .map(|s| s.served(self.settings.stale_after))
            .collect();
        let outcomes: Vec<Outcome> = slots
            .iter()
            .zip(&results)
            .zip(&served)
            .map(|((slot, r), s)| Outcome {
                source: slot.kind(),
                target: slot.target.clone(),
                success: r.success,
                duration_seconds: r.duration.as_secs_f64(),
                snapshot_age_seconds: s.as_ref().map(|(_, age)| age.as_secs_f64()),
                cuts: slot.cuts(),
            })
            .collect();
        let merge = move || {
            let sources: Vec<&[Family]> = served
                .iter()
                .flatten()
                .map(|(output, _)| output.families.as_slice())
                .collect();
            merge_served(&sources, selfmetrics::families(&outcomes, &errors))
        };
        let families = match tokio::task::spawn_blocking(merge).await {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "merging families failed");
                Vec::new()
            }
        };
        ScrapeResult {
            families,
            reads_done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::jmx::Snapshot;
    use crate::source::BoxFuture;
    use crate::streams::{self, Options};

    /// A source that takes `delay` per refresh and counts its refreshes.
    struct Slow {
        delay: Duration,
        reads: Arc<AtomicUsize>,
    }

    impl Source for Slow {
        fn kind(&self) -> &'static str {
            "jmx"
        }
        fn target(&self) -> String {
            "t".into()
        }
        fn description(&self) -> String {
            "slow".into()
        }
        fn refresh(&self, _deadline: Duration) -> BoxFuture<'_, Result<Output, SourceError>> {
            Box::pin(async move {
                self.reads.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(self.delay).await;
                let snapshot = Snapshot::from_capture_json(
                    r#"[{"name":"kafka.streams:type=stream-metrics,client-id=c","attributes":{"alive-stream-threads":{"type":"java.lang.Integer","value":1}}}]"#,
                )
                .expect("literal capture");
                Ok(Output {
                    families: streams::families(&snapshot, "t", &Options::default()),
                    snapshot: Some(Arc::new(snapshot)),
                    ..Output::default()
                })
            })
        }
    }

    fn scraper(delay: Duration) -> (Arc<Scraper>, Arc<AtomicUsize>) {
        let reads = Arc::new(AtomicUsize::new(0));
        let s = Arc::new(Scraper::new(ScrapeSettings {
            max_deadline: Duration::from_secs(5),
            stale_after: Duration::from_secs(60),
        }));
        s.add(Arc::new(Slow {
            delay,
            reads: reads.clone(),
        }));
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
        assert_eq!(s.deadline(Some(0.3)), Duration::from_millis(170));
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
        assert_eq!(s.deadline(Some(100.0)), Duration::from_secs(5), "capped");
    }

    #[tokio::test]
    async fn the_deadline_leaves_what_recent_answers_needed_after_their_reads() {
        let (s, _) = scraper(Duration::from_millis(1));
        let one = Some(1.0);
        // No answer yet: 10 % plus 100 ms.
        assert_eq!(s.deadline(one), Duration::from_millis(800));
        // A 300 ms tail: 1.5 x 300 + 50 = 500 ms reserved.
        s.answered(Instant::now() - Duration::from_millis(300));
        assert_eq!(s.deadline(one), Duration::from_millis(500));
        // Never more than half the timeout.
        s.answered(Instant::now() - Duration::from_secs(2));
        assert_eq!(s.deadline(one), Duration::from_millis(500));
        assert_eq!(s.deadline(Some(4.0)), Duration::from_millis(2000));
        // Quick answers: the floor again once the slow ones are 16 answers old.
        for _ in 0..TAILS {
            s.answered(Instant::now());
        }
        let d = s.deadline(one);
        assert!(
            d <= Duration::from_millis(800) && d >= Duration::from_millis(790),
            "{d:?}"
        );
        // A scrape reports when its reads were done.
        let r = s.scrape(one).await;
        assert!(r.reads_done.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn snapshots_are_kept_only_while_a_page_wants_them() {
        let (s, _) = scraper(Duration::from_millis(1));
        let slot = s.slots()[0].clone();
        s.scrape(None).await;
        let (out, _) = slot.served(Duration::MAX).expect("served");
        assert!(out.snapshot.is_none(), "/metrics alone keeps only families");
        assert!(!out.families.is_empty());
        assert_eq!(
            slot.status().beans,
            1,
            "the bean count outlives the snapshot"
        );
        assert!(slot.snapshot_dropped());
        s.scrape_with_snapshots().await;
        let kept = slot.served(Duration::MAX).expect("served").0;
        assert_eq!(kept.snapshot.as_ref().map(|x| x.beans.len()), Some(1));
        // Kept for the scrapes that follow while the demand lasts.
        s.scrape(None).await;
        assert!(slot.served(Duration::MAX).unwrap().0.snapshot.is_some());
        // A slot made without a demand (the `top` view) always keeps it.
        let whole = Slot::new(slot.source().clone());
        whole
            .refresh(Instant::now(), Instant::now() + Duration::from_secs(5))
            .await;
        assert!(whole.served(Duration::MAX).unwrap().0.snapshot.is_some());
    }
}
