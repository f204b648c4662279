//! The pure half of a lag refresh: `Fetched` (what the brokers said this
//! cycle) in, `LagReport` parts out. `LagState` keeps what lives between
//! cycles: status windows, log-end history for lag in seconds, and the
//! results of record reads (probe counts, record timestamps). No I/O, so the
//! benchmark can feed it recorded offsets.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde::Serialize;

use super::model::{
    self, GroupDescription, Isolation, MemberDescription, PartitionOffsets, PeekRequest,
    PeekResult, Probe, TopicPartition,
};
use super::seconds::{self, EndHistory};
use super::status::{Observation, PartitionKey, Status, StatusTracker, Trend};

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
    /// Groups whose OffsetFetch clients are kept between cycles (a few
    /// librdkafka threads and ~0.4 MiB each); `None`: 256 or
    /// `KSBRIDGE_LAG_CACHED_GROUP_CLIENTS`. Above this many groups every
    /// cycle pays for new clients (1,000 groups x 100 partitions: 0.7 s per
    /// cycle with all clients kept, 7 s with 256).
    pub cached_group_clients: Option<usize>,
    /// Groups fetched in parallel; `None`: 32 or `KSBRIDGE_LAG_PARALLELISM`.
    pub parallelism: Option<usize>,
    /// Fetch committed offsets with one librdkafka client per group even
    /// where shared connections work (the fallback path; a benchmark baseline).
    pub client_per_group: bool,
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
            cached_group_clients: None,
            parallelism: None,
            client_per_group: false,
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

/// One partition of one group as fetched.
#[derive(Debug, Clone)]
pub struct FetchedPartition {
    pub offsets: PartitionOffsets,
    /// Index into the group's `members` of the member that owns it.
    pub owner: Option<usize>,
}

/// One group as fetched: its description and partitions, or why the
/// offsets could not be read.
#[derive(Debug, Clone)]
pub struct FetchedGroup {
    pub desc: GroupDescription,
    pub partitions: Result<Vec<FetchedPartition>, String>,
}

/// Everything the brokers said in one cycle.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    pub taken_at_ms: i64,
    pub groups: Vec<FetchedGroup>,
    pub missing: Vec<String>,
}

/// State kept between cycles.
#[derive(Debug)]
pub struct LagState {
    pub settings: CollectorSettings,
    tracker: StatusTracker,
    history: HashMap<TopicPartition, EndHistory>,
    /// Record counts of `[from, to)` ranges, by (isolation, partition, from).
    probes: HashMap<ReadKey, Probe>,
    /// Timestamp of the first record at or after `from`, by the same key.
    timestamps: HashMap<ReadKey, i64>,
}

/// Reads are cached by isolation level, partition and start offset, so groups
/// at different positions of one partition each keep their own answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ReadKey {
    isolation: Isolation,
    tp: TopicPartition,
    /// The offset the read starts at.
    from: i64,
}

fn tp_of(p: &PartitionOffsets) -> TopicPartition {
    TopicPartition::new(p.topic.clone(), p.partition)
}

/// The offset of the next record a group reads: its committed offset, or
/// the log start when retention deleted that.
fn next_offset(p: &PartitionOffsets) -> i64 {
    p.committed.unwrap_or(0).max(p.start.unwrap_or(0))
}

impl LagState {
    pub fn new(settings: CollectorSettings) -> Self {
        LagState {
            tracker: StatusTracker::new(settings.window),
            settings,
            history: HashMap::new(),
            probes: HashMap::new(),
            timestamps: HashMap::new(),
        }
    }

    pub fn isolation(&self, group: &str) -> Isolation {
        self.settings
            .isolation
            .get(group)
            .copied()
            .unwrap_or(self.settings.default_isolation)
    }

