//! Threshold-free status and trend of a partition's lag over a sliding window
//! of observations: `&[Observation]` in, `(Status, Trend)` out; the
//! `StatusTracker` keeps the windows between refresh cycles. No I/O.
//!
//! Rules, checked in this order for the newest observation:
//! 1. `ERR`: the offsets of this partition (or of its group) could not be read.
//! 2. `OK`: no committed offset (no lag value to judge).
//! 3. `REWIND`: the committed offset went backwards anywhere in the window.
//! 4. `OK`: lag is 0 now.
//! 5. `STOP`: lag > 0, the committed offset did not move across the window,
//!    and no live member of the group owns the partition (group empty or
//!    partition unassigned): nobody is there to commit.
//! 6. `STALL`: lag > 0, the committed offset did not move across a full
//!    window, and a live member owns the partition: a consumer is there but
//!    stuck.
//! 7. `WARN`: over a full window the lag never decreased and grew overall.
//! 8. `OK` otherwise.
//!
//! How this differs from Burrow (which evaluates the last N commits):
//! - Burrow tells STOP from STALL by commit timestamps (commits stopped vs
//!   commits repeating the same offset). The brokers' OffsetFetch carries no
//!   commit time, so here the group membership decides instead: no owner ->
//!   STOP at once (no need to wait a full window: an empty group with lag
//!   cannot catch up), an owner that does not advance over a full window ->
//!   STALL.
//! - Burrow's first rule makes a partition OK if *any* lag in the window was
//!   0, which hides a consumer that was caught up and has since stopped;
//!   here only the current lag counts.
//! - Lag is the EOS-correct record count (`model`), so a caught-up
//!   exactly-once app is not a permanent lag-1 partition that never
//!   "decreases" and drifts into WARN.
//! - WARN needs the lag to have grown overall, not just to have stayed flat
//!   (a steady, small lag under continuous load is OK).
//! - A trend (least-squares slope of the lag over the window, records/s) and
//!   the time to reach zero when catching up come with every status.
//! - The window is counted in observations made at a fixed interval, so a
//!   consumer that commits rarely is judged over the same time span as one
//!   that commits often.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

/// Status of a partition or group. Ordered by severity: the group takes its
/// worst partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    #[default]
    Ok,
    Warn,
    Stall,
    Stop,
    Rewind,
    Err,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Ok,
        Status::Warn,
        Status::Stall,
        Status::Stop,
        Status::Rewind,
        Status::Err,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Stall => "STALL",
            Status::Stop => "STOP",
            Status::Rewind => "REWIND",
            Status::Err => "ERR",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One refresh cycle's view of a partition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub at_ms: i64,
    pub committed: Option<i64>,
    pub lag: Option<i64>,
    /// A live member of the group has this partition in its assignment.
    pub owned: bool,
    pub error: bool,
}

/// Direction of the lag over the window.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Trend {
    /// Least-squares slope of the lag, records per second (negative: catching up).
    pub records_per_second: Option<f64>,
    /// When catching up: seconds until the lag reaches 0 at this slope.
    pub seconds_to_zero: Option<f64>,
}

impl Trend {
    /// Sum of partition trends, with the time to zero of the summed lag.
    pub fn combine<I: IntoIterator<Item = Trend>>(trends: I, lag: Option<i64>) -> Trend {
        let slope = trends
            .into_iter()
            .filter_map(|t| t.records_per_second)
            .fold(None, |a: Option<f64>, s| Some(a.unwrap_or(0.0) + s));
        Trend {
            records_per_second: slope,
            seconds_to_zero: eta(lag, slope),
        }
    }
}

fn eta(lag: Option<i64>, slope: Option<f64>) -> Option<f64> {
    match (lag, slope) {
        (Some(l), Some(s)) if l > 0 && s < 0.0 => Some(l as f64 / -s),
        _ => None,
    }
}

