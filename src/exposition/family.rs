//! The pure metric model every source produces and every encoder reads:
//! `Vec<Family>` in, exposition text out (see `exposition::encode`).
//!
//! Names are final Prometheus names chosen in Rust (base units already in the
//! name; a counter's name carries no `_total`, the encoder appends it).

use std::sync::Arc;

/// How a family is typed in the exposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Monotonic; encoded as `<name>_total`.
    Counter,
    Gauge,
    /// One sample per possible state, value 1 for the current state and 0
    /// for the others, the state in a label of the sample (e.g. `state`).
    /// OpenMetrics `stateset`; a gauge in the classic text format.
    StateSet,
    /// Constant 1 with the information in labels; encoded as `<name>_info`.
    Info,
    /// Cumulative buckets, count and sum per sample (`Sample::histogram`);
    /// encoded as `<name>_bucket{le=..}`, `<name>_count`, `<name>_sum`.
    Histogram,
}

/// One histogram sample's data.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramValue {
    /// `(upper bound, cumulative count)` in ascending bound order, without
    /// `+Inf` (its count is `count`).
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum: f64,
}

/// A label's name or value: inline up to 24 bytes (every label name and
/// most values, so building a label set allocates little), on the heap beyond.
pub use compact_str::CompactString as LabelText;

/// One label: name and value.
pub type Label = (LabelText, LabelText);

/// A sample's label pairs in output order; values are plain strings
/// (decoded, unescaped). Shared, not copied: every sample of one bean holds
/// the same set, and a scrape's merge clones samples without copying them.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Labels(Arc<[Label]>);

impl Labels {
    /// The pairs as a new vector (to build a related label set from).
    pub fn to_vec(&self) -> Vec<Label> {
        self.0.to_vec()
    }

    /// The shared set's identity (its address): equal for clones of one set
    /// while any of them lives, for caching work per set.
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as *const () as usize
    }

    /// Whether `a` and `b` are the very same set (not just equal).
    pub fn same(a: &Labels, b: &Labels) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

impl std::ops::Deref for Labels {
    type Target = [Label];
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::fmt::Debug for Labels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<Vec<Label>> for Labels {
    fn from(v: Vec<Label>) -> Self {
        Labels(v.into())
    }
}

impl From<&Vec<Label>> for Labels {
    fn from(v: &Vec<Label>) -> Self {
        Labels(v.as_slice().into())
    }
}

impl From<&[Label]> for Labels {
    fn from(v: &[Label]) -> Self {
        Labels(v.into())
    }
}

impl PartialEq<Vec<Label>> for Labels {
    fn eq(&self, other: &Vec<Label>) -> bool {
        *self.0 == **other
    }
}

/// One labelled value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    /// The value; for a histogram its count.
    pub value: f64,
    /// The buckets, count and sum of a `Kind::Histogram` sample.
    pub histogram: Option<Box<HistogramValue>>,
}

/// A metric family: one name, one type, one help text, many samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: String,
    pub kind: Kind,
    pub samples: Vec<Sample>,
}

impl Family {
    pub fn new(name: impl Into<String>, kind: Kind, help: impl Into<String>) -> Self {
        Family {
            name: name.into(),
            help: help.into(),
            kind,
            samples: Vec::new(),
        }
    }

    pub fn push(&mut self, labels: impl Into<Labels>, value: f64) {
        self.samples.push(Sample {
            labels: labels.into(),
            value,
            histogram: None,
        });
    }

    /// Adds a histogram sample (for a `Kind::Histogram` family).
    pub fn push_histogram(&mut self, labels: impl Into<Labels>, h: HistogramValue) {
        self.samples.push(Sample {
            labels: labels.into(),
            value: h.count as f64,
            histogram: Some(Box::new(h)),
        });
    }
}