    /// Add this cycle's log-end offsets to the per-partition history.
    pub fn record_ends(&mut self, f: &Fetched) {
        let mut seen: HashSet<TopicPartition> = HashSet::new();
        for g in &f.groups {
            let Ok(parts) = &g.partitions else { continue };
            for p in parts {
                let Some(end) = p.offsets.end else { continue };
                let tp = tp_of(&p.offsets);
                if seen.insert(tp.clone()) {
                    self.history
                        .entry(tp)
                        .or_default()
                        .record(f.taken_at_ms, end);
                }
            }
        }
        self.history.retain(|tp, _| seen.contains(tp));
    }

    /// Record reads this cycle needs: exact counts for small gaps not
    /// probed yet, first-record timestamps for lagging partitions the end
    /// history does not cover; at most `peek_max_partitions` in all. Grouped
    /// in rounds, each holding a partition at most once (one assignment).
    pub fn peek_requests(&self, f: &Fetched) -> Vec<(Isolation, Vec<PeekRequest>)> {
        let mut wanted: HashMap<(Isolation, TopicPartition), Vec<PeekRequest>> = HashMap::new();
        let mut budget = self.settings.peek_max_partitions;
        for g in &f.groups {
            let iso = self.isolation(&g.desc.group);
            let Ok(parts) = &g.partitions else { continue };
            for p in parts {
                if budget == 0 {
                    break;
                }
                let o = &p.offsets;
                let tp = tp_of(o);
                let from = next_offset(o);
                let key = ReadKey {
                    isolation: iso,
                    tp: tp.clone(),
                    from,
                };
                let range = model::probe_range(o, iso, self.settings.probe_max_gap);
                let need_count =
                    range.is_some_and(|(_, to)| self.probes.get(&key).map_or(true, |p| p.to != to));
                let lag = model::partition_lag(o, iso, None);
                let need_ts = lag.records.is_some_and(|l| l > 0)
                    && self
                        .history
                        .get(&tp)
                        .and_then(|h| h.appended_at(from))
                        .is_none()
                    && !self.timestamps.contains_key(&key);
                if !(need_count || need_ts) {
                    continue;
                }
                let to = range.map_or(lag.end_used.unwrap_or(from), |r| r.1);
                let list = wanted.entry((iso, tp.clone())).or_default();
                match list.iter_mut().find(|r| r.from == from) {
                    Some(r) => {
                        r.count |= need_count;
                        r.to = r.to.max(to);
                    }
                    None => {
                        list.push(PeekRequest {
                            tp,
                            from,
                            to,
                            count: need_count,
                        });
                        budget -= 1;
                    }
                }
            }
        }
        let mut rounds: Vec<(Isolation, Vec<PeekRequest>)> = Vec::new();
        for ((iso, _), list) in wanted {
            for (i, r) in list.into_iter().enumerate() {
                match rounds.iter_mut().filter(|(ri, _)| *ri == iso).nth(i) {
                    Some((_, v)) => v.push(r),
                    None => rounds.push((iso, vec![r])),
                }
            }
        }
        rounds
    }

