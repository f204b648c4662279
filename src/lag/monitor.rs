//! The lag refresh cycle and its background runner: a `Selection` of groups
//! in, an immutable `Arc<LagReport>` out. `Collector::cycle` runs one cycle
//! (blocking: groups -> offsets -> probes -> model); `LagMonitor` runs cycles
//! on its own thread at a fixed interval, decoupled from scrapes, keeps the
//! latest report with its age and error state, recovers by itself when the
//! brokers come back, and accepts new group ids at run time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::config::ClientConfig;
use regex::Regex;

use super::groups::describe_groups;
use super::model::{GroupDescription, Isolation, PartitionOffsets, TopicPartition};
use super::offsets::OffsetClient;
use super::report::{
    CollectorSettings, Fetched, FetchedGroup, FetchedPartition, LagReport, LagState, Timings,
};
use super::shard::Shard;
use super::LagError;
use crate::sync::{lock, read, write};

/// Which groups a cycle measures.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Groups named explicitly (reported even when they do not exist: `missing`).
    pub groups: BTreeSet<String>,
    /// Every group of the cluster.
    pub all: bool,
    /// Every group whose id matches.
    pub pattern: Option<Regex>,
    /// Only the groups of this shard (of those selected above), named ones included.
    pub shard: Option<Shard>,
}

