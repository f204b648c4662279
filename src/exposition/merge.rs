//! Merging families from many builders and sources into one exposition:
//! samples of equal family names merge, a repeated label set is dropped (the
//! first wins), a family whose kind conflicts with the first one seen is
//! dropped. Input: families or single samples; output: `Vec<Family>` sorted
//! by name with empty families left out.

use std::collections::{BTreeMap, HashMap};

use super::{Family, HistogramValue, Kind, Sample};

/// A family and the hashes of the label sets it holds (to sample indexes).
type Entry = (Family, HashMap<u64, Vec<usize>>);

fn label_hash(labels: &[(String, String)]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    labels.hash(&mut h);
    h.finish()
}

/// Families being merged, keyed by name.
#[derive(Debug, Default)]
pub struct FamilySet {
    map: BTreeMap<String, Entry>,
}

impl FamilySet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one sample.
    pub fn add(
        &mut self,
        name: &str,
        kind: Kind,
        help: &str,
        labels: Vec<(String, String)>,
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
        labels: Vec<(String, String)>,
        value: f64,
    ) {
        let sample = Sample {
            labels,
            value,
            histogram: None,
        };
        self.add_sample(name, kind, help, sample);
    }

    /// Adds one histogram sample to a `Kind::Histogram` family.
    pub fn add_histogram(
        &mut self,
        name: &str,
        help: impl FnOnce() -> String,
        labels: Vec<(String, String)>,
        h: HistogramValue,
    ) {
        let sample = Sample {
            labels,
            value: h.count as f64,
            histogram: Some(Box::new(h)),
        };
        self.add_sample(name, Kind::Histogram, help, sample);
    }

    /// Adds one sample of any kind (histogram data kept).
    fn add_sample(
        &mut self,
        name: &str,
        kind: Kind,
        help: impl FnOnce() -> String,
        sample: Sample,
    ) {
        let entry = match self.map.get_mut(name) {
            Some(e) => e,
            None => self
                .map
                .entry(name.to_string())
                .or_insert_with(|| (Family::new(name, kind, help()), HashMap::new())),
        };
        if entry.0.kind != kind {
            tracing::debug!(family = name, "metric kind conflict, sample dropped");
            return;
        }
        let idx = entry.1.entry(label_hash(&sample.labels)).or_default();
        if idx
            .iter()
            .any(|&i| entry.0.samples[i].labels == sample.labels)
        {
            return;
        }
        idx.push(entry.0.samples.len());
        entry.0.samples.push(sample);
    }

    /// Merges whole families (a family new to the set is taken as it is).
    pub fn extend(&mut self, families: impl IntoIterator<Item = Family>) {
        for f in families {
            if !self.map.contains_key(&f.name) {
                let mut index: HashMap<u64, Vec<usize>> = HashMap::new();
                for (i, s) in f.samples.iter().enumerate() {
                    index.entry(label_hash(&s.labels)).or_default().push(i);
                }
                self.map.insert(f.name.clone(), (f, index));
                continue;
            }
            let (name, kind, help) = (f.name, f.kind, f.help);
            for s in f.samples {
                self.add_sample(&name, kind, || help.clone(), s);
            }
        }
    }

    /// Families sorted by name, empty ones left out.
    pub fn into_vec(self) -> Vec<Family> {
        self.map
            .into_values()
            .map(|(f, _)| f)
            .filter(|f| !f.samples.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_label_set_wins_and_kind_conflicts_drop() {
        let mut s = FamilySet::new();
        let l = |v: &str| vec![("a".to_string(), v.to_string())];
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

    #[test]
    fn histograms_keep_their_buckets_when_merged() {
        let h = |count| HistogramValue {
            buckets: vec![(0.1, count)],
            count,
            sum: 1.0,
        };
        let l = |v: &str| vec![("a".to_string(), v.to_string())];
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
