//! Offsets from the brokers with rdkafka: topic metadata, a group's committed
//! offsets (OffsetFetch, without joining the group), log start / end / last
//! stable offsets (ListOffsets, batched per broker), and short record peeks
//! (first record timestamp, records left in a small range). Blocking calls:
//! run them on a dedicated thread or `spawn_blocking`, never on async workers.
//!
//! Batching: ListOffsets goes out once per broker for every partition of a
//! cycle (`offsets_for_times` with the special timestamps -2 earliest and -1
//! latest; the read_committed client's "latest" is the last stable offset).
//! Committed offsets go through `wire` (many groups per OffsetFetch over a
//! few shared connections) whenever the connection is plaintext; with TLS or
//! SASL settings (which that path does not speak), with brokers older than
//! Kafka 3.0 (no batched FindCoordinator / OffsetFetch), or when asked
//! (`CollectorSettings::client_per_group`), they fall back to librdkafka:
//! one request per group, because librdkafka binds a client to one
//! `group.id` and rdkafka's safe API has no ListConsumerGroupOffsets.
//! Creating that client (connect, FindCoordinator) costs far more than the
//! request, so the clients of up to 256 groups are kept between cycles
//! (`KSBRIDGE_LAG_CACHED_GROUP_CLIENTS`; a few librdkafka threads each), and
//! groups are fetched on 32 threads in parallel (`KSBRIDGE_LAG_PARALLELISM`):
//! the work is latency-bound, not CPU-bound.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, DefaultConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::model::{Isolation, LogOffsets, PeekRequest, PeekResult, TopicPartition};
use super::wire::WireClient;
use super::LagError;
use crate::sync::lock;

/// Committed offsets of one group (absent: no commit on that partition).
pub type Committed = Result<HashMap<TopicPartition, i64>, LagError>;

/// Cluster metadata: partitions of every topic (internal `__` topics left
/// out) and the brokers' addresses (host:port).
pub struct Metadata {
    pub topics: BTreeMap<String, Vec<i32>>,
    pub brokers: Vec<String>,
}

/// The Kafka clients of a lag source.
pub struct OffsetClient {
    base: ClientConfig,
    /// The shared-connection path for committed offsets; `None` where it
    /// does not apply (TLS, SASL, switched off, brokers too old).
    wire: Mutex<Option<WireClient>>,
    timeout: Duration,
    uncommitted: BaseConsumer,
    committed: BaseConsumer,
    group_clients: Mutex<HashMap<String, BaseConsumer>>,
    cached_group_clients: usize,
    /// One reading client per isolation level, created on first use.
    peekers: Mutex<HashMap<Isolation, BaseConsumer<PeekContext>>>,
    parallelism: usize,
}

fn client(base: &ClientConfig, extra: &[(&str, &str)]) -> Result<BaseConsumer, LagError> {
    client_with(base, extra, DefaultConsumerContext)
}

fn client_with<C: ConsumerContext>(
    base: &ClientConfig,
    extra: &[(&str, &str)],
    context: C,
) -> Result<BaseConsumer<C>, LagError> {
    let mut c = base.clone();
    c.set("enable.auto.commit", "false");
    c.set("enable.auto.offset.store", "false");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.create_with_context(context)
        .map_err(|e| LagError::Client { source: e })
}

/// The record peeker's context: the end of a partition is an answer there
/// (`enable.partition.eof`), which rust-rdkafka also hands to the context's
/// error callback; the default one logged each as an ERROR line ("Global
/// error: PartitionEOF"), thousands per cycle on a large cluster. Other
/// errors are logged as the default does.
struct PeekContext;

impl rdkafka::ClientContext for PeekContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::PartitionEOF) {
            return;
        }
        tracing::error!(%error, reason, "librdkafka error (record peek)");
    }
}

impl ConsumerContext for PeekContext {}

/// Whether the settings leave the connection plaintext without SASL (the
/// only kind the shared-connection path speaks).
fn speaks_plaintext(c: &ClientConfig) -> bool {
    match c.get("security.protocol") {
        None => true,
        Some(p) => p.eq_ignore_ascii_case("plaintext"),
    }
}

/// A tuning knob from the environment (benchmarks), or its default.
fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v| *v > 0)
        .unwrap_or(default)
}

