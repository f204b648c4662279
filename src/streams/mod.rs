//! Kafka Streams model: one file per metric group, from `jmx::Snapshot` to typed
//! metric families (`Vec<exposition::Family>`). No I/O: every rule here is a
//! function of a snapshot and a [`Context`].
//!
//! A new group is one file plus one line in [`GROUPS`]: its entry carries the
//! beans it reads (the reader's include list is built from the enabled
//! groups), the recording level of each attribute (the app's level is
//! inferred from it), and its build function; the `--[no-]group.<name>` flags
//! and their help come from the same list.

use std::collections::HashMap;
use std::sync::Arc;

use crate::exposition::merge::label_hash;
use crate::exposition::{Family, FamilySet, Kind, Label, LabelText, Labels};
use crate::jmx::limits::{self, Cuts, Limits};
use crate::jmx::{Bean, Snapshot, Value};

pub mod client;
pub mod clients;
pub mod health;
pub mod interceptors;
pub mod jvm;
pub mod level;
pub mod naming;
pub mod processor_node;
pub mod record_cache;
pub mod rocksdb;
pub mod select;
pub mod state_updater;
pub mod store;
pub mod task;
pub mod thread;
pub mod thread_cpu;
pub mod topic;
pub mod topology_info;

pub use client::{apps, StreamsApp};
pub use level::{Level, LevelSource};
use naming::{metric_name, Rules};

/// The beans of one MBean type (`<domain>:type=<ty>,*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beans {
    pub domain: &'static str,
    pub ty: &'static str,
}

impl Beans {
    pub const fn of(domain: &'static str, ty: &'static str) -> Beans {
        Beans { domain, ty }
    }

    /// The ObjectName pattern the reader asks for.
    pub fn pattern(&self) -> String {
        format!("{}:type={},*", self.domain, self.ty)
    }
}

/// The client beans every build needs (clients, recording level), read
/// whatever groups are enabled.
pub const CLIENT_BEANS: Beans = Beans::of("kafka.streams", "stream-metrics");

/// One metric group: its flag name, help, default, the beans it reads, the
/// recording level of their attributes, and how it builds families.
pub struct Group {
    pub name: &'static str,
    pub help: &'static str,
    pub default_on: bool,
    pub beans: &'static [Beans],
    /// The recording level of an attribute of a bean of type `ty`, or `None`
    /// when the attribute is not this group's metric. Used by the build and
    /// to infer the app's level when Kafka does not expose `recording-level`.
    pub level: fn(ty: &str, attribute: &str) -> Option<Level>,
    pub build: fn(&Snapshot, &Context, &mut Out),
}

/// Every group, in output order.
pub const GROUPS: &[Group] = &[
    client::GROUP,
    thread::GROUP,
    thread_cpu::GROUP,
    state_updater::GROUP,
    task::GROUP,
    processor_node::GROUP,
    topic::GROUP,
    store::GROUP,
    rocksdb::GROUP,
    record_cache::GROUP,
    clients::CONSUMER,
    clients::RESTORE_CONSUMER,
    clients::PRODUCER,
    clients::ADMIN,
    jvm::GROUP,
    interceptors::GROUP,
    topology_info::GROUP,
    health::GROUP,
];

impl Group {
    /// The level of each attribute of `bean` under this group (the `select`
    /// of [`emit_bean`]).
    pub fn level_of<'a>(&'a self, bean: &'a Bean) -> impl Fn(&str) -> Option<Level> + 'a {
        let ty = bean.name.get("type").unwrap_or_default();
        move |a| (self.level)(ty, a)
    }
}

pub fn group(name: &str) -> Option<&'static Group> {
    GROUPS.iter().find(|g| g.name == name)
}