/// Least-squares slope of lag over time in records/s; `None` with fewer
/// than two points or no time between them.
pub fn slope(window: &[Observation]) -> Option<f64> {
    let pts: Vec<(f64, f64)> = window
        .iter()
        .filter_map(|o| o.lag.map(|l| (o.at_ms as f64 / 1000.0, l as f64)))
        .collect();
    if pts.len() < 2 {
        return None;
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    Some(sxy / sxx)
}

/// Status and trend of the newest observation in `window` (oldest first);
/// `full` is the number of observations that make a full window.
pub fn evaluate(window: &[Observation], full: usize) -> (Status, Trend) {
    let Some(cur) = window.last() else {
        return (Status::Ok, Trend::default());
    };
    let s = slope(window);
    let trend = Trend {
        records_per_second: s,
        seconds_to_zero: eta(cur.lag, s),
    };
    (status(window, full.max(2)), trend)
}

fn status(window: &[Observation], full: usize) -> Status {
    let Some(cur) = window.last() else {
        return Status::Ok;
    };
    if cur.error {
        return Status::Err;
    }
    let Some(lag) = cur.lag else {
        return Status::Ok;
    };
    let committed: Vec<i64> = window.iter().filter_map(|o| o.committed).collect();
    if committed.windows(2).any(|w| w[1] < w[0]) {
        return Status::Rewind;
    }
    if lag == 0 {
        return Status::Ok;
    }
    let unmoved = committed.windows(2).all(|w| w[1] == w[0]);
    if unmoved && !cur.owned {
        return Status::Stop;
    }
    let is_full = window.len() >= full;
    if unmoved && is_full {
        return Status::Stall;
    }
    if is_full {
        let lags: Vec<i64> = window.iter().filter_map(|o| o.lag).collect();
        let never_decreased = lags.windows(2).all(|w| w[1] >= w[0]);
        if never_decreased && lags.last() > lags.first() {
            return Status::Warn;
        }
    }
    Status::Ok
}

/// Key of a tracked partition.
pub type PartitionKey = (String, String, i32);

/// Keeps the last `window` observations of every partition seen.
#[derive(Debug)]
pub struct StatusTracker {
    window: usize,
    history: HashMap<PartitionKey, VecDeque<Observation>>,
}

impl StatusTracker {
    pub fn new(window: usize) -> Self {
        StatusTracker {
            window: window.max(2),
            history: HashMap::new(),
        }
    }

    pub fn window(&self) -> usize {
        self.window
    }

    /// Record an observation and evaluate the partition's window.
    pub fn observe(&mut self, key: &PartitionKey, obs: Observation) -> (Status, Trend) {
        let w = self.history.entry(key.clone()).or_default();
        // A new observation older than the newest (clock step) restarts the window.
        if w.back().is_some_and(|b| b.at_ms > obs.at_ms) {
            w.clear();
        }
        w.push_back(obs);
        while w.len() > self.window {
            w.pop_front();
        }
        let (slice_a, slice_b) = w.as_slices();
        let all: Vec<Observation> = slice_a.iter().chain(slice_b).copied().collect();
        evaluate(&all, self.window)
    }

    /// Forget partitions not seen in the last cycle (deleted groups or topics).
    pub fn retain(&mut self, seen: &std::collections::HashSet<PartitionKey>) {
        self.history.retain(|k, _| seen.contains(k));
    }

    pub fn len(&self) -> usize {
        self.history.len()
    }

    pub fn is_empty(&self) -> bool {
        self.history.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Observations one second apart: (committed, lag, owned).
    fn w(points: &[(Option<i64>, Option<i64>, bool)]) -> Vec<Observation> {
        points
            .iter()
            .enumerate()
            .map(|(i, &(committed, lag, owned))| Observation {
                at_ms: 1_000 * i as i64,
                committed,
                lag,
                owned,
                error: false,
            })
            .collect()
    }

    #[test]
    fn err_wins() {
        let mut x = w(&[(Some(1), Some(5), true), (Some(0), Some(6), true)]);
        x[1].error = true;
        assert_eq!(evaluate(&x, 3).0, Status::Err);
    }

    #[test]
    fn no_commit_is_ok_without_value() {
        assert_eq!(evaluate(&w(&[(None, None, true)]), 3).0, Status::Ok);
    }

    #[test]
    fn rewind_when_committed_goes_back() {
        let x = w(&[(Some(10), Some(0), true), (Some(0), Some(10), true)]);
        assert_eq!(evaluate(&x, 5).0, Status::Rewind);
        // Even once caught up again, while the rewind is in the window.
        let x = w(&[
            (Some(10), Some(0), true),
            (Some(0), Some(10), true),
            (Some(10), Some(0), true),
        ]);
        assert_eq!(evaluate(&x, 5).0, Status::Rewind);
    }

    #[test]
    fn zero_lag_is_ok() {
        let x = w(&[(Some(10), Some(0), false), (Some(10), Some(0), false)]);
        assert_eq!(evaluate(&x, 2).0, Status::Ok);
    }

    #[test]
    fn unowned_with_lag_is_stop_at_once() {
        assert_eq!(
            evaluate(&w(&[(Some(10), Some(5), false)]), 5).0,
            Status::Stop
        );
        let x = w(&[(Some(10), Some(5), false), (Some(10), Some(8), false)]);
        assert_eq!(evaluate(&x, 5).0, Status::Stop);
    }

    #[test]
    fn unowned_but_moving_is_not_stop() {
        // The last commit of a closing consumer: the offset moved in the window.
        let x = w(&[(Some(5), Some(10), true), (Some(10), Some(5), false)]);
        assert_eq!(evaluate(&x, 5).0, Status::Ok);
    }

    #[test]
    fn owned_and_unmoved_over_full_window_is_stall() {
        let x = w(&[
            (Some(10), Some(5), true),
            (Some(10), Some(6), true),
            (Some(10), Some(7), true),
        ]);
        assert_eq!(evaluate(&x, 3).0, Status::Stall);
        // Not before the window is full.
        assert_eq!(evaluate(&x[..2], 3).0, Status::Ok);
    }

    #[test]
    fn growing_lag_over_full_window_is_warn() {
        let x = w(&[
            (Some(10), Some(5), true),
            (Some(12), Some(5), true),
            (Some(14), Some(9), true),
        ]);
        assert_eq!(evaluate(&x, 3).0, Status::Warn);
    }

    #[test]
    fn flat_lag_is_ok_and_any_decrease_is_ok() {
        let flat = w(&[
            (Some(10), Some(5), true),
            (Some(15), Some(5), true),
            (Some(20), Some(5), true),
        ]);
        assert_eq!(evaluate(&flat, 3).0, Status::Ok);
        let dip = w(&[
            (Some(10), Some(5), true),
            (Some(15), Some(4), true),
            (Some(20), Some(9), true),
        ]);
        assert_eq!(evaluate(&dip, 3).0, Status::Ok);
    }

    #[test]
    fn trend_slope_and_time_to_zero() {
        // Lag 100, 80, 60 one second apart: -20 records/s, 3 s to zero.
        let x = w(&[
            (Some(0), Some(100), true),
            (Some(20), Some(80), true),
            (Some(40), Some(60), true),
        ]);
        let (_, t) = evaluate(&x, 3);
        assert!((t.records_per_second.unwrap() + 20.0).abs() < 1e-9);
        assert!((t.seconds_to_zero.unwrap() - 3.0).abs() < 1e-9);
        // Growing: no time to zero.
        let x = w(&[(Some(0), Some(10), true), (Some(0), Some(30), true)]);
        let (_, t) = evaluate(&x, 3);
        assert!((t.records_per_second.unwrap() - 20.0).abs() < 1e-9);
        assert_eq!(t.seconds_to_zero, None);
        // One point: no slope.
        assert_eq!(evaluate(&x[..1], 3).1, Trend::default());
    }

    #[test]
    fn group_trend_combines_partitions() {
        let t = Trend::combine(
            [
                Trend {
                    records_per_second: Some(-5.0),
                    seconds_to_zero: None,
                },
                Trend::default(),
                Trend {
                    records_per_second: Some(-5.0),
                    seconds_to_zero: None,
                },
            ],
            Some(100),
        );
        assert_eq!(t.records_per_second, Some(-10.0));
        assert_eq!(t.seconds_to_zero, Some(10.0));
    }

    #[test]
    fn severity_order_for_groups() {
        let worst = [Status::Ok, Status::Stall, Status::Warn].into_iter().max();
        assert_eq!(worst, Some(Status::Stall));
        assert!(Status::Err > Status::Rewind && Status::Rewind > Status::Stop);
    }

    #[test]
    fn tracker_slides_and_forgets() {
        let mut t = StatusTracker::new(3);
        let key: PartitionKey = ("g".into(), "t".into(), 0);
        for i in 0..5 {
            let (s, _) = t.observe(
                &key,
                Observation {
                    at_ms: i * 1000,
                    committed: Some(7),
                    lag: Some(3),
                    owned: true,
                    error: false,
                },
            );
            let want = if i >= 2 { Status::Stall } else { Status::Ok };
            assert_eq!(s, want, "observation {i}");
        }
        // A commit moves: the window still holds two unmoved points but it moved.
        let (s, _) = t.observe(
            &key,
            Observation {
                at_ms: 6000,
                committed: Some(9),
                lag: Some(1),
                owned: true,
                error: false,
            },
        );
        assert_eq!(s, Status::Ok);
        t.retain(&Default::default());
        assert!(t.is_empty());
    }
}