impl OffsetClient {
    /// `base` carries `bootstrap.servers` and any security settings.
    pub fn new(base: ClientConfig, timeout: Duration) -> Result<Self, LagError> {
        let uncommitted = client(&base, &[("isolation.level", "read_uncommitted")])?;
        let committed = client(&base, &[("isolation.level", "read_committed")])?;
        let wire = if speaks_plaintext(&base) {
            WireClient::new(timeout)
                .map_err(|e| tracing::warn!(error = %e, "no shared-connection offset client"))
                .ok()
        } else {
            None
        };
        Ok(OffsetClient {
            base,
            wire: Mutex::new(wire),
            timeout,
            uncommitted,
            committed,
            group_clients: Mutex::new(HashMap::new()),
            cached_group_clients: env_usize("KSBRIDGE_LAG_CACHED_GROUP_CLIENTS", 256),
            peekers: Mutex::new(HashMap::new()),
            parallelism: env_usize("KSBRIDGE_LAG_PARALLELISM", 32),
        })
    }

    /// Override the kept-clients and parallelism defaults.
    pub fn tuned(
        mut self,
        cached_group_clients: Option<usize>,
        parallelism: Option<usize>,
    ) -> Self {
        if let Some(n) = cached_group_clients {
            self.cached_group_clients = n;
        }
        if let Some(n) = parallelism.filter(|n| *n > 0) {
            self.parallelism = n;
        }
        self
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How many librdkafka clients this holds now (each has its own
    /// threads and sockets): the two base clients, the kept per-group
    /// clients and the record peekers.
    pub fn clients(&self) -> usize {
        2 + lock(&self.group_clients, "lag group clients").len()
            + lock(&self.peekers, "lag peekers").len()
    }

    /// The client used for metadata and group listing.
    pub fn admin(&self) -> &BaseConsumer {
        &self.uncommitted
    }

    /// Fetch committed offsets with one librdkafka client per group only,
    /// never over shared connections (the fallback path, as a baseline).
    pub fn client_per_group(self, yes: bool) -> Self {
        if yes {
            *lock(&self.wire, "lag wire client") = None;
        }
        self
    }

    /// Partitions of every topic, internal `__` topics left out.
    pub fn topics(&self) -> Result<BTreeMap<String, Vec<i32>>, LagError> {
        Ok(self.metadata()?.topics)
    }

    /// Topics with their partitions, and the brokers.
    pub fn metadata(&self) -> Result<Metadata, LagError> {
        let md = self
            .uncommitted
            .fetch_metadata(None, self.timeout)
            .map_err(|e| LagError::Metadata { source: e })?;
        let brokers = md
            .brokers()
            .iter()
            .map(|b| format!("{}:{}", b.host(), b.port()))
            .collect();
        let topics = md
            .topics()
            .iter()
            .filter(|t| !t.name().starts_with("__") && t.error().is_none())
            .map(|t| {
                let mut ps: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
                ps.sort_unstable();
                (t.name().to_string(), ps)
            })
            .collect();
        Ok(Metadata { topics, brokers })
    }

    /// Committed offsets of every partition each group committed on, over
    /// shared connections; `None` when that path does not apply here (then
    /// use [`OffsetClient::committed_many`]). Blocking.
    pub fn committed_shared(
        &self,
        brokers: &[String],
        groups: &[String],
    ) -> Option<Vec<(String, Committed)>> {
        let mut wire = lock(&self.wire, "lag wire client");
        let client = wire.as_ref()?;
        match client.committed_many(brokers, groups) {
            Ok(v) => {
                // Clients kept by a one-cycle fallback (a failure of the
                // shared path) are not needed while the shared path answers.
                lock(&self.group_clients, "lag group clients").clear();
                Some(
                    v.into_iter()
                        .map(|(g, r)| {
                            let r = r.map_err(|source| LagError::CommittedShared {
                                group: g.clone(),
                                source,
                            });
                            (g, r)
                        })
                        .collect(),
                )
            }
            Err(e) if e.is_unsupported() => {
                tracing::info!(error = %e, "committed offsets: one client per group from now on");
                *wire = None;
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "committed offsets over shared connections failed; one client per group this cycle");
                client.reset();
                None
            }
        }
    }

    /// Committed offsets of `group` on `tps` (absent: no commit there).
    pub fn committed_offsets(
        &self,
        group: &str,
        tps: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>, LagError> {
        let mut tpl = TopicPartitionList::with_capacity(tps.len());
        for tp in tps {
            tpl.add_partition(&tp.topic, tp.partition);
        }
        let cached = lock(&self.group_clients, "lag group clients").remove(group);
        let consumer = match cached {
            Some(c) => c,
            None => client(&self.base, &[("group.id", group)])?,
        };
        let res = consumer.committed_offsets(tpl, self.timeout);
        if res.is_ok() {
            let mut cache = lock(&self.group_clients, "lag group clients");
            if cache.len() < self.cached_group_clients {
                cache.insert(group.to_string(), consumer);
            }
        }
        let tpl = res.map_err(|e| LagError::Committed {
            group: group.to_string(),
            source: e,
        })?;
        let mut out = HashMap::new();
        for e in tpl.elements() {
            if let (Ok(()), Offset::Offset(o)) = (e.error(), e.offset()) {
                out.insert(TopicPartition::new(e.topic(), e.partition()), o);
            }
        }
        Ok(out)
    }

    /// Committed offsets of many groups, fetched in parallel.
    pub fn committed_many(
        &self,
        groups: &[(String, Vec<TopicPartition>)],
    ) -> Vec<(String, Committed)> {
        // Drop the kept clients of groups no longer asked for (deleted, deselected).
        {
            let asked: std::collections::HashSet<&str> =
                groups.iter().map(|(g, _)| g.as_str()).collect();
            lock(&self.group_clients, "lag group clients")
                .retain(|g, _| asked.contains(g.as_str()));
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results: Mutex<Vec<(usize, String, Committed)>> =
            Mutex::new(Vec::with_capacity(groups.len()));
        let workers = self.parallelism.min(groups.len()).max(1);
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((g, tps)) = groups.get(i) else { break };
                    let r = self.committed_offsets(g, tps);
                    lock(&results, "lag results").push((i, g.clone(), r));
                });
            }
        });
        let mut v = results.into_inner().unwrap_or_else(|e| e.into_inner());
        v.sort_by_key(|x| x.0);
        v.into_iter().map(|(_, g, r)| (g, r)).collect()
    }

    /// Log start, end (high watermark) and last stable offsets of `tps`, in
    /// three batched ListOffsets rounds.
    pub fn log_offsets(
        &self,
        tps: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, LogOffsets>, LagError> {
        let mut out: HashMap<TopicPartition, LogOffsets> = HashMap::with_capacity(tps.len());
        if tps.is_empty() {
            return Ok(out);
        }
        // "Timestamps" -2 and -1 ask for the earliest and latest offsets.
        let rounds: [(&BaseConsumer, Offset, u8); 3] = [
            (&self.uncommitted, Offset::Beginning, 0),
            (&self.uncommitted, Offset::End, 1),
            (&self.committed, Offset::End, 2),
        ];
        for (c, ts, slot) in rounds {
            let mut tpl = TopicPartitionList::with_capacity(tps.len());
            for tp in tps {
                tpl.add_partition_offset(&tp.topic, tp.partition, ts)
                    .map_err(|e| LagError::ListOffsets { source: e })?;
            }
            let tpl = c
                .offsets_for_times(tpl, self.timeout)
                .map_err(|e| LagError::ListOffsets { source: e })?;
            for e in tpl.elements() {
                let v = match (e.error(), e.offset()) {
                    (Ok(()), Offset::Offset(o)) => Some(o),
                    _ => None,
                };
                let lo = out
                    .entry(TopicPartition::new(e.topic(), e.partition()))
                    .or_default();
                match slot {
                    0 => lo.start = v,
                    1 => lo.end = v,
                    _ => lo.stable = v,
                }
            }
        }
        Ok(out)
    }

    /// Read the ranges in `reqs` with `isolation`, within `budget`. Partitions
    /// not finished in time are absent or partial (`records: None`).
    pub fn peek(
        &self,
        isolation: Isolation,
        reqs: &[PeekRequest],
        budget: Duration,
    ) -> Result<HashMap<TopicPartition, PeekResult>, LagError> {
        if reqs.is_empty() {
            return Ok(HashMap::new());
        }
        let cached = lock(&self.peekers, "lag peek clients").remove(&isolation);
        let consumer = match cached {
            Some(c) => c,
            None => {
                let level = match isolation {
                    Isolation::ReadCommitted => "read_committed",
                    Isolation::ReadUncommitted => "read_uncommitted",
                };
                client_with(
                    &self.base,
                    &[
                        ("isolation.level", level),
                        ("enable.partition.eof", "true"),
                        ("max.partition.fetch.bytes", "65536"),
                        ("fetch.wait.max.ms", "5"),
                        // librdkafka's consumer wants a group.id even for
                        // assign(); this one never joins and never commits.
                        ("group.id", "ksbridge-lag-peek"),
                    ],
                    PeekContext,
                )?
            }
        };
        let out = self.peek_with(&consumer, reqs, budget);
        let _ = consumer.unassign();
        // Drain what the last assignment left queued.
        while consumer.poll(Duration::ZERO).is_some() {}
        {
            let mut m = lock(&self.peekers, "lag peek clients");
            m.insert(isolation, consumer);
        }
        out
    }

    // Long on purpose: one poll loop under one budget, whose per-partition
    // state would otherwise be threaded through several functions.
    fn peek_with(
        &self,
        consumer: &BaseConsumer<PeekContext>,
        reqs: &[PeekRequest],
        budget: Duration,
    ) -> Result<HashMap<TopicPartition, PeekResult>, LagError> {
        let mut out = HashMap::new();
        let deadline = Instant::now() + budget;
        // PartitionEOF carries only the partition: read one topic at a time.
        let mut by_topic: BTreeMap<&str, Vec<&PeekRequest>> = BTreeMap::new();
        for r in reqs {
            by_topic.entry(r.tp.topic.as_str()).or_default().push(r);
        }
        for (topic, rs) in by_topic {
            if Instant::now() >= deadline {
                break;
            }
            let mut tpl = TopicPartitionList::new();
            let mut state: HashMap<i32, (&PeekRequest, PeekResult, bool)> = HashMap::new();
            for r in rs {
                tpl.add_partition_offset(topic, r.tp.partition, Offset::Offset(r.from))
                    .map_err(|e| LagError::Peek { source: e })?;
                state.insert(r.tp.partition, (r, PeekResult::default(), false));
            }
            consumer
                .assign(&tpl)
                .map_err(|e| LagError::Peek { source: e })?;
            let mut pending = state.len();
            while pending > 0 {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                let Some(ev) = consumer.poll(deadline - now) else {
                    continue;
                };
                match ev {
                    Ok(m) => {
                        let Some((req, res, done)) = state.get_mut(&m.partition()) else {
                            continue;
                        };
                        if *done || m.topic() != topic {
                            continue;
                        }
                        if res.first.is_none() {
                            res.first = Some((m.offset(), m.timestamp().to_millis().unwrap_or(-1)));
                        }
                        if m.offset() >= req.to || !req.count {
                            if req.count {
                                res.records = Some(res.records.unwrap_or(0));
                            }
                            *done = true;
                            pending -= 1;
                        } else {
                            res.records = Some(res.records.unwrap_or(0) + 1);
                        }
                    }
                    Err(KafkaError::PartitionEOF(p)) => {
                        if let Some((req, res, done)) = state.get_mut(&p) {
                            if !*done {
                                if req.count {
                                    res.records = Some(res.records.unwrap_or(0));
                                }
                                *done = true;
                                pending -= 1;
                            }
                        }
                    }
                    Err(e) => {
                        tracing::debug!(topic, error = %e, "peek fetch error");
                    }
                }
            }
            // Leave nothing of this topic queued (an EOF carries no topic name).
            let _ = consumer.unassign();
            while consumer.poll(Duration::ZERO).is_some() {}
            for (p, (req, mut res, done)) in state {
                if !done && req.count {
                    res.records = None;
                }
                if res.first.is_some() || res.records.is_some() {
                    out.insert(TopicPartition::new(topic, p), res);
                }
            }
        }
        Ok(out)
    }
}