/// Options that apply to every target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Group names that are enabled.
    pub groups: Vec<&'static str>,
    /// Export Kafka's `-rate` metrics.
    pub rates: bool,
    /// What one read of one target may cost (label values are cut to
    /// `limits.label_length` when series are built).
    pub limits: Limits,
    /// The lag source's verdicts per group, when serve measures lag (the
    /// `health` group then judges `stuck`).
    pub lag: Option<crate::insight::stuck::LagVerdicts>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            groups: GROUPS
                .iter()
                .filter(|g| g.default_on)
                .map(|g| g.name)
                .collect(),
            rates: false,
            limits: Limits::default(),
            lag: None,
        }
    }
}

impl Options {
    /// The enabled groups, in output order.
    pub fn enabled(&self) -> impl Iterator<Item = &'static Group> + '_ {
        GROUPS.iter().filter(|g| self.groups.contains(&g.name))
    }

    /// The reader's include list: the client beans and every enabled group's beans.
    pub fn patterns(&self) -> Vec<String> {
        let mut out = vec![CLIENT_BEANS.pattern()];
        for b in self.enabled().flat_map(|g| g.beans) {
            let p = b.pattern();
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }
}

/// What a group needs besides the snapshot: the clients, the recording level,
/// the options and the target's name.
#[derive(Debug, Clone)]
pub struct Context {
    pub clients: Vec<StreamsApp>,
    pub level: Level,
    pub level_source: LevelSource,
    pub rates: bool,
    /// The target this snapshot came from (label of JVM metrics).
    pub target: String,
    /// The lag source's verdicts per group (see [`Options::lag`]).
    pub lag: Option<crate::insight::stuck::LagVerdicts>,
}

/// The owner of a thread-scoped id such as `<client.id>-StreamThread-1-consumer`
/// (label values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub application_id: LabelText,
    pub client_id: LabelText,
    /// The id with `<client.id>-` stripped (`StreamThread-1-consumer`).
    pub rest: LabelText,
}

/// Where `marker` first occurs in `id` (`str::find` sets up a substring
/// searcher per call; ids are short).
fn find_marker(id: &str, marker: &str) -> Option<usize> {
    let (h, m) = (id.as_bytes(), marker.as_bytes());
    let first = *m.first()?;
    (0..(h.len() + 1).saturating_sub(m.len())).find(|&i| h[i] == first && h[i..].starts_with(m))
}

impl Context {
    pub fn new(snapshot: &Snapshot, rates: bool, target: impl Into<String>) -> Context {
        let clients = apps(snapshot);
        let (level, level_source) = level::recording_level(snapshot);
        Context {
            clients,
            level,
            level_source,
            rates,
            target: target.into(),
            lag: None,
        }
    }

    /// Finds the client whose id prefixes `id` (longest match), else infers
    /// it from Kafka's `<client.id>-StreamThread-<n>` pattern and the default
    /// `<application.id>-<uuid>` client id.
    pub fn owner(&self, id: &str) -> Owner {
        let best = self
            .clients
            .iter()
            .filter(|c| {
                id.len() > c.client_id.len()
                    && id.starts_with(&c.client_id)
                    && id.as_bytes()[c.client_id.len()] == b'-'
            })
            .max_by_key(|c| c.client_id.len());
        if let Some(c) = best {
            return Owner {
                application_id: c.application_id.as_str().into(),
                client_id: c.client_id.as_str().into(),
                rest: id[c.client_id.len() + 1..].into(),
            };
        }
        for marker in ["-StreamThread-", "-GlobalStreamThread", "-StateUpdater-"] {
            if let Some(i) = find_marker(id, marker) {
                let client_id = &id[..i];
                return Owner {
                    application_id: client::application_of_client_id(client_id).into(),
                    client_id: client_id.into(),
                    rest: id[i + 1..].into(),
                };
            }
        }
        Owner {
            application_id: LabelText::default(),
            client_id: LabelText::default(),
            rest: id.into(),
        }
    }

