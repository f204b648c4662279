//! Merging families from many builders and sources into one exposition:
//! samples of equal family names merge, a repeated label set is dropped (the
//! first wins), a family whose kind conflicts with the first one seen is
//! dropped. Input: families or single samples; output: `Vec<Family>` sorted
//! by name with empty families left out.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

use super::{Family, HistogramValue, Kind, Label, Labels, Sample};

type Fast = foldhash::fast::FixedState;

/// The hash [`FamilySet`] indexes a label set by (see [`FamilySet::add_hashed`]).
pub fn label_hash(labels: &[Label]) -> u64 {
    Fast::default().hash_one(labels)
}

/// Sample indexes of one label hash (collisions are rare: no allocation for one).
#[derive(Debug)]
enum Slots {
    One(usize),
    Many(Vec<usize>),
}

/// A family and, once a second sample set is merged into it, the index of
/// its label sets (a family added whole and never merged into is never
/// indexed: one source's families pass a scrape's merge without hashing).
#[derive(Debug)]
struct Entry {
    family: Family,
    index: Option<HashMap<u64, Slots, Fast>>,
}

fn build_index(samples: &[Sample]) -> HashMap<u64, Slots, Fast> {
    let mut index = HashMap::with_capacity_and_hasher(samples.len(), Fast::default());
    for (i, s) in samples.iter().enumerate() {
        insert(&mut index, label_hash(&s.labels), i);
    }
    index
}

fn insert(index: &mut HashMap<u64, Slots, Fast>, hash: u64, i: usize) {
    match index.get_mut(&hash) {
        None => {
            index.insert(hash, Slots::One(i));
        }
        Some(Slots::One(j)) => {
            let j = *j;
            index.insert(hash, Slots::Many(vec![j, i]));
        }
        Some(Slots::Many(v)) => v.push(i),
    }
}

/// Families being merged, keyed by name.
///
/// A sample whose label set is offered for the first time (no equal set was
/// offered before, by hash) cannot repeat an earlier sample, and while the
/// same set is offered again and again (one bean's samples) it can only
/// repeat its own last sample in the family: such samples are pushed without
/// indexing the family. A family's index is built when a sample of a set
/// seen before arrives, and kept from then on.
#[derive(Debug)]
pub struct FamilySet {
    entries: Vec<Entry>,
    by_name: HashMap<String, usize, Fast>,
    /// The hash of every label set offered, while every sample's set was
    /// offered (`None` once `extend` takes a family whole, unhashed).
    offered: Option<HashSet<u64, Fast>>,
    /// The set offered last, and whether it was new when it was first offered.
    last: Option<(Labels, bool)>,
}

impl Default for FamilySet {
    fn default() -> Self {
        FamilySet {
            entries: Vec::new(),
            by_name: HashMap::default(),
            offered: Some(HashSet::default()),
            last: None,
        }
    }
}

impl FamilySet {
    pub fn new() -> Self {
        Self::default()
    }

    /// The position of family `name` (for [`FamilySet::add_hashed_at`]),
    /// created with `kind` and `help()` if new.
    pub fn position(&mut self, name: &str, kind: Kind, help: impl FnOnce() -> String) -> usize {
        if let Some(&at) = self.by_name.get(name) {
            return at;
        }
        self.entries.push(Entry {
            family: Family::new(name, kind, help()),
            index: None,
        });
        self.by_name
            .insert(name.to_string(), self.entries.len() - 1);
        self.entries.len() - 1
    }

    /// Whether no sample before the current run of `labels` has an equal set.
    fn first_offer(&mut self, labels: &Labels, hash: u64) -> bool {
        let Some(offered) = &mut self.offered else {
            return false;
        };
        if let Some((last, new)) = &self.last {
            if Labels::same(last, labels) {
                return *new;
            }
        }
        let new = offered.insert(hash);
        self.last = Some((labels.clone(), new));
        new
    }

    /// Adds one sample.
    pub fn add(
        &mut self,
        name: &str,
        kind: Kind,
        help: &str,
        labels: impl Into<Labels>,
        value: f64,
    ) {
        self.add_with(name, kind, || help.to_string(), labels, value);
    }