    /// Keep what the record reads found.
    pub fn absorb(
        &mut self,
        iso: Isolation,
        reqs: &[PeekRequest],
        found: &HashMap<TopicPartition, PeekResult>,
    ) {
        for r in reqs {
            let Some(res) = found.get(&r.tp) else {
                continue;
            };
            let key = ReadKey {
                isolation: iso,
                tp: r.tp.clone(),
                from: r.from,
            };
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
                self.timestamps.insert(key, ts);
            }
        }
    }

    /// Lag, seconds, status and trend of every fetched group.
    pub fn compute(&mut self, f: Fetched) -> Vec<GroupLag> {
        let now = f.taken_at_ms;
        let mut groups = Vec::with_capacity(f.groups.len());
        let mut seen: HashSet<PartitionKey> = HashSet::new();
        let mut live: HashSet<ReadKey> = HashSet::new();
        for g in f.groups {
            let iso = self.isolation(&g.desc.group);
            let desc = g.desc;
            let mut out = GroupLag {
                group: desc.group.clone(),
                state: desc.state,
                protocol_type: desc.protocol_type,
                protocol: desc.protocol,
                isolation: iso,
                members: Vec::new(),
                partitions: Vec::new(),
                lag: None,
                lag_seconds: None,
                status: Status::Ok,
                trend: Trend::default(),
                error: None,
            };
            match g.partitions {
                Err(e) => {
                    out.status = Status::Err;
                    out.error = Some(e);
                }
                Ok(parts) => {
                    let group = out.group.clone();
                    out.partitions = parts
                        .into_iter()
                        .map(|p| {
                            let ctx = (&group, iso, now, &desc.members[..]);
                            self.partition(ctx, p, &mut seen, &mut live)
                        })
                        .collect();
                    summarize(&mut out);
                }
            }
            out.members = desc.members;
            groups.push(out);
        }
        self.tracker.retain(&seen);
        self.probes.retain(|k, _| live.contains(k));
        self.timestamps.retain(|k, _| live.contains(k));
        groups
    }

    /// One partition of a group: lag, seconds, status and trend; the keys it
    /// used are added to `seen` and `live` (what is not is forgotten).
    fn partition(
        &mut self,
        (group, iso, now, members): (&String, Isolation, i64, &[MemberDescription]),
        p: FetchedPartition,
        seen: &mut HashSet<PartitionKey>,
        live: &mut HashSet<ReadKey>,
    ) -> PartitionLag {
        let o = p.offsets;
        let from = next_offset(&o);
        let key = ReadKey {
            isolation: iso,
            tp: tp_of(&o),
            from,
        };
        let lag = model::partition_lag(&o, iso, self.probes.get(&key));
        let ts = self.timestamps.get(&key).copied();
        let secs = seconds::lag_seconds(lag.records, from, now, self.history.get(&key.tp), ts);
        live.insert(key);
        let pkey: PartitionKey = (group.clone(), o.topic.clone(), o.partition);
        let (status, trend) = self.tracker.observe(
            &pkey,
            Observation {
                at_ms: now,
                committed: o.committed,
                lag: lag.records,
                owned: p.owner.is_some(),
                error: o.end.is_none() && o.committed.is_some(),
            },
        );
        seen.insert(pkey);
        let owner: Option<&MemberDescription> = p.owner.and_then(|i| members.get(i));
        PartitionLag {
            topic: o.topic,
            partition: o.partition,
            committed: o.committed,
            start: o.start,
            end: o.end,
            stable: o.stable,
            lag: lag.records,
            offset_lag: lag.offsets_to_hw,
            truncated: lag.truncated,
            probed: lag.probed,
            lag_seconds: secs,
            status,
            trend,
            consumer_id: owner.map(|m| m.member_id.clone()),
            host: owner.map(|m| m.host.clone()),
            client_id: owner.map(|m| m.client_id.clone()),
        }
    }
}