    /// `application_id`, `client_id` and `thread` labels for a thread id.
    pub fn thread_labels(&self, thread_id: &str) -> Vec<Label> {
        let o = self.owner(thread_id);
        // Room for what groups add after these (task, subtopology,
        // partition, a node or store, target): one allocation per bean.
        let mut labels = Vec::with_capacity(8);
        labels.push(("application_id".into(), o.application_id));
        labels.push(("client_id".into(), o.client_id));
        labels.push(("thread".into(), o.rest));
        labels
    }
}

/// `task` plus `subtopology` and `partition` labels for a `task-id` like `0_1`.
pub fn task_labels(labels: &mut Vec<Label>, task_id: &str) {
    labels.push(("task".into(), task_id.into()));
    if let Some((sub, part)) = task_id.rsplit_once('_') {
        if !sub.is_empty() && part.parse::<u32>().is_ok() {
            let sub = sub.rsplit("__").next().unwrap_or(sub);
            labels.push(("subtopology".into(), sub.into()));
            labels.push(("partition".into(), part.into()));
        }
    }
}

/// What groups write into while one snapshot is built: its families (an
/// `exposition::FamilySet`, reached through `Deref`) and the naming decisions
/// made so far (per rules prefix and attribute, made once).
#[derive(Debug, Default)]
pub struct Out {
    families: FamilySet,
    names: HashMap<String, HashMap<String, Option<Arc<naming::MetricName>>, Fast>, Fast>,
    /// Per rules prefix, the attribute names of the last bean emitted under
    /// it and their decisions: the next bean of the same type lists the same
    /// attributes and looks nothing up.
    shapes: Vec<Shape>,
}

/// The attribute names of one bean (one string, `ends` splitting it) and,
/// per attribute, its naming decision and family once made.
#[derive(Debug, Default)]
struct Shape {
    prefix: String,
    names: String,
    ends: Vec<usize>,
    decided: Vec<Option<Decided>>,
}

/// One attribute's naming decision (`None`: not exported) and the position
/// of its family once a sample went there.
#[derive(Debug, Clone)]
struct Decided {
    name: Option<Arc<naming::MetricName>>,
    at: Option<usize>,
}

impl Shape {
    fn fits(&self, bean: &Bean) -> bool {
        self.ends.len() == bean.attributes.len()
            && bean.attributes.iter().enumerate().all(|(i, a)| {
                let start = if i == 0 { 0 } else { self.ends[i - 1] };
                self.names[start..self.ends[i]] == a.name
            })
    }

    fn reset(&mut self, bean: &Bean) {
        self.names.clear();
        self.ends.clear();
        for a in &bean.attributes {
            self.names.push_str(&a.name);
            self.ends.push(self.names.len());
        }
        self.decided.clear();
        self.decided.resize(bean.attributes.len(), None);
    }
}

type Fast = foldhash::fast::FixedState;

impl Out {
    pub fn new() -> Self {
        Self::default()
    }

    /// The naming decision for an attribute under `rules`, computed once.
    fn metric_name(
        &mut self,
        rules: &Rules<'_>,
        attribute: &str,
    ) -> Option<Arc<naming::MetricName>> {
        if let Some(m) = self.names.get(rules.prefix).and_then(|m| m.get(attribute)) {
            return m.clone();
        }
        let m = metric_name(rules, attribute).map(Arc::new);
        self.names
            .entry(rules.prefix.to_string())
            .or_default()
            .insert(attribute.to_string(), m.clone());
        m
    }

    /// The shape for `bean` under `rules` (its position in `shapes`).
    fn shape(&mut self, rules: &Rules<'_>, bean: &Bean) -> usize {
        let at = match self.shapes.iter().position(|s| s.prefix == rules.prefix) {
            Some(at) => at,
            None => {
                self.shapes.push(Shape {
                    prefix: rules.prefix.to_string(),
                    ..Shape::default()
                });
                self.shapes.len() - 1
            }
        };
        if !self.shapes[at].fits(bean) {
            self.shapes[at].reset(bean);
        }
        at
    }