    /// Adds one sample, building the help text only for a new family.
    pub fn add_with(
        &mut self,
        name: &str,
        kind: Kind,
        help: impl FnOnce() -> String,
        labels: impl Into<Labels>,
        value: f64,
    ) {
        let labels = labels.into();
        let hash = label_hash(&labels);
        self.add_hashed(name, kind, help, labels, hash, value);
    }

    /// [`FamilySet::add_with`] for a label set already hashed with
    /// [`label_hash`] (a bean's labels are shared by all its samples: hashed once).
    pub fn add_hashed(
        &mut self,
        name: &str,
        kind: Kind,
        help: impl FnOnce() -> String,
        labels: Labels,
        hash: u64,
        value: f64,
    ) {
        let sample = Sample {
            labels,
            value,
            histogram: None,
        };
        self.add_sample(name, kind, help, sample, hash);
    }

    /// Adds one histogram sample to a `Kind::Histogram` family.
    pub fn add_histogram(
        &mut self,
        name: &str,
        help: impl FnOnce() -> String,
        labels: impl Into<Labels>,
        h: HistogramValue,
    ) {
        let sample = Sample {
            labels: labels.into(),
            value: h.count as f64,
            histogram: Some(Box::new(h)),
        };
        let hash = label_hash(&sample.labels);
        self.add_sample(name, Kind::Histogram, help, sample, hash);
    }

    /// [`FamilySet::add_hashed`] into the family at `at` (from
    /// [`FamilySet::position`]).
    pub fn add_hashed_at(&mut self, at: usize, kind: Kind, labels: Labels, hash: u64, value: f64) {
        let sample = Sample {
            labels,
            value,
            histogram: None,
        };
        self.add_sample_at(at, kind, sample, hash);
    }

    /// Adds one sample of any kind (histogram data kept).
    fn add_sample(
        &mut self,
        name: &str,
        kind: Kind,
        help: impl FnOnce() -> String,
        sample: Sample,
        hash: u64,
    ) {
        let at = self.position(name, kind, help);
        self.add_sample_at(at, kind, sample, hash);
    }

    fn add_sample_at(&mut self, at: usize, kind: Kind, sample: Sample, hash: u64) {
        let first = self.first_offer(&sample.labels, hash);
        let Entry { family, index } = &mut self.entries[at];
        if family.kind != kind {
            tracing::debug!(
                family = family.name.as_str(),
                "metric kind conflict, sample dropped"
            );
            return;
        }
        if first && index.is_none() {
            if family
                .samples
                .last()
                .is_some_and(|s| Labels::same(&s.labels, &sample.labels))
            {
                return;
            }
            family.samples.push(sample);
            return;
        }
        let index = index.get_or_insert_with(|| build_index(&family.samples));
        let next = family.samples.len();
        let samples = &family.samples;
        let seen = |i: &usize| {
            let l = &samples[*i].labels;
            Labels::same(l, &sample.labels) || *l == sample.labels
        };
        match index.get(&hash) {
            Some(Slots::One(i)) if seen(i) => return,
            Some(Slots::Many(v)) if v.iter().any(seen) => return,
            _ => {}
        }
        insert(index, hash, next);
        family.samples.push(sample);
    }

    /// Merges whole families (a family new to the set is taken as it is).
    pub fn extend(&mut self, families: impl IntoIterator<Item = Family>) {
        for f in families {
            if !self.by_name.contains_key(&f.name) {
                if !f.samples.is_empty() {
                    self.offered = None;
                }
                self.by_name.insert(f.name.clone(), self.entries.len());
                self.entries.push(Entry {
                    family: f,
                    index: None,
                });
                continue;
            }
            let (name, kind, help) = (f.name, f.kind, f.help);
            for s in f.samples {
                let hash = label_hash(&s.labels);
                self.add_sample(&name, kind, || help.clone(), s, hash);
            }
        }
    }

