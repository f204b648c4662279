//! Pure lag math: `PartitionOffsets` (+ an optional `Probe`) in, `Lag` per
//! partition and sums per topic and group out. No I/O.
//!
//! Rules:
//! - lag = end - committed, never negative;
//! - the end is the high watermark for `read_uncommitted` groups and the last
//!   stable offset for `read_committed` groups (every exactly-once Streams app);
//! - lag counts records, not offsets: when a [`Probe`] read the range
//!   `[committed, end)` with the group's isolation level and counted fewer
//!   records than offsets (transaction markers; aborted records under
//!   `read_committed`), the counted number is the lag. A caught-up
//!   exactly-once app therefore shows 0, where `kafka-consumer-groups` shows
//!   a permanent 1 (the commit marker) per partition;
//!   The monitor probes gaps of up to 16 offsets (`probe_range`), cached per
//!   (isolation, partition, committed offset); a larger gap is counted in
//!   offsets, overstated by at most the number of transaction markers (and,
//!   under `read_committed`, aborted records) inside it;
//! - no committed offset: no lag value (`None`), never 0;
//! - a committed offset below the log start offset (retention deleted the
//!   data) is flagged `truncated` and its lag counts from the log start.

use serde::Serialize;

/// A topic partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

/// A member of a group as DescribeGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberDescription {
    pub member_id: String,
    pub client_id: String,
    pub host: String,
    /// Partitions assigned to the member (consumer protocol only).
    pub assignment: Vec<TopicPartition>,
}

/// A consumer group as the group coordinator reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupDescription {
    pub group: String,
    /// `Stable`, `Empty`, `PreparingRebalance`, `CompletingRebalance`, `Dead`, ...
    pub state: String,
    /// `consumer` for consumers and Kafka Streams.
    pub protocol_type: String,
    /// The assignor (`range`, `cooperative-sticky`, `stream`, ...).
    pub protocol: String,
    pub members: Vec<MemberDescription>,
}

impl GroupDescription {
    /// The group does not exist (deleted, or never had members or offsets).
    pub fn is_dead(&self) -> bool {
        self.state.eq_ignore_ascii_case("Dead")
    }
}

/// Log offsets of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogOffsets {
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub stable: Option<i64>,
}

/// Read `[from, to)` of a partition: the first record's timestamp, and
/// (with `count`) how many records the range holds for this isolation level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeekRequest {
    pub tp: TopicPartition,
    pub from: i64,
    pub to: i64,
    pub count: bool,
}

/// What a peek found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeekResult {
    /// Offset and timestamp (ms) of the first record at or after `from`.
    pub first: Option<(i64, i64)>,
    /// Records in `[from, to)`, when counting finished within the deadline.
    pub records: Option<i64>,
}

/// Which records a group's consumers see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Kafka's default: reads up to the high watermark, aborted records included.
    #[default]
    ReadUncommitted,
    /// Reads committed data only, up to the last stable offset (exactly-once apps).
    ReadCommitted,
}

impl std::str::FromStr for Isolation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "read_uncommitted" => Ok(Isolation::ReadUncommitted),
            "read_committed" => Ok(Isolation::ReadCommitted),
            other => Err(format!(
                "unknown isolation level {other:?} (read_committed|read_uncommitted)"
            )),
        }
    }
}

/// What the brokers said about one partition of one group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PartitionOffsets {
    pub topic: String,
    pub partition: i32,
    /// The group's committed offset (the next record it will read), if any.
    pub committed: Option<i64>,
    /// Log start offset.
    pub start: Option<i64>,
    /// High watermark (log end offset).
    pub end: Option<i64>,
    /// Last stable offset (end for `read_committed` consumers).
    pub stable: Option<i64>,
}

/// The result of reading `[from, to)` with the group's isolation level:
/// `records` data records were found there (control markers never count,
/// aborted records count only under `read_uncommitted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub from: i64,
    pub to: i64,
    pub records: i64,
}

/// Lag of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Lag {
    /// Records still to read; `None` when the group has no committed offset
    /// there or the end offset is unknown.
    pub records: Option<i64>,
    /// `end - committed` the way `kafka-consumer-groups` prints it (high
    /// watermark, offsets, clamped at 0), for comparison.
    pub offsets_to_hw: Option<i64>,
    /// The end offset the lag is measured against (HW or LSO).
    pub end_used: Option<i64>,
    /// The committed offset is below the log start offset.
    pub truncated: bool,
    /// Lag was corrected by a probe (markers or aborted records skipped).
    pub probed: bool,
}