    /// The naming decision for attribute `i` of the bean `shape` was fitted
    /// to: kind, scale and the family's position once known.
    fn decided(
        &mut self,
        shape: usize,
        i: usize,
        rules: &Rules<'_>,
        attribute: &str,
    ) -> Option<(Kind, f64, Option<usize>)> {
        if self.shapes[shape].decided[i].is_none() {
            let name = self.metric_name(rules, attribute);
            self.shapes[shape].decided[i] = Some(Decided { name, at: None });
        }
        let d = self.shapes[shape].decided[i].as_ref()?;
        let m = d.name.as_deref()?;
        Some((m.kind, m.scale, d.at))
    }

    /// The position of the family of attribute `i` of `shape` (decided and
    /// exported), created with `help()` if new.
    fn place(&mut self, shape: usize, i: usize, help: impl FnOnce() -> String) -> Option<usize> {
        let d = self.shapes[shape].decided[i].as_mut()?;
        if let Some(at) = d.at {
            return Some(at);
        }
        let m = d.name.as_deref()?;
        let at = self.families.position(&m.name, m.kind, help);
        d.at = Some(at);
        Some(at)
    }

    /// Families sorted by name, empty ones left out.
    pub fn into_vec(self) -> Vec<Family> {
        self.families.into_vec()
    }
}

impl std::ops::Deref for Out {
    type Target = FamilySet;
    fn deref(&self) -> &FamilySet {
        &self.families
    }
}

impl std::ops::DerefMut for Out {
    fn deref_mut(&mut self) -> &mut FamilySet {
        &mut self.families
    }
}

/// Exports the numeric attributes of one bean that `select` claims (returning
/// the attribute's recording level), named by `rules`, skipping what the
/// context's recording level does not record.
///
/// NaN is kept only for gauges of recorded metrics (a windowed stat with no
/// sample yet); infinities (older Kafka's empty Max/Min) also mean "no sample"
/// and become NaN; a NaN counter is dropped.
pub fn emit_bean(
    out: &mut Out,
    ctx: &Context,
    bean: &Bean,
    rules: &Rules<'_>,
    labels: impl Into<Vec<Label>>,
    select: impl Fn(&str) -> Option<Level>,
) {
    let kafka_type = bean.name.get("type").unwrap_or_default();
    // One shared label set and one hash for all the bean's samples (a `Vec`
    // passed by value is moved in, not copied), with the `target` label
    // [`finish`] would otherwise add by rebuilding the set.
    let mut labels = labels.into();
    if !labels.iter().any(|(k, _)| k == "target") {
        labels.push(("target".into(), ctx.target.as_str().into()));
    }
    let labels: Labels = labels.into();
    let mut hash: Option<u64> = None;
    let shape = out.shape(rules, bean);
    for (i, attr) in bean.attributes.iter().enumerate() {
        let Some(level) = select(&attr.name) else {
            continue;
        };
        if level > ctx.level {
            continue;
        }
        let Some(v) = numeric(&attr.value) else {
            continue;
        };
        let Some((kind, scale, at)) = out.decided(shape, i, rules, &attr.name) else {
            continue;
        };
        let v = if v.is_infinite() { f64::NAN } else { v * scale };
        if v.is_nan() && kind == Kind::Counter {
            continue;
        }
        let hash = *hash.get_or_insert_with(|| label_hash(&labels));
        let at = match at {
            Some(at) => at,
            None => {
                let help = || help_text(kafka_type, &attr.name, scale);
                let Some(at) = out.place(shape, i, help) else {
                    continue;
                };
                at
            }
        };
        out.families
            .add_hashed_at(at, kind, labels.clone(), hash, v);
    }
}

/// A numeric value; strings, enums, nulls and unreadable attributes are not.
pub fn numeric(v: &Value) -> Option<f64> {
    match v {
        Value::String(_) | Value::Enum { .. } | Value::Char(_) => None,
        other => other.as_f64(),
    }
}

fn help_text(kafka_type: &str, attribute: &str, scale: f64) -> String {
    let unit = if scale == 1e-3 {
        " (Kafka ms, here seconds)"
    } else if scale == 1e-9 {
        " (Kafka ns, here seconds)"
    } else {
        ""
    };
    format!("Kafka {kafka_type} {attribute}{unit}.")
}

