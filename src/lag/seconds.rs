//! Lag in seconds: how long ago the oldest unread record of a partition was
//! written. `EndHistory` (observed log-end offsets over time) and a cached
//! record timestamp in, seconds out. No I/O: the timestamps come from
//! `offsets::OffsetClient::peek`, run by the refresh cycle, never by a scrape.
//!
//! Method, in order of preference:
//! 1. Interpolation over the partition's own history of log-end offsets (the
//!    kafka-lag-exporter method): every refresh records `(time, end)`. The
//!    record at offset `o` was appended between the last time the end was
//!    seen `<= o` and the first time it was seen `> o`; linear interpolation
//!    inside that interval estimates when. Costs no request. Error: at most
//!    one refresh interval (the width of that interval) when producers write
//!    steadily; less when they write faster than the interval.
//! 2. The timestamp of the record at the committed offset (read once per
//!    committed offset with a one-record fetch and cached), when the history
//!    does not reach back that far (fresh start, one-shot CLI). Error: the
//!    skew between the producer's clock (CreateTime) and ours, or exact under
//!    LogAppendTime.
//!
//! Idle producers: the estimate is about the unread record, not the latest
//! one. A consumer that stops while producers are idle keeps a fixed
//! "produced at" time, so its lag in seconds grows with the wall clock, as it
//! should; a consumer that is caught up has 0 seconds however old the last
//! record is. Lag 0 always means 0 seconds; no lag value means no seconds.

use std::collections::VecDeque;

/// Observed log-end offsets of one partition: one point per distinct end,
/// with the first and last time it was seen.
#[derive(Debug, Clone, Default)]
pub struct EndHistory {
    points: VecDeque<EndPoint>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EndPoint {
    end: i64,
    first_ms: i64,
    last_ms: i64,
}

/// Points kept per partition: at a 15 s interval with changes every time,
/// about 1 h of history, about 4 KiB.
pub const HISTORY_POINTS: usize = 240;

impl EndHistory {
    /// Record that the log end was `end` at `at_ms`.
    pub fn record(&mut self, at_ms: i64, end: i64) {
        match self.points.back_mut() {
            Some(p) if p.end == end => p.last_ms = p.last_ms.max(at_ms),
            // The log was truncated or recreated: the old points lie.
            Some(p) if end < p.end => {
                self.points.clear();
                self.push(at_ms, end);
            }
            _ => self.push(at_ms, end),
        }
    }

    fn push(&mut self, at_ms: i64, end: i64) {
        self.points.push_back(EndPoint {
            end,
            first_ms: at_ms,
            last_ms: at_ms,
        });
        while self.points.len() > HISTORY_POINTS {
            self.points.pop_front();
        }
    }

    /// Estimated time (ms) the record at `offset` was appended, or `None`
    /// when the history does not cover it (it was already there at the
    /// first observation, or it is not written yet).
    pub fn appended_at(&self, offset: i64) -> Option<i64> {
        let i = self.points.iter().position(|p| p.end > offset)?;
        if i == 0 {
            return None;
        }
        let before = self.points[i - 1];
        let after = self.points[i];
        // Appended in (before.last_ms, after.first_ms].
        let span = (after.first_ms - before.last_ms) as f64;
        let frac = (offset + 1 - before.end) as f64 / (after.end - before.end) as f64;
        Some(before.last_ms + (span * frac.clamp(0.0, 1.0)).round() as i64)
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

/// Lag in seconds of a partition whose next record to read is at `from`,
/// with `lag` records left, at `now_ms`. `record_ts` is the cached
/// timestamp of the first record at or after `from`, if one was read.
pub fn lag_seconds(
    lag: Option<i64>,
    from: i64,
    now_ms: i64,
    history: Option<&EndHistory>,
    record_ts: Option<i64>,
) -> Option<f64> {
    match lag? {
        l if l <= 0 => Some(0.0),
        _ => {
            let at = history
                .and_then(|h| h.appended_at(from))
                .or(record_ts.filter(|t| *t >= 0))?;
            Some(((now_ms - at) as f64 / 1000.0).max(0.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_lag_is_zero_seconds_and_no_lag_no_seconds() {
        assert_eq!(lag_seconds(Some(0), 5, 10_000, None, Some(1)), Some(0.0));
        assert_eq!(lag_seconds(None, 5, 10_000, None, Some(1)), None);
        assert_eq!(lag_seconds(Some(3), 5, 10_000, None, None), None);
    }

    #[test]
    fn record_timestamp_fallback() {
        assert_eq!(
            lag_seconds(Some(3), 5, 10_000, None, Some(4_000)),
            Some(6.0)
        );
        // Clock skew never yields negative seconds.
        assert_eq!(
            lag_seconds(Some(3), 5, 10_000, None, Some(12_000)),
            Some(0.0)
        );
    }

    #[test]
    fn interpolates_between_observations() {
        let mut h = EndHistory::default();
        h.record(0, 100);
        h.record(1_000, 100);
        h.record(2_000, 200); // 100 records appended in (1000, 2000]
        h.record(3_000, 200);
        // Offset 149 is the 50th of the 100: half-way.
        assert_eq!(h.appended_at(149), Some(1_500));
        assert_eq!(h.appended_at(199), Some(2_000));
        assert_eq!(h.appended_at(100), Some(1_010));
        // Not covered: written before the first observation, or not yet.
        assert_eq!(h.appended_at(50), None);
        assert_eq!(h.appended_at(99), None);
        assert_eq!(h.appended_at(200), None);
        assert_eq!(
            lag_seconds(Some(51), 149, 4_500, Some(&h), Some(0)),
            Some(3.0)
        );
        // History wins over the record timestamp; falls back when it cannot say.
        assert_eq!(
            lag_seconds(Some(1), 50, 4_500, Some(&h), Some(500)),
            Some(4.0)
        );
    }

    #[test]
    fn idle_producers_make_stuck_lag_grow() {
        let mut h = EndHistory::default();
        h.record(0, 10);
        h.record(1_000, 20);
        for t in 2..100 {
            h.record(t * 1_000, 20); // producers idle
        }
        let a = lag_seconds(Some(5), 15, 10_000, Some(&h), None).unwrap();
        let b = lag_seconds(Some(5), 15, 60_000, Some(&h), None).unwrap();
        assert!((b - a - 50.0).abs() < 1e-9, "{a} {b}");
    }

    #[test]
    fn truncated_log_resets_history() {
        let mut h = EndHistory::default();
        h.record(0, 10);
        h.record(1_000, 20);
        h.record(2_000, 5);
        assert_eq!(h.appended_at(12), None);
        h.record(3_000, 9);
        assert_eq!(h.appended_at(8), Some(3_000));
    }

    #[test]
    fn history_is_bounded() {
        let mut h = EndHistory::default();
        for i in 0..(HISTORY_POINTS as i64 + 50) {
            h.record(i * 1000, i);
        }
        assert_eq!(h.points.len(), HISTORY_POINTS);
        assert_eq!(h.appended_at(10), None);
    }
}