/// The end offset a group with `isolation` reads up to.
pub fn end_for(p: &PartitionOffsets, isolation: Isolation) -> Option<i64> {
    match isolation {
        Isolation::ReadUncommitted => p.end,
        // A broker that returned no LSO (older protocol) leaves the HW.
        Isolation::ReadCommitted => p.stable.or(p.end),
    }
}

/// The range a probe must read to count records exactly, when the lag in
/// offsets is small enough (`1..=max_gap`) to be worth a fetch.
pub fn probe_range(p: &PartitionOffsets, isolation: Isolation, max_gap: i64) -> Option<(i64, i64)> {
    let committed = p.committed?;
    let end = end_for(p, isolation)?;
    let from = committed.max(p.start.unwrap_or(committed));
    let gap = end - from;
    (gap > 0 && gap <= max_gap).then_some((from, end))
}

/// Lag of one partition (the rules are in the module doc).
pub fn partition_lag(p: &PartitionOffsets, isolation: Isolation, probe: Option<&Probe>) -> Lag {
    let end_used = end_for(p, isolation);
    let offsets_to_hw = match (p.committed, p.end) {
        (Some(c), Some(e)) => Some((e - c).max(0)),
        _ => None,
    };
    let Some(committed) = p.committed else {
        return Lag {
            records: None,
            offsets_to_hw,
            end_used,
            truncated: false,
            probed: false,
        };
    };
    let truncated = p.start.is_some_and(|s| committed < s);
    let from = if truncated {
        p.start.unwrap_or(committed)
    } else {
        committed
    };
    let mut records = end_used.map(|e| (e - from).max(0));
    let mut probed = false;
    if let (Some(r), Some(pr)) = (records, probe) {
        if pr.from == from && Some(pr.to) == end_used && pr.records < r {
            records = Some(pr.records.max(0));
            probed = true;
        }
    }
    Lag {
        records,
        offsets_to_hw,
        end_used,
        truncated,
        probed,
    }
}