/// The highest level among a group's attributes that carry a value (finite,
/// non-zero) in this snapshot.
pub fn observed_level(snapshot: &Snapshot, group: &Group) -> Level {
    let mut best = Level::Info;
    for beans in group.beans {
        for bean in snapshot.of_type(beans.domain, beans.ty) {
            for a in &bean.attributes {
                let Some(l) = (group.level)(beans.ty, &a.name) else {
                    continue;
                };
                if l > best && numeric(&a.value).is_some_and(|v| v.is_finite() && v != 0.0) {
                    best = l;
                }
            }
        }
    }
    best
}

/// Builds the families of one snapshot with the enabled groups.
pub fn build(snapshot: &Snapshot, ctx: &Context, options: &Options) -> Vec<Family> {
    build_counted(snapshot, ctx, options).0
}

/// [`build`], also saying what was cut on the way (see [`finish`]).
pub fn build_counted(snapshot: &Snapshot, ctx: &Context, options: &Options) -> (Vec<Family>, Cuts) {
    let mut out = Out::new();
    for g in options.enabled() {
        (g.build)(snapshot, ctx, &mut out);
    }
    let mut families = out.into_vec();
    let cuts = finish(&mut families, &ctx.target, options.limits.label_length);
    (families, cuts)
}

/// What every series of a JMX source gets, in this one place rather than per
/// group: the `target` label (two processes with the same client ids never
/// share a label set), counters never negative (a negative counter is not a
/// count: the sample is dropped and counted), and label values no longer
/// than `label_length` bytes (cut, and counted once per cut value).
pub fn finish(families: &mut Vec<Family>, target: &str, label_length: usize) -> Cuts {
    let mut cuts = Cuts::default();
    // Samples share label sets, across families too (one set per bean): each
    // set is looked at and rebuilt once per snapshot, keyed by its identity
    // (the original is kept alive in the map, so its address is not reused).
    let mut rebuilt: HashMap<usize, (Labels, Labels, u64), Fast> = HashMap::default();
    for f in families.iter_mut() {
        if f.kind == Kind::Counter {
            let before = f.samples.len();
            f.samples.retain(|s| s.value >= 0.0 || s.value.is_nan());
            cuts.add(
                limits::reason::NEGATIVE_COUNTER,
                (before - f.samples.len()) as u64,
            );
        }
        let mut cut_here = false;
        for s in &mut f.samples {
            let entry = rebuilt
                .entry(s.labels.id())
                .or_insert_with(|| stamped(&s.labels, target, label_length));
            if entry.2 > 0 {
                cuts.add(limits::reason::LABEL_LENGTH, entry.2);
                cut_here = true;
            }
            if !Labels::same(&entry.1, &s.labels) {
                s.labels = entry.1.clone();
            }
        }
        if cut_here {
            // Values cut short may coincide: one sample per label set (the first).
            let mut seen = std::collections::HashSet::new();
            f.samples.retain(|s| seen.insert(s.labels.clone()));
        }
    }
    families.retain(|f| !f.samples.is_empty());
    cuts
}

/// One label set as served: `(original, with target and values cut, values cut)`.
fn stamped(labels: &Labels, target: &str, label_length: usize) -> (Labels, Labels, u64) {
    let long = labels.iter().any(|(_, v)| v.len() > label_length);
    if !long && labels.iter().any(|(k, _)| k == "target") {
        return (labels.clone(), labels.clone(), 0);
    }
    let mut pairs = Vec::with_capacity(labels.len() + 1);
    let mut cut = 0;
    for (k, v) in labels.iter() {
        let v = if v.len() > label_length {
            cut += 1;
            crate::jmx::objectname::truncate(v, label_length)
        } else {
            v.as_str()
        };
        pairs.push((k.clone(), v.into()));
    }
    if !pairs.iter().any(|(k, _)| k == "target") {
        pairs.push(("target".into(), target.into()));
    }
    (labels.clone(), Labels::from(pairs), cut)
}

