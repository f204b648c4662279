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
use crate::exposition::{Family, FamilySet, Kind, Labels};
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

/// The owner of a thread-scoped id such as `<client.id>-StreamThread-1-consumer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub application_id: String,
    pub client_id: String,
    /// The id with `<client.id>-` stripped (`StreamThread-1-consumer`).
    pub rest: String,
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
                application_id: c.application_id.clone(),
                client_id: c.client_id.clone(),
                rest: id[c.client_id.len() + 1..].to_string(),
            };
        }
        for marker in ["-StreamThread-", "-GlobalStreamThread", "-StateUpdater-"] {
            if let Some(i) = id.find(marker) {
                let client_id = &id[..i];
                return Owner {
                    application_id: client::application_from_client_id(client_id),
                    client_id: client_id.to_string(),
                    rest: id[i + 1..].to_string(),
                };
            }
        }
        Owner {
            application_id: String::new(),
            client_id: String::new(),
            rest: id.to_string(),
        }
    }

    /// `application_id`, `client_id` and `thread` labels for a thread id.
    pub fn thread_labels(&self, thread_id: &str) -> Vec<(String, String)> {
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
pub fn task_labels(labels: &mut Vec<(String, String)>, task_id: &str) {
    labels.push(("task".into(), task_id.to_string()));
    if let Some((sub, part)) = task_id.rsplit_once('_') {
        if !sub.is_empty() && part.parse::<u32>().is_ok() {
            let sub = sub.rsplit("__").next().unwrap_or(sub);
            labels.push(("subtopology".into(), sub.to_string()));
            labels.push(("partition".into(), part.to_string()));
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
    labels: impl Into<Vec<(String, String)>>,
    select: impl Fn(&str) -> Option<Level>,
) {
    let kafka_type = bean.name.get("type").unwrap_or_default();
    // One shared label set and one hash for all the bean's samples (a `Vec`
    // passed by value is moved in, not copied), with the `target` label
    // [`finish`] would otherwise add by rebuilding the set.
    let mut labels = labels.into();
    if !labels.iter().any(|(k, _)| k == "target") {
        labels.push(("target".to_string(), ctx.target.clone()));
    }
    let labels: Labels = labels.into();
    let mut hash: Option<u64> = None;
    for attr in &bean.attributes {
        let Some(level) = select(&attr.name) else {
            continue;
        };
        if level > ctx.level {
            continue;
        }
        let Some(v) = numeric(&attr.value) else {
            continue;
        };
        let Some(m) = out.metric_name(rules, &attr.name) else {
            continue;
        };
        let v = if v.is_infinite() {
            f64::NAN
        } else {
            v * m.scale
        };
        if v.is_nan() && m.kind == Kind::Counter {
            continue;
        }
        let hash = *hash.get_or_insert_with(|| label_hash(&labels));
        out.add_hashed(
            &m.name,
            m.kind,
            || help_text(kafka_type, &attr.name, m.scale),
            labels.clone(),
            hash,
            v,
        );
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
        pairs.push((k.clone(), v.to_string()));
    }
    if !pairs.iter().any(|(k, _)| k == "target") {
        pairs.push(("target".to_string(), target.to_string()));
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
                ("task".to_string(), "1_3".to_string()),
                ("subtopology".to_string(), "1".to_string()),
                ("partition".to_string(), "3".to_string())
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
                    [&("target".to_string(), "pid:7".to_string())],
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
