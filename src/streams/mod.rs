//! Kafka Streams model: one file per metric group, from `jmx::Snapshot` to typed
//! metric families (`Vec<exposition::Family>`). No I/O: every rule here is a
//! function of a snapshot and a [`Context`].
//!
//! A new group is one file plus one line in [`GROUPS`]; the `--[no-]group.<name>`
//! flags and their help come from that list.

use std::collections::{BTreeMap, HashMap};

use crate::exposition::{Family, Kind};
use crate::jmx::{Bean, Snapshot, Value};

pub mod client;
pub mod clients;
pub mod health;
pub mod jvm;
pub mod level;
pub mod naming;
pub mod processor_node;
pub mod record_cache;
pub mod rocksdb;
pub mod state_updater;
pub mod store;
pub mod task;
pub mod thread;
pub mod topic;
pub mod topology_info;

pub use level::{Level, LevelSource};
use naming::{metric_name, Rules};

/// One metric group: its flag name, help, default, how it builds families and
/// which recording level its beans show as recorded.
pub struct Group {
    pub name: &'static str,
    pub help: &'static str,
    pub default_on: bool,
    pub build: fn(&Snapshot, &Context) -> Vec<Family>,
    /// The highest recording level whose metrics carry values in this snapshot
    /// (used to infer the level when Kafka does not expose `recording-level`).
    pub observed: fn(&Snapshot) -> Level,
}

/// Every group, in output order.
pub const GROUPS: &[Group] = &[
    client::GROUP,
    thread::GROUP,
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
    topology_info::GROUP,
    health::GROUP,
];

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
        }
    }
}

/// A Kafka Streams client (`KafkaStreams` instance) found in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub client_id: String,
    pub application_id: String,
}

/// What a group needs besides the snapshot: the clients, the recording level,
/// the options and the target's name.
#[derive(Debug, Clone)]
pub struct Context {
    pub clients: Vec<Client>,
    pub level: Level,
    pub level_source: LevelSource,
    pub rates: bool,
    /// The target this snapshot came from (label of JVM metrics).
    pub target: String,
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
        let clients = client::clients(snapshot);
        let (level, level_source) = level::recording_level(snapshot);
        Context {
            clients,
            level,
            level_source,
            rates,
            target: target.into(),
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
        vec![
            ("application_id".into(), o.application_id),
            ("client_id".into(), o.client_id),
            ("thread".into(), o.rest),
        ]
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

/// Families being built, keyed by name; samples of equal names merge, a
/// repeated label set is dropped (the first wins), a kind conflict is dropped.
/// A family and the hashes of the label sets it holds (to indexes of samples).
type Entry = (Family, HashMap<u64, Vec<usize>>);

fn label_hash(labels: &[(String, String)]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    labels.hash(&mut h);
    h.finish()
}

/// Families being built, keyed by name; samples of equal names merge, a
/// repeated label set is dropped (the first wins), a kind conflict is dropped.
#[derive(Debug, Default)]
pub struct Families {
    map: BTreeMap<String, Entry>,
    /// Naming decisions per (prefix, attribute), made once per build.
    names: HashMap<String, HashMap<String, Option<naming::MetricName>>>,
}

impl Families {
    pub fn new() -> Self {
        Self::default()
    }

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

    /// Like [`Families::add`], building the help text only for a new family.
    pub fn add_with(
        &mut self,
        name: &str,
        kind: Kind,
        help: impl FnOnce() -> String,
        labels: Vec<(String, String)>,
        value: f64,
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
        let idx = entry.1.entry(label_hash(&labels)).or_default();
        if idx.iter().any(|&i| entry.0.samples[i].labels == labels) {
            return;
        }
        idx.push(entry.0.samples.len());
        entry.0.push(labels, value);
    }

    pub fn extend(&mut self, families: Vec<Family>) {
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
                self.add_with(&name, kind, || help.clone(), s.labels, s.value);
            }
        }
    }

    /// The naming decision for an attribute under `rules`, computed once.
    fn metric_name(&mut self, rules: &Rules<'_>, attribute: &str) -> Option<naming::MetricName> {
        if let Some(m) = self.names.get(rules.prefix).and_then(|m| m.get(attribute)) {
            return m.clone();
        }
        let m = metric_name(rules, attribute);
        self.names
            .entry(rules.prefix.to_string())
            .or_default()
            .insert(attribute.to_string(), m.clone());
        m
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

/// Exports the numeric attributes of one bean that `select` claims (returning
/// the attribute's recording level), named by `rules`, skipping what the
/// context's recording level does not record.
///
/// NaN is kept only for gauges of recorded metrics (a windowed stat with no
/// sample yet); infinities (older Kafka's empty Max/Min) also mean "no sample"
/// and become NaN; a NaN counter is dropped.
pub fn emit_bean(
    out: &mut Families,
    ctx: &Context,
    bean: &Bean,
    rules: &Rules<'_>,
    labels: &[(String, String)],
    select: impl Fn(&str) -> Option<Level>,
) {
    let kafka_type = bean.name.get("type").unwrap_or_default();
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
        out.add_with(
            &m.name,
            m.kind,
            || help_text(kafka_type, &attr.name, m.scale),
            labels.to_vec(),
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

/// The highest level among attributes that carry a value (finite, non-zero)
/// in beans of one type, for attributes `level_of` classifies.
pub fn observed_level(
    snapshot: &Snapshot,
    domain: &str,
    ty: &str,
    level_of: impl Fn(&str) -> Option<Level>,
) -> Level {
    let mut best = Level::Info;
    for bean in snapshot.of_type(domain, ty) {
        for a in &bean.attributes {
            let Some(l) = level_of(&a.name) else { continue };
            if l > best {
                if let Some(v) = numeric(&a.value) {
                    if v.is_finite() && v != 0.0 {
                        best = l;
                    }
                }
            }
        }
    }
    best
}

/// Builds the families of one snapshot with the enabled groups.
pub fn build(snapshot: &Snapshot, ctx: &Context, options: &Options) -> Vec<Family> {
    let mut out = Families::new();
    for g in GROUPS {
        if options.groups.contains(&g.name) {
            out.extend((g.build)(snapshot, ctx));
        }
    }
    out.into_vec()
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
    fn owners_strip_the_client_prefix() {
        let ctx = Context {
            clients: vec![Client {
                client_id: "app-1".into(),
                application_id: "app".into(),
            }],
            level: Level::Info,
            level_source: LevelSource::Default,
            rates: false,
            target: "t".into(),
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