/// The families of one snapshot read from `target` (a live read, a capture file, a golden test).
pub fn families(snapshot: &Snapshot, target: &str, options: &Options) -> Vec<Family> {
    families_counted(snapshot, target, options).0
}

/// [`families`], also saying what was cut.
pub fn families_counted(
    snapshot: &Snapshot,
    target: &str,
    options: &Options,
) -> (Vec<Family>, Cuts) {
    let mut ctx = Context::new(snapshot, options.rates, target);
    ctx.lag = options.lag.clone();
    build_counted(snapshot, &ctx, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_split() {
        let mut l = Vec::new();
        task_labels(&mut l, "1_3");
        assert_eq!(
            l,
            vec![
                ("task".into(), "1_3".into()),
                ("subtopology".into(), "1".into()),
                ("partition".into(), "3".into())
            ]
        );
        let mut l = Vec::new();
        task_labels(&mut l, "odd");
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn every_series_gets_its_target_and_no_negative_counter() {
        let snapshot = Snapshot::from_capture_json(
            r#"[{"name":"kafka.streams:type=stream-thread-metrics,thread-id=app-1-StreamThread-1","attributes":{
                "process-total":{"type":"java.lang.Double","value":-5},
                "commit-total":{"type":"java.lang.Double","value":3},
                "poll-records-avg":{"type":"java.lang.Double","value":-1}}},
              {"name":"kafka.streams:type=stream-metrics,client-id=app-1","attributes":{
                "version":{"type":"java.lang.String","value":"VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVV"},
                "alive-stream-threads":{"type":"java.lang.Integer","value":1}}}]"#,
        )
        .unwrap();
        let mut options = Options::default();
        options.limits.label_length = 16;
        let (families, cuts) = families_counted(&snapshot, "pid:7", &options);
        for f in &families {
            for s in &f.samples {
                assert_eq!(
                    s.labels
                        .iter()
                        .filter(|(k, _)| k == "target")
                        .collect::<Vec<_>>(),
                    [&("target".into(), "pid:7".into())],
                    "{}",
                    f.name
                );
                assert!(s.labels.iter().all(|(_, v)| v.len() <= 16), "{}", f.name);
                assert!(f.kind != Kind::Counter || s.value >= 0.0, "{}", f.name);
            }
        }
        let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
        assert!(
            !names.contains(&"kafka_streams_thread_process"),
            "{names:?}"
        );
        assert!(names.contains(&"kafka_streams_thread_commit"), "{names:?}");
        // A negative gauge is a value like any other.
        assert!(
            names.contains(&"kafka_streams_thread_poll_records_avg"),
            "{names:?}"
        );
        assert_eq!(cuts.get(limits::reason::NEGATIVE_COUNTER), 1);
        assert!(cuts.get(limits::reason::LABEL_LENGTH) >= 1);
    }

    #[test]
    fn owners_strip_the_client_prefix() {
        let ctx = Context {
            clients: vec![StreamsApp {
                client_id: "app-1".into(),
                application_id: "app".into(),
                state: None,
                version: None,
            }],
            level: Level::Info,
            level_source: LevelSource::Default,
            rates: false,
            target: "t".into(),
            lag: None,
        };
        let o = ctx.owner("app-1-StreamThread-2-restore-consumer");
        assert_eq!(o.client_id, "app-1");
        assert_eq!(o.rest, "StreamThread-2-restore-consumer");
        let o = ctx.owner("zmart-0b8e6f7a-1c2d-4e5f-8a9b-0c1d2e3f4a5b-StreamThread-1");
        assert_eq!(o.client_id, "zmart-0b8e6f7a-1c2d-4e5f-8a9b-0c1d2e3f4a5b");
        assert_eq!(o.application_id, "zmart");
        assert_eq!(o.rest, "StreamThread-1");
    }
}