/// Sum of the values that exist; `None` when none does.
pub fn sum_lag<I: IntoIterator<Item = Option<i64>>>(lags: I) -> Option<i64> {
    lags.into_iter().fold(None, |acc, l| match (acc, l) {
        (None, None) => None,
        (Some(a), None) => Some(a),
        (None, Some(b)) => Some(b),
        (Some(a), Some(b)) => Some(a.saturating_add(b)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(committed: Option<i64>, start: i64, end: i64, stable: i64) -> PartitionOffsets {
        PartitionOffsets {
            topic: "t".into(),
            partition: 0,
            committed,
            start: Some(start),
            end: Some(end),
            stable: Some(stable),
        }
    }

    #[test]
    fn lag_is_end_minus_committed() {
        let l = partition_lag(&p(Some(40), 0, 100, 100), Isolation::ReadUncommitted, None);
        assert_eq!(l.records, Some(60));
        assert_eq!(l.offsets_to_hw, Some(60));
        assert!(!l.truncated);
    }

    #[test]
    fn lag_never_negative() {
        // A committed offset past the end (end fetched before the commit landed).
        let l = partition_lag(&p(Some(105), 0, 100, 100), Isolation::ReadUncommitted, None);
        assert_eq!(l.records, Some(0));
        assert_eq!(l.offsets_to_hw, Some(0));
    }

    #[test]
    fn no_commit_no_value() {
        let l = partition_lag(&p(None, 0, 100, 100), Isolation::ReadUncommitted, None);
        assert_eq!(l.records, None);
        assert_eq!(l.offsets_to_hw, None);
    }

    #[test]
    fn unknown_end_no_value() {
        let mut x = p(Some(3), 0, 0, 0);
        x.end = None;
        x.stable = None;
        assert_eq!(
            partition_lag(&x, Isolation::ReadCommitted, None).records,
            None
        );
    }

    #[test]
    fn read_committed_uses_last_stable_offset() {
        // An open transaction holds the LSO at 90 while the HW is 100.
        let x = p(Some(80), 0, 100, 90);
        assert_eq!(
            partition_lag(&x, Isolation::ReadCommitted, None).records,
            Some(10)
        );
        assert_eq!(
            partition_lag(&x, Isolation::ReadUncommitted, None).records,
            Some(20)
        );
        assert_eq!(
            partition_lag(&x, Isolation::ReadCommitted, None).offsets_to_hw,
            Some(20)
        );
    }

    #[test]
    fn read_committed_without_lso_falls_back_to_hw() {
        let mut x = p(Some(80), 0, 100, 0);
        x.stable = None;
        assert_eq!(
            partition_lag(&x, Isolation::ReadCommitted, None).records,
            Some(20)
        );
    }

    #[test]
    fn caught_up_exactly_once_is_zero_not_one() {
        // Streams commits offset 10 (after its last record 9); offset 10 is the
        // commit marker, so HW = LSO = 11 and kafka-consumer-groups shows 1.
        let x = p(Some(10), 0, 11, 11);
        let probe = Probe {
            from: 10,
            to: 11,
            records: 0,
        };
        let l = partition_lag(&x, Isolation::ReadCommitted, Some(&probe));
        assert_eq!(l.records, Some(0));
        assert_eq!(l.offsets_to_hw, Some(1));
        assert!(l.probed);
        // Without the probe the offsets are all we know.
        assert_eq!(
            partition_lag(&x, Isolation::ReadCommitted, None).records,
            Some(1)
        );
    }

    #[test]
    fn markers_and_aborted_records_are_not_lag() {
        // 20 offsets to go, of which a probe found 12 real records.
        let x = p(Some(80), 0, 100, 100);
        let probe = Probe {
            from: 80,
            to: 100,
            records: 12,
        };
        let l = partition_lag(&x, Isolation::ReadCommitted, Some(&probe));
        assert_eq!(l.records, Some(12));
    }

    #[test]
    fn stale_probe_is_ignored() {
        // The probe was for an older range: never applied to a new one.
        let x = p(Some(80), 0, 100, 100);
        let probe = Probe {
            from: 79,
            to: 100,
            records: 0,
        };
        assert_eq!(
            partition_lag(&x, Isolation::ReadCommitted, Some(&probe)).records,
            Some(20)
        );
        let probe = Probe {
            from: 80,
            to: 99,
            records: 0,
        };
        assert_eq!(
            partition_lag(&x, Isolation::ReadCommitted, Some(&probe)).records,
            Some(20)
        );
    }

    #[test]
    fn probe_never_raises_lag() {
        let x = p(Some(80), 0, 100, 100);
        let probe = Probe {
            from: 80,
            to: 100,
            records: 50,
        };
        assert_eq!(
            partition_lag(&x, Isolation::ReadUncommitted, Some(&probe)).records,
            Some(20)
        );
    }

    #[test]
    fn committed_below_log_start_counts_from_log_start() {
        let l = partition_lag(&p(Some(10), 50, 100, 100), Isolation::ReadUncommitted, None);
        assert!(l.truncated);
        assert_eq!(l.records, Some(50));
        // The tool's view is offsets from the committed offset.
        assert_eq!(l.offsets_to_hw, Some(90));
    }

    #[test]
    fn probe_range_only_for_small_gaps() {
        assert_eq!(
            probe_range(&p(Some(10), 0, 11, 11), Isolation::ReadCommitted, 8),
            Some((10, 11))
        );
        assert_eq!(
            probe_range(&p(Some(10), 0, 30, 30), Isolation::ReadCommitted, 8),
            None
        );
        assert_eq!(
            probe_range(&p(Some(11), 0, 11, 11), Isolation::ReadCommitted, 8),
            None
        );
        assert_eq!(
            probe_range(&p(None, 0, 11, 11), Isolation::ReadCommitted, 8),
            None
        );
        // From the log start when truncated; up to the LSO under read_committed.
        assert_eq!(
            probe_range(&p(Some(1), 5, 12, 9), Isolation::ReadCommitted, 8),
            Some((5, 9))
        );
    }

    #[test]
    fn sums_skip_missing_values() {
        assert_eq!(sum_lag([Some(1), None, Some(4)]), Some(5));
        assert_eq!(sum_lag([None, None]), None);
        assert_eq!(sum_lag(std::iter::empty()), None);
    }

    #[test]
    fn isolation_parses() {
        assert_eq!("read_committed".parse(), Ok(Isolation::ReadCommitted));
        assert!("x".parse::<Isolation>().is_err());
    }
}