impl Selection {
    fn needs_listing(&self) -> bool {
        self.all || self.pattern.is_some()
    }
    fn matches(&self, g: &str) -> bool {
        (self.all
            || self.groups.contains(g)
            || self.pattern.as_ref().is_some_and(|r| r.is_match(g)))
            && self.in_shard(g)
    }
    fn in_shard(&self, g: &str) -> bool {
        match self.shard {
            None => true,
            Some(s) => s.contains(g),
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Runs refresh cycles: the rdkafka clients plus the state kept between cycles.
pub struct Collector {
    client: OffsetClient,
    state: LagState,
    /// Per group: topics it committed on or was assigned, and cycles since
    /// its committed offsets were last asked for on every topic.
    known: Mutex<HashMap<String, (BTreeSet<String>, u32)>>,
}

/// A group's committed offsets are asked for on every topic of the cluster
/// this often (in cycles), and in between only on the topics where it had
/// offsets or members: OffsetFetch through librdkafka needs the partitions
/// listed, and listing every partition for every group each cycle would cost
/// groups x cluster partitions. A group that starts committing on a topic it
/// is not assigned (manual assignment) shows up within this many cycles.
pub const FULL_SCAN_EVERY: u32 = 10;

impl Collector {
    pub fn new(
        config: ClientConfig,
        timeout: Duration,
        settings: CollectorSettings,
    ) -> Result<Self, LagError> {
        Ok(Collector {
            client: OffsetClient::new(config, timeout)?
                .tuned(settings.cached_group_clients, settings.parallelism)
                .client_per_group(settings.client_per_group),
            state: LagState::new(settings),
            known: Mutex::new(HashMap::new()),
        })
    }

    /// How many librdkafka clients the collector holds now.
    pub fn clients(&self) -> usize {
        self.client.clients()
    }

    pub fn settings_mut(&mut self) -> &mut CollectorSettings {
        &mut self.state.settings
    }

    /// The network half of a cycle: groups, committed and log offsets.
    pub fn fetch(&self, sel: &Selection) -> Result<Fetched, LagError> {
        let md = self.client.metadata()?;
        let topics = md.topics;
        let (mut described, missing) = self.describe(sel)?;
        let names: Vec<String> = described.keys().cloned().collect();
        // Shared connections answer with every partition a group committed
        // on; the per-group fallback asks only on the partitions of `asks`.
        let (committed, full) = match self.client.committed_shared(&md.brokers, &names) {
            Some(c) => (c, None),
            None => {
                let (asks, full) = self.asks(&described, &topics);
                (self.client.committed_many(&asks), Some(full))
            }
        };
        let mut groups = Vec::with_capacity(committed.len());
        let mut wanted: BTreeSet<TopicPartition> = BTreeSet::new();
        for (g, res) in committed {
            let Some(desc) = described.remove(&g) else {
                continue;
            };
            let partitions = match res {
                Err(e) => Err(e.to_string()),
                Ok(mut c) => {
                    // Partitions of topics that exist (and are not internal).
                    c.retain(|tp, _| {
                        topics
                            .get(&tp.topic)
                            .is_some_and(|ps| ps.contains(&tp.partition))
                    });
                    let parts = group_partitions(&desc, c, &topics);
                    wanted.extend(parts.keys().cloned());
                    if let Some(full) = &full {
                        self.remember(&g, parts.keys(), full.contains(&g));
                    }
                    Ok(parts.into_values().collect::<Vec<_>>())
                }
            };
            groups.push(FetchedGroup { desc, partitions });
        }
        let wanted: Vec<TopicPartition> = wanted.into_iter().collect();
        let logs = self.client.log_offsets(&wanted)?;
        let taken_at_ms = now_ms();
        for p in groups
            .iter_mut()
            .filter_map(|g| g.partitions.as_mut().ok())
            .flatten()
        {
            let tp = TopicPartition::new(p.offsets.topic.clone(), p.offsets.partition);
            if let Some(lo) = logs.get(&tp) {
                p.offsets.start = lo.start;
                p.offsets.end = lo.end;
                p.offsets.stable = lo.stable;
            }
        }
        Ok(Fetched {
            taken_at_ms,
            groups,
            missing,
        })
    }

    /// The selected groups that exist, and the named ones that do not.
    fn describe(
        &self,
        sel: &Selection,
    ) -> Result<(BTreeMap<String, GroupDescription>, Vec<String>), LagError> {
        let timeout = self.client.timeout();
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
            if described.contains_key(name) || !sel.in_shard(name) {
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
        Ok((described, missing))
    }

    /// The partitions to ask each group's committed offsets on: its known and
    /// assigned topics, or every topic for a new group and every
    /// [`FULL_SCAN_EVERY`] cycles (those groups are returned too).
    fn asks(
        &self,
        described: &BTreeMap<String, GroupDescription>,
        topics: &BTreeMap<String, Vec<i32>>,
    ) -> (Vec<(String, Vec<TopicPartition>)>, BTreeSet<String>) {
        let tps_of = |names: &mut dyn Iterator<Item = &String>| -> Vec<TopicPartition> {
            names
                .filter_map(|t| topics.get_key_value(t))
                .flat_map(|(t, ps)| ps.iter().map(move |p| TopicPartition::new(t.clone(), *p)))
                .collect()
        };
        let mut known = lock(&self.known, "lag known topics");
        known.retain(|g, _| described.contains_key(g));
        let mut full: BTreeSet<String> = BTreeSet::new();
        let asks = described
            .values()
            .map(|d| {
                let assigned = d
                    .members
                    .iter()
                    .flat_map(|m| m.assignment.iter().map(|tp| &tp.topic));
                let tps = match known.get(&d.group) {
                    Some((k, age)) if *age < FULL_SCAN_EVERY && !k.is_empty() => {
                        let names: BTreeSet<&String> = k.iter().chain(assigned).collect();
                        tps_of(&mut names.into_iter())
                    }
                    _ => {
                        full.insert(d.group.clone());
                        tps_of(&mut topics.keys())
                    }
                };
                (d.group.clone(), tps)
            })
            .collect();
        (asks, full)
    }

    /// Remembers the topics a group has partitions on (and how many cycles
    /// since its last full scan).
    fn remember<'a>(
        &self,
        group: &str,
        tps: impl Iterator<Item = &'a TopicPartition>,
        scanned_all: bool,
    ) {
        let mut known = lock(&self.known, "lag known topics");
        let age = match known.get(group) {
            Some((_, age)) if !scanned_all => age + 1,
            _ => 0,
        };
        let names = tps.map(|tp| tp.topic.clone()).collect();
        known.insert(group.to_string(), (names, age));
    }

    /// One refresh: fetch, read records where needed, compute. Blocking.
    pub fn cycle(&mut self, sel: &Selection) -> Result<LagReport, LagError> {
        let t0 = Instant::now();
        let fetched = self.fetch(sel)?;
        let t1 = Instant::now();
        self.state.record_ends(&fetched);
        let deadline = Instant::now() + self.state.settings.peek_budget;
        for (iso, reqs) in self.state.peek_requests(&fetched) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.client.peek(iso, &reqs, left) {
                Ok(found) => self.state.absorb(iso, &reqs, &found),
                Err(e) => tracing::warn!(error = %e, "lag record reads failed"),
            }
        }
        let t2 = Instant::now();
        let taken_at_ms = fetched.taken_at_ms;
        let missing = fetched.missing.clone();
        let groups = self.state.compute(fetched);
        let t3 = Instant::now();
        Ok(LagReport {
            taken_at_ms,
            partitions: groups.iter().map(|g| g.partitions.len()).sum(),
            groups,
            missing,
            timings: Timings {
                network_seconds: (t1 - t0).as_secs_f64(),
                peek_seconds: (t2 - t1).as_secs_f64(),
                model_seconds: (t3 - t2).as_secs_f64(),
                total_seconds: (t3 - t0).as_secs_f64(),
            },
        })
    }
}

/// A group's partitions: those it committed on and those assigned to a
/// member (on topics that exist), with the member's index as owner.
fn group_partitions(
    desc: &GroupDescription,
    committed: HashMap<TopicPartition, i64>,
    topics: &BTreeMap<String, Vec<i32>>,
) -> BTreeMap<TopicPartition, FetchedPartition> {
    let blank = |tp: &TopicPartition| FetchedPartition {
        offsets: PartitionOffsets {
            topic: tp.topic.clone(),
            partition: tp.partition,
            ..Default::default()
        },
        owner: None,
    };
    let mut parts: BTreeMap<TopicPartition, FetchedPartition> = BTreeMap::new();
    for (tp, off) in committed {
        let e = parts.entry(tp.clone()).or_insert_with(|| blank(&tp));
        e.offsets.committed = Some(off);
    }
    for (i, m) in desc.members.iter().enumerate() {
        for tp in &m.assignment {
            if topics
                .get(&tp.topic)
                .is_some_and(|ps| ps.contains(&tp.partition))
            {
                parts.entry(tp.clone()).or_insert_with(|| blank(tp)).owner = Some(i);
            }
        }
    }
    parts
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
    /// librdkafka clients held after the last cycle (each has threads and
    /// sockets of its own): flat across broker restarts.
    pub clients: usize,
}

#[derive(Default)]
struct State {
    report: Option<Arc<LagReport>>,
    at: Option<Instant>,
    success: bool,
    duration: Option<Duration>,
    error: Option<String>,
    clients: usize,
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
        lock(&self.shared.selection, "lag selection")
            .groups
            .extend(groups);
    }

    /// Measure `group` as a `read_committed` (exactly-once) or plain group.
    pub fn set_isolation(&self, group: &str, isolation: Isolation) {
        lock(&self.shared.isolation, "lag isolation").insert(group.to_string(), isolation);
    }

    /// Ask for a cycle now instead of at the next interval.
    pub fn refresh(&self) {
        let _ = self.tx.send(Msg::Refresh);
    }

    pub fn latest(&self) -> MonitorSnapshot {
        let s = read(&self.shared.state, "lag state");
        MonitorSnapshot {
            report: s.report.clone(),
            age: s.at.map(|a| a.elapsed()),
            success: s.success,
            duration: s.duration,
            error: s.error.clone(),
            clients: s.clients,
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
        let sel = lock(&shared.selection, "lag selection").clone();
        let iso = lock(&shared.isolation, "lag isolation").clone();
        // Either the collector exists or creating it failed just now.
        let result = match (create_error, collector.as_mut()) {
            (Some(e), _) => Err(e),
            (None, Some(c)) => {
                c.settings_mut().isolation = iso;
                c.cycle(&sel)
            }
            (None, None) => continue,
        };
        let took = started.elapsed();
        {
            let mut s = write(&shared.state, "lag state");
            s.duration = Some(took);
            s.clients = collector.as_ref().map_or(0, Collector::clients);
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
