//! The lag refresh cycle and its background runner: a `Selection` of groups
//! in, an immutable `Arc<LagReport>` out. `Collector::cycle` runs one cycle
//! (blocking: groups -> offsets -> probes -> model); `LagMonitor` runs cycles
//! on its own thread at a fixed interval, decoupled from scrapes, keeps the
//! latest report with its age and error state, recovers by itself when the
//! brokers come back, and accepts new group ids at run time.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::config::ClientConfig;
use regex::Regex;
use serde::Serialize;

use super::groups::{describe_groups, GroupDescription, MemberDescription};
use super::model::{self, Isolation, PartitionOffsets, Probe};
use super::offsets::{OffsetClient, PeekRequest, Tp};
use super::seconds::{self, EndHistory};
use super::status::{Observation, PartitionKey, Status, StatusTracker, Trend};
use super::LagError;

/// Which groups a cycle measures.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Groups named explicitly (reported even when they do not exist: `missing`).
    pub groups: BTreeSet<String>,
    /// Every group of the cluster.
    pub all: bool,
    /// Every group whose id matches.
    pub pattern: Option<Regex>,
}

impl Selection {
    fn needs_listing(&self) -> bool {
        self.all || self.pattern.is_some()
    }
    fn matches(&self, g: &str) -> bool {
        self.all || self.groups.contains(g) || self.pattern.as_ref().is_some_and(|r| r.is_match(g))
    }
}

/// Tuning of the cycle.
#[derive(Debug, Clone)]
pub struct CollectorSettings {
    /// Observations in a status window.
    pub window: usize,
    /// Probe (read) a partition's remaining range when its lag in offsets is
    /// at most this, to count records instead of offsets (markers, aborted).
    pub probe_max_gap: i64,
    /// Time budget of the record reads of one cycle.
    pub peek_budget: Duration,
    /// Partitions read per cycle at most (probes and timestamps).
    pub peek_max_partitions: usize,
    /// Isolation of groups not listed in `isolation`.
    pub default_isolation: Isolation,
    pub isolation: HashMap<String, Isolation>,
}

impl Default for CollectorSettings {
    fn default() -> Self {
        CollectorSettings {
            window: 10,
            probe_max_gap: 16,
            peek_budget: Duration::from_secs(2),
            peek_max_partitions: 2_000,
            default_isolation: Isolation::ReadUncommitted,
            isolation: HashMap::new(),
        }
    }
}

/// Lag of one partition of one group.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    pub committed: Option<i64>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub stable: Option<i64>,
    /// Records still to read (EOS-correct); `None`: no committed offset.
    pub lag: Option<i64>,
    /// `end - committed` in offsets, as `kafka-consumer-groups` prints it.
    pub offset_lag: Option<i64>,
    /// The committed offset is below the log start (data deleted by retention).
    pub truncated: bool,
    /// The lag was counted by reading the range (markers/aborted skipped).
    pub probed: bool,
    pub lag_seconds: Option<f64>,
    pub status: Status,
    pub trend: Trend,
    pub consumer_id: Option<String>,
    pub host: Option<String>,
    pub client_id: Option<String>,
}

/// Lag of one group.
#[derive(Debug, Clone, Serialize)]
pub struct GroupLag {
    pub group: String,
    pub state: String,
    pub protocol_type: String,
    pub protocol: String,
    pub isolation: Isolation,
    pub members: Vec<MemberDescription>,
    pub partitions: Vec<PartitionLag>,
    /// Sum over partitions with a value.
    pub lag: Option<i64>,
    /// Largest partition lag in seconds.
    pub lag_seconds: Option<f64>,
    pub status: Status,
    pub trend: Trend,
    pub error: Option<String>,
}

/// Where the time of a cycle went.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timings {
    /// Group listing, metadata, committed and log offsets.
    pub network_seconds: f64,
    /// Record reads (probes and timestamps).
    pub peek_seconds: f64,
    /// Pure model: lag, seconds, status.
    pub model_seconds: f64,
    pub total_seconds: f64,
}