/// A group's figures from its partitions: summed lag, worst seconds and
/// status, combined trend.
fn summarize(out: &mut GroupLag) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn group(name: &str, parts: &[(i64, i64, bool)]) -> FetchedGroup {
        // (committed, end, owned) on partitions 0.. of topic "t".
        FetchedGroup {
            desc: GroupDescription {
                group: name.into(),
                state: "Stable".into(),
                protocol_type: "consumer".into(),
                protocol: "range".into(),
                members: vec![MemberDescription {
                    member_id: "m-1".into(),
                    client_id: "c".into(),
                    host: "/127.0.0.1".into(),
                    assignment: vec![],
                }],
            },
            partitions: Ok(parts
                .iter()
                .enumerate()
                .map(|(i, &(c, e, owned))| FetchedPartition {
                    offsets: PartitionOffsets {
                        topic: "t".into(),
                        partition: i as i32,
                        committed: Some(c),
                        start: Some(0),
                        end: Some(e),
                        stable: Some(e),
                    },
                    owner: owned.then_some(0),
                })
                .collect()),
        }
    }

    fn fetched(at: i64, groups: Vec<FetchedGroup>) -> Fetched {
        Fetched {
            taken_at_ms: at,
            groups,
            missing: vec![],
        }
    }

    #[test]
    fn two_groups_on_one_partition_get_separate_reads() {
        let s = LagState::new(CollectorSettings::default());
        let f = fetched(
            0,
            vec![group("a", &[(10, 11, true)]), group("b", &[(5, 11, true)])],
        );
        let rounds = s.peek_requests(&f);
        assert_eq!(rounds.len(), 2, "{rounds:?}");
        assert!(rounds.iter().all(|(_, r)| r.len() == 1));
        let froms: BTreeSet<i64> = rounds.iter().map(|(_, r)| r[0].from).collect();
        assert_eq!(froms, BTreeSet::from([5, 10]));
    }

    #[test]
    fn probe_results_apply_to_their_own_group_and_are_cached() {
        let mut s = LagState::new(CollectorSettings::default());
        let f = fetched(
            0,
            vec![group("a", &[(10, 11, true)]), group("b", &[(5, 11, true)])],
        );
        for (iso, reqs) in s.peek_requests(&f) {
            let mut found = HashMap::new();
            for r in &reqs {
                // Offset 10 is a transaction marker: a holds 0 records, b 5.
                let records = if r.from == 10 { 0 } else { 5 };
                found.insert(
                    r.tp.clone(),
                    PeekResult {
                        first: Some((r.from, 1_000)),
                        records: Some(records),
                    },
                );
            }
            s.absorb(iso, &reqs, &found);
        }
        assert!(s.peek_requests(&f).is_empty(), "cached");
        let out = s.compute(f);
        assert_eq!(out[0].partitions[0].lag, Some(0));
        assert!(out[0].partitions[0].probed);
        assert_eq!(out[0].partitions[0].offset_lag, Some(1));
        // b: 6 offsets to go, of which 5 records (the marker at 10 is not one).
        assert_eq!(out[1].partitions[0].lag, Some(5));
        assert_eq!(out[1].partitions[0].offset_lag, Some(6));
        assert_eq!(
            out[1].partitions[0].lag_seconds,
            Some(0.0 - 1.0).map(|_| 0.0)
        );
        assert_eq!(out[0].partitions[0].consumer_id.as_deref(), Some("m-1"));
    }

    #[test]
    fn budget_limits_reads() {
        let s = LagState::new(CollectorSettings {
            peek_max_partitions: 1,
            ..CollectorSettings::default()
        });
        let f = fetched(0, vec![group("a", &[(1, 100, true), (1, 100, true)])]);
        let n: usize = s.peek_requests(&f).iter().map(|(_, r)| r.len()).sum();
        assert_eq!(n, 1);
    }

    #[test]
    fn status_and_sums_over_cycles() {
        let mut s = LagState::new(CollectorSettings {
            window: 3,
            ..CollectorSettings::default()
        });
        let mut last = Vec::new();
        for i in 0..3 {
            // Partition 0 stuck with a live owner, partition 1 caught up.
            let f = fetched(
                i * 1000,
                vec![group("a", &[(10, 50 + i, true), (7, 7, true)])],
            );
            last = s.compute(f);
        }
        let g = &last[0];
        assert_eq!(g.partitions[0].status, Status::Stall);
        assert_eq!(g.partitions[1].status, Status::Ok);
        assert_eq!(g.status, Status::Stall);
        assert_eq!(g.lag, Some(42));
        // End history: records 50.. were appended during the cycles.
        assert!(
            g.partitions[0].lag_seconds.is_none(),
            "offset 10 predates the history"
        );
        let t = g.trend.records_per_second.unwrap();
        assert!((t - 1.0).abs() < 1e-9, "{t}");
        // A group that vanishes leaves nothing behind.
        s.compute(fetched(5000, vec![]));
        assert!(s.tracker.is_empty());
    }
}