    /// Families sorted by name, empty ones left out.
    pub fn into_vec(self) -> Vec<Family> {
        let mut v: Vec<Family> = self
            .entries
            .into_iter()
            .map(|e| e.family)
            .filter(|f| !f.samples.is_empty())
            .collect();
        v.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        v
    }
}

/// What a scrape serves: the families of every served source, in source
/// order (the first label set wins), then `extra` (the self-metrics). The
/// sources' families are cloned, not copied: their label sets are shared.
pub fn merge_served(sources: &[&[Family]], extra: Vec<Family>) -> Vec<Family> {
    let mut out = FamilySet::new();
    for families in sources {
        out.extend(families.iter().cloned());
    }
    out.extend(extra);
    out.into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_label_set_wins_and_kind_conflicts_drop() {
        let mut s = FamilySet::new();
        let l = |v: &str| -> Vec<Label> { vec![("a".into(), v.into())] };
        s.add_with("x", Kind::Gauge, || "h".into(), l("1"), 1.0);
        s.add_with("x", Kind::Gauge, || "h".into(), l("1"), 2.0);
        s.add_with("x", Kind::Counter, || "h".into(), l("2"), 3.0);
        let mut other = Family::new("x", Kind::Gauge, "other help");
        other.push(l("3"), 4.0);
        let mut empty = Family::new("y", Kind::Gauge, "h");
        empty.samples.clear();
        s.extend([other, empty]);
        let v = s.into_vec();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].help, "h");
        let values: Vec<f64> = v[0].samples.iter().map(|s| s.value).collect();
        assert_eq!(values, vec![1.0, 4.0]);
    }

    /// Samples of sets offered for the first time skip the index, yet a
    /// repeat is still dropped: within one run of a set, after it, and when
    /// an equal set (another allocation) comes later.
    #[test]
    fn repeats_are_dropped_whether_or_not_a_family_is_indexed() {
        let set = |v: &str| -> Labels { vec![("a".into(), v.into())].into() };
        let mut s = FamilySet::new();
        let one = set("1");
        let (x, y) = (
            s.position("x", Kind::Gauge, || "h".into()),
            s.position("y", Kind::Gauge, || "h".into()),
        );
        let hash = label_hash(&one);
        s.add_hashed_at(x, Kind::Gauge, one.clone(), hash, 1.0);
        s.add_hashed_at(y, Kind::Gauge, one.clone(), hash, 2.0);
        s.add_hashed_at(x, Kind::Gauge, one.clone(), hash, 3.0); // same run: a repeat
        let two = set("2");
        s.add_hashed_at(x, Kind::Gauge, two.clone(), label_hash(&two), 4.0);
        s.add_hashed_at(y, Kind::Gauge, one.clone(), hash, 5.0); // a later run: a repeat
        s.add_with("x", Kind::Gauge, || "h".into(), set("1"), 6.0); // an equal set
        s.add_with("x", Kind::Gauge, || "h".into(), set("3"), 7.0);
        s.add_with("x", Kind::Counter, || "h".into(), set("4"), 8.0); // kind conflict
        let v = s.into_vec();
        let values = |i: usize| v[i].samples.iter().map(|s| s.value).collect::<Vec<_>>();
        assert_eq!((v[0].name.as_str(), values(0)), ("x", vec![1.0, 4.0, 7.0]));
        assert_eq!((v[1].name.as_str(), values(1)), ("y", vec![2.0]));
    }

    #[test]
    fn histograms_keep_their_buckets_when_merged() {
        let h = |count| HistogramValue {
            buckets: vec![(0.1, count)],
            count,
            sum: 1.0,
        };
        let l = |v: &str| -> Vec<Label> { vec![("a".into(), v.into())] };
        let mut s = FamilySet::new();
        s.add_histogram("x", || "h".into(), l("1"), h(1));
        let mut other = Family::new("x", Kind::Histogram, "h");
        other.push_histogram(l("2"), h(2));
        s.extend([other]);
        let v = s.into_vec();
        let counts: Vec<u64> = v[0]
            .samples
            .iter()
            .map(|s| s.histogram.as_ref().map_or(0, |h| h.count))
            .collect();
        assert_eq!(counts, vec![1, 2]);
    }
}