/// The result of one cycle; immutable once built.
#[derive(Debug, Clone, Serialize)]
pub struct LagReport {
    pub taken_at_ms: i64,
    pub groups: Vec<GroupLag>,
    /// Groups asked for by name that the cluster does not know.
    pub missing: Vec<String>,
    pub partitions: usize,
    pub timings: Timings,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Runs refresh cycles and keeps what must survive between them (status
/// windows, end-offset history, probe and timestamp caches).
pub struct Collector {
    client: OffsetClient,
    settings: CollectorSettings,
    tracker: StatusTracker,
    history: HashMap<Tp, EndHistory>,
    probes: HashMap<(Isolation, Tp), Probe>,
    timestamps: HashMap<(Isolation, Tp), (i64, i64)>,
}

/// The partitions of a group being assembled in a cycle, or why not.
type GroupWork = Result<BTreeMap<Tp, Work>, String>;

/// A partition of a group being assembled in a cycle.
struct Work {
    offsets: PartitionOffsets,
    owner: Option<MemberDescription>,
}

impl Collector {
    pub fn new(
        config: ClientConfig,
        timeout: Duration,
        settings: CollectorSettings,
    ) -> Result<Self, LagError> {
        Ok(Collector {
            client: OffsetClient::new(config, timeout)?,
            tracker: StatusTracker::new(settings.window),
            settings,
            history: HashMap::new(),
            probes: HashMap::new(),
            timestamps: HashMap::new(),
        })
    }

    pub fn settings_mut(&mut self) -> &mut CollectorSettings {
        &mut self.settings
    }

    fn isolation(&self, group: &str) -> Isolation {
        self.settings
            .isolation
            .get(group)
            .copied()
            .unwrap_or(self.settings.default_isolation)
    }

    /// One refresh: list, fetch, probe, compute. Blocking.
    pub fn cycle(&mut self, sel: &Selection) -> Result<LagReport, LagError> {
        let t0 = Instant::now();
        let timeout = self.client.timeout();
        // 1. Groups.
        let topics = self.client.topics()?;
        let mut described: BTreeMap<String, GroupDescription> = BTreeMap::new();
        if sel.needs_listing() {
            for g in describe_groups(self.client.admin(), None, timeout)? {
                if sel.matches(&g.group) && !g.is_dead() {
                    described.insert(g.group.clone(), g);
                }
            }
        }
        let mut missing = Vec::new();
        for name in &sel.groups {
            if described.contains_key(name) {
                continue;
            }
            match describe_groups(self.client.admin(), Some(name), timeout)?
                .into_iter()
                .find(|g| &g.group == name)
            {
                Some(g) if !g.is_dead() => {
                    described.insert(name.clone(), g);
                }
                _ => missing.push(name.clone()),
            }
        }
        // 2. Committed offsets, asked for every partition of every topic.
        let all_tps: Vec<Tp> = topics
            .iter()
            .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
            .collect();
        let asks: Vec<(String, Vec<Tp>)> = described
            .keys()
            .map(|g| (g.clone(), all_tps.clone()))
            .collect();
        let committed = self.client.committed_many(&asks);
        // 3. The partitions of each group: committed or assigned.
        let mut work: BTreeMap<String, (GroupWork, GroupDescription)> = BTreeMap::new();
        let mut wanted: BTreeSet<Tp> = BTreeSet::new();
        for (g, res) in committed {
            let Some(desc) = described.remove(&g) else {
                continue;
            };
            let parts = match res {
                Err(e) => Err(e.to_string()),
                Ok(c) => {
                    let mut parts: BTreeMap<Tp, Work> = BTreeMap::new();
                    for (tp, off) in c {
                        parts
                            .entry(tp.clone())
                            .or_insert_with(|| Work {
                                offsets: PartitionOffsets {
                                    topic: tp.0.clone(),
                                    partition: tp.1,
                                    ..Default::default()
                                },
                                owner: None,
                            })
                            .offsets
                            .committed = Some(off);
                    }
                    for m in &desc.members {
                        for tp in &m.assignment {
                            if !topics.get(&tp.0).is_some_and(|ps| ps.contains(&tp.1)) {
                                continue;
                            }
                            let w = parts.entry(tp.clone()).or_insert_with(|| Work {
                                offsets: PartitionOffsets {
                                    topic: tp.0.clone(),
                                    partition: tp.1,
                                    ..Default::default()
                                },
                                owner: None,
                            });
                            w.owner = Some(m.clone());
                        }
                    }
                    wanted.extend(parts.keys().cloned());
                    Ok(parts)
                }
            };
            work.insert(g, (parts, desc));
        }
        let wanted: Vec<Tp> = wanted.into_iter().collect();
        let logs = self.client.log_offsets(&wanted)?;
        let taken_at_ms = now_ms();
        for (parts, _) in work.values_mut() {
            if let Ok(parts) = parts {
                for (tp, w) in parts.iter_mut() {
                    if let Some(lo) = logs.get(tp) {
                        w.offsets.start = lo.start;
                        w.offsets.end = lo.end;
                        w.offsets.stable = lo.stable;
                    }
                }
            }
        }
        for (tp, lo) in &logs {
            if let Some(end) = lo.end {
                self.history
                    .entry(tp.clone())
                    .or_default()
                    .record(taken_at_ms, end);
            }
        }
        self.history.retain(|tp, _| logs.contains_key(tp));
        let t1 = Instant::now();

        // 4. Record reads: exact counts for small gaps, timestamps for seconds.
        let mut reqs: HashMap<Isolation, BTreeMap<Tp, PeekRequest>> = HashMap::new();
        let mut budget = self.settings.peek_max_partitions;
        for (g, (parts, _)) in &work {
            let iso = self.isolation(g);
            let Ok(parts) = parts else { continue };
            for (tp, w) in parts {
                if budget == 0 {
                    break;
                }
                let key = (iso, tp.clone());
                let range = model::probe_range(&w.offsets, iso, self.settings.probe_max_gap);
                let need_count = range.is_some_and(|(from, to)| {
                    self.probes
                        .get(&key)
                        .map_or(true, |p| p.from != from || p.to != to)
                });
                let lag = model::partition_lag(&w.offsets, iso, None);
                let from = w
                    .offsets
                    .committed
                    .unwrap_or(0)
                    .max(w.offsets.start.unwrap_or(0));
                let need_ts = lag.records.is_some_and(|l| l > 0)
                    && self
                        .history
                        .get(tp)
                        .and_then(|h| h.appended_at(from))
                        .is_none()
                    && self.timestamps.get(&key).map_or(true, |(o, _)| *o != from);
                if !(need_count || need_ts) {
                    continue;
                }
                let (from, to) = range.unwrap_or((from, lag.end_used.unwrap_or(from)));
                let entry = reqs.entry(iso).or_default();
                if !entry.contains_key(tp) {
                    budget -= 1;
                }
                entry.insert(
                    tp.clone(),
                    PeekRequest {
                        tp: tp.clone(),
                        from,
                        to,
                        count: need_count,
                    },
                );
            }
        }
        let deadline = Instant::now() + self.settings.peek_budget;
        for (iso, rs) in reqs {
            let rs: Vec<PeekRequest> = rs.into_values().collect();
            let left = deadline.saturating_duration_since(Instant::now());
            match self.client.peek(iso, &rs, left) {
                Ok(found) => {
                    for r in &rs {
                        let Some(res) = found.get(&r.tp) else {
                            continue;
                        };
                        let key = (iso, r.tp.clone());
                        if let (true, Some(n)) = (r.count, res.records) {
                            self.probes.insert(
                                key.clone(),
                                Probe {
                                    from: r.from,
                                    to: r.to,
                                    records: n,
                                },
                            );
                        }
                        if let Some((_, ts)) = res.first {
                            self.timestamps.insert(key, (r.from, ts));
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "lag record reads failed"),
            }
        }
        let t2 = Instant::now();

        // 5. Model.
        let mut groups = Vec::with_capacity(work.len());
        let mut seen: HashSet<PartitionKey> = HashSet::new();
        let mut partitions = 0;
        for (g, (parts, desc)) in work {
            let iso = self.isolation(&g);
            let mut out = GroupLag {
                group: g.clone(),
                state: desc.state.clone(),
                protocol_type: desc.protocol_type.clone(),
                protocol: desc.protocol.clone(),
                isolation: iso,
                members: desc.members.clone(),
                partitions: Vec::new(),
                lag: None,
                lag_seconds: None,
                status: Status::Ok,
                trend: Trend::default(),
                error: None,
            };
            match parts {
                Err(e) => {
                    out.status = Status::Err;
                    out.error = Some(e);
                }
                Ok(parts) => {
                    for (tp, w) in parts {
                        let key = (iso, tp.clone());
                        let lag = model::partition_lag(&w.offsets, iso, self.probes.get(&key));
                        let from = w
                            .offsets
                            .committed
                            .unwrap_or(0)
                            .max(w.offsets.start.unwrap_or(0));
                        let ts = self
                            .timestamps
                            .get(&key)
                            .filter(|(o, _)| *o == from)
                            .map(|(_, t)| *t);
                        let secs = seconds::lag_seconds(
                            lag.records,
                            from,
                            taken_at_ms,
                            self.history.get(&tp),
                            ts,
                        );
                        let pkey: PartitionKey = (g.clone(), tp.0.clone(), tp.1);
                        let (status, trend) = self.tracker.observe(
                            &pkey,
                            Observation {
                                at_ms: taken_at_ms,
                                committed: w.offsets.committed,
                                lag: lag.records,
                                owned: w.owner.is_some(),
                                error: w.offsets.end.is_none() && w.offsets.committed.is_some(),
                            },
                        );
                        seen.insert(pkey);
                        out.partitions.push(PartitionLag {
                            topic: tp.0,
                            partition: tp.1,
                            committed: w.offsets.committed,
                            start: w.offsets.start,
                            end: w.offsets.end,
                            stable: w.offsets.stable,
                            lag: lag.records,
                            offset_lag: lag.offsets_to_hw,
                            truncated: lag.truncated,
                            probed: lag.probed,
                            lag_seconds: secs,
                            status,
                            trend,
                            consumer_id: w.owner.as_ref().map(|m| m.member_id.clone()),
                            host: w.owner.as_ref().map(|m| m.host.clone()),
                            client_id: w.owner.as_ref().map(|m| m.client_id.clone()),
                        });
                    }
                    partitions += out.partitions.len();
                    out.lag = model::sum_lag(out.partitions.iter().map(|p| p.lag));
                    out.lag_seconds = out
                        .partitions
                        .iter()
                        .filter_map(|p| p.lag_seconds)
                        .fold(None, |a: Option<f64>, s| Some(a.map_or(s, |a| a.max(s))));
                    out.status = out
                        .partitions
                        .iter()
                        .map(|p| p.status)
                        .max()
                        .unwrap_or(Status::Ok);
                    out.trend = Trend::combine(out.partitions.iter().map(|p| p.trend), out.lag);
                }
            }
            groups.push(out);
        }
        self.tracker.retain(&seen);
        let live: HashSet<(Isolation, Tp)> = groups
            .iter()
            .flat_map(|g| {
                g.partitions
                    .iter()
                    .map(move |p| (g.isolation, (p.topic.clone(), p.partition)))
            })
            .collect();
        self.probes.retain(|k, _| live.contains(k));
        self.timestamps.retain(|k, _| live.contains(k));
        let t3 = Instant::now();
        Ok(LagReport {
            taken_at_ms,
            groups,
            missing,
            partitions,
            timings: Timings {
                network_seconds: (t1 - t0).as_secs_f64(),
                peek_seconds: (t2 - t1).as_secs_f64(),
                model_seconds: (t3 - t2).as_secs_f64(),
                total_seconds: (t3 - t0).as_secs_f64(),
            },
        })
    }
}

/// What a caller of [`LagMonitor::latest`] sees.
#[derive(Debug, Clone)]
pub struct MonitorSnapshot {
    /// The last good report (kept while the brokers are down).
    pub report: Option<Arc<LagReport>>,
    /// Age of `report`.
    pub age: Option<Duration>,
    /// The last cycle succeeded.
    pub success: bool,
    /// Duration of the last cycle (good or not).
    pub duration: Option<Duration>,
    pub error: Option<String>,
}

#[derive(Default)]
struct State {
    report: Option<Arc<LagReport>>,
    at: Option<Instant>,
    success: bool,
    duration: Option<Duration>,
    error: Option<String>,
}

struct Shared {
    state: RwLock<State>,
    selection: Mutex<Selection>,
    isolation: Mutex<HashMap<String, Isolation>>,
}

enum Msg {
    Stop,
    Refresh,
}

/// Refreshes lag on its own thread every `interval`; scrapes read
/// [`LagMonitor::latest`], which never blocks on the brokers.
pub struct LagMonitor {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Msg>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LagMonitor {
    /// Start the refresh thread; the first cycle begins at once.
    pub fn start(
        config: ClientConfig,
        timeout: Duration,
        interval: Duration,
        selection: Selection,
        settings: CollectorSettings,
    ) -> Result<Self, LagError> {
        let shared = Arc::new(Shared {
            state: RwLock::new(State::default()),
            selection: Mutex::new(selection),
            isolation: Mutex::new(settings.isolation.clone()),
        });
        let (tx, rx) = mpsc::channel();
        let sh = shared.clone();
        let thread = std::thread::Builder::new()
            .name("ksbridge-lag".into())
            .spawn(move || run(sh, rx, config, timeout, interval, settings))
            .map_err(LagError::Thread)?;
        Ok(LagMonitor {
            shared,
            tx,
            thread: Some(thread),
        })
    }

    /// Measure these groups too from the next cycle on (e.g. the
    /// application ids of the Streams apps read over JMX).
    pub fn add_groups<I: IntoIterator<Item = String>>(&self, groups: I) {
        if let Ok(mut s) = self.shared.selection.lock() {
            s.groups.extend(groups);
        }
    }

    /// Measure `group` as a `read_committed` (exactly-once) or plain group.
    pub fn set_isolation(&self, group: &str, isolation: Isolation) {
        if let Ok(mut m) = self.shared.isolation.lock() {
            m.insert(group.to_string(), isolation);
        }
    }

    /// Ask for a cycle now instead of at the next interval.
    pub fn refresh(&self) {
        let _ = self.tx.send(Msg::Refresh);
    }

    pub fn latest(&self) -> MonitorSnapshot {
        match self.shared.state.read() {
            Ok(s) => MonitorSnapshot {
                report: s.report.clone(),
                age: s.at.map(|a| a.elapsed()),
                success: s.success,
                duration: s.duration,
                error: s.error.clone(),
            },
            Err(_) => MonitorSnapshot {
                report: None,
                age: None,
                success: false,
                duration: None,
                error: Some(LagError::Poisoned.to_string()),
            },
        }
    }
}

impl Drop for LagMonitor {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Msg>,
    config: ClientConfig,
    timeout: Duration,
    interval: Duration,
    settings: CollectorSettings,
) {
    let mut collector: Option<Collector> = None;
    let mut failures = 0u32;
    loop {
        let started = Instant::now();
        let mut create_error = None;
        if collector.is_none() {
            match Collector::new(config.clone(), timeout, settings.clone()) {
                Ok(c) => collector = Some(c),
                Err(e) => create_error = Some(e),
            }
        }
        let sel = shared
            .selection
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        let iso = shared
            .isolation
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        let result = match (collector.as_mut(), create_error) {
            (Some(c), _) => {
                c.settings_mut().isolation = iso;
                c.cycle(&sel)
            }
            (None, e) => Err(e.unwrap_or(LagError::Poisoned)),
        };
        let took = started.elapsed();
        if let Ok(mut s) = shared.state.write() {
            s.duration = Some(took);
            match result {
                Ok(r) => {
                    if !s.success {
                        tracing::info!(groups = r.groups.len(), "lag source up");
                    }
                    s.report = Some(Arc::new(r));
                    s.at = Some(Instant::now());
                    s.success = true;
                    s.error = None;
                    failures = 0;
                }
                Err(e) => {
                    if s.success || s.error.is_none() {
                        tracing::warn!(error = %e, "lag refresh failed");
                    }
                    s.success = false;
                    s.error = Some(e.to_string());
                    failures += 1;
                    // librdkafka reconnects on its own; a fresh client after
                    // repeated failures also drops any wedged connection state.
                    if failures % 3 == 0 {
                        collector = None;
                    }
                }
            }
        }
        match rx.recv_timeout(interval.saturating_sub(took)) {
            Ok(Msg::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
            Ok(Msg::Refresh) | Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}
