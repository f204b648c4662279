//! Kafka Streams topology model: the `topology-description` text of a client
//! (`Topology.describe()` of every topology it runs) parsed into a
//! [`Description`] of sub-topologies and nodes, with the topics and stores each
//! sub-topology reads and writes. Pure: text in, values out (renderers in
//! [`render`]).

use std::collections::BTreeSet;

use serde::Serialize;

mod parse;
pub mod render;

pub use parse::parse;

/// A parsed `topology-description`: every sub-topology of every (named)
/// topology, and the lines the parser could not place.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Description {
    pub subtopologies: Vec<Subtopology>,
    /// Lines that are not part of Kafka's format, with where and why.
    pub unparsed: Vec<Unparsed>,
}

/// One sub-topology (a unit of tasks), or a global store's source and processor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subtopology {
    /// The named topology it belongs to (`Topology: <name>:`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topology: Option<String>,
    /// The id Kafka prints (`0`, `1`, ...).
    pub id: String,
    /// `for global store (will not generate tasks)`.
    pub global: bool,
    pub nodes: Vec<Node>,
}

/// One node of a sub-topology with its edges as printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    pub name: String,
    #[serde(flatten)]
    pub kind: NodeKind,
    /// `--> a, b` (empty for `--> none`).
    pub successors: Vec<String>,
    /// `<-- a, b`.
    pub predecessors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeKind {
    /// `Source: X (topics: [a, b])`, or `(topics: <regex>)` for a pattern subscription.
    Source {
        topics: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pattern: Option<String>,
    },
    /// `Processor: X (stores: [s])`.
    Processor { stores: Vec<String> },
    /// `Sink: X (topic: t)`, or `(extractor class: C)` when the topic is chosen per record.
    Sink {
        #[serde(skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        extractor: Option<String>,
    },
}

impl NodeKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            NodeKind::Source { .. } => "source",
            NodeKind::Processor { .. } => "processor",
            NodeKind::Sink { .. } => "sink",
        }
    }
}

/// A line the parser could not place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unparsed {
    /// 1-based line number in the description.
    pub line: usize,
    pub text: String,
    pub reason: &'static str,
}

/// What a derived topic is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TopicRole {
    /// Read from outside the app (not written by any of its sub-topologies).
    Input,
    /// Written and not read back by the app.
    Output,
    /// Written by one sub-topology and read by another (repartition and
    /// foreign-key join topics); Kafka prefixes it with the application id.
    Internal,
    /// A store's changelog (`<application.id>-<store>-changelog`), assumed:
    /// logging may be disabled, or a source table may reuse its input topic.
    Changelog,
    /// The topic a global store is loaded from.
    Global,
}

/// A topic the topology touches, named as Kafka creates it on the broker.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Topic {
    pub name: String,
    pub role: TopicRole,
}

impl Subtopology {
    /// `billing/0` for named topologies, `0` otherwise: unique across the description.
    pub fn key(&self) -> String {
        match &self.topology {
            Some(t) => format!("{t}/{}", self.id),
            None => self.id.clone(),
        }
    }

    /// The prefix of this sub-topology's task ids (`billing__0` or `0`).
    pub fn task_prefix(&self) -> String {
        match &self.topology {
            Some(t) => format!("{t}__{}", self.id),
            None => self.id.clone(),
        }
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Topics (and patterns) its sources read, as printed.
    pub fn source_topics(&self) -> Vec<String> {
        let mut out = BTreeSet::new();
        for n in &self.nodes {
            if let NodeKind::Source { topics, pattern } = &n.kind {
                out.extend(topics.iter().cloned());
                out.extend(pattern.iter().cloned());
            }
        }
        out.into_iter().collect()
    }

    /// Topics its sinks write, as printed (extractor sinks have none).
    pub fn sink_topics(&self) -> Vec<String> {
        let mut out = BTreeSet::new();
        for n in &self.nodes {
            if let NodeKind::Sink { topic: Some(t), .. } = &n.kind {
                out.insert(t.clone());
            }
        }
        out.into_iter().collect()
    }

    /// Stores its processors use.
    pub fn stores(&self) -> Vec<String> {
        let mut out = BTreeSet::new();
        for n in &self.nodes {
            if let NodeKind::Processor { stores } = &n.kind {
                out.extend(stores.iter().cloned());
            }
        }
        out.into_iter().collect()
    }
}

impl Description {
    pub fn is_empty(&self) -> bool {
        self.subtopologies.is_empty()
    }

    /// Every node, with the sub-topology it sits in.
    pub fn nodes(&self) -> impl Iterator<Item = (&Subtopology, &Node)> {
        self.subtopologies
            .iter()
            .flat_map(|s| s.nodes.iter().map(move |n| (s, n)))
    }

    /// Topics written by a sub-topology and read by another of the same
    /// (named) topology: repartition and foreign-key join topics, printed
    /// without the `<application.id>-` prefix Kafka gives them on the broker.
    fn internal_names(&self, topology: Option<&str>) -> BTreeSet<String> {
        let subs = || {
            self.subtopologies
                .iter()
                .filter(move |s| s.topology.as_deref() == topology)
        };
        let written: BTreeSet<String> = subs().flat_map(|s| s.sink_topics()).collect();
        subs()
            .flat_map(|s| s.source_topics())
            .filter(|t| written.contains(t))
            .collect()
    }

    /// The broker-side name of a topic printed in sub-topology `sub`.
    pub fn broker_name(&self, application_id: &str, sub: &Subtopology, printed: &str) -> String {
        if self
            .internal_names(sub.topology.as_deref())
            .contains(printed)
        {
            internal_topic(application_id, sub.topology.as_deref(), printed)
        } else {
            printed.to_string()
        }
    }

    /// Every topic the app touches, by its broker-side name, with its role.
    pub fn topics(&self, application_id: &str) -> Vec<Topic> {
        let mut out = BTreeSet::new();
        for s in &self.subtopologies {
            let internal = self.internal_names(s.topology.as_deref());
            for t in s.source_topics() {
                let role = if s.global {
                    TopicRole::Global
                } else if internal.contains(&t) {
                    TopicRole::Internal
                } else {
                    TopicRole::Input
                };
                out.insert(self.topic(application_id, s, &t, role));
            }
            for t in s.sink_topics() {
                let role = if internal.contains(&t) {
                    TopicRole::Internal
                } else {
                    TopicRole::Output
                };
                out.insert(self.topic(application_id, s, &t, role));
            }
            if !s.global {
                for store in s.stores() {
                    let name = internal_topic(
                        application_id,
                        s.topology.as_deref(),
                        &format!("{store}-changelog"),
                    );
                    out.insert(Topic {
                        name,
                        role: TopicRole::Changelog,
                    });
                }
            }
        }
        out.into_iter().collect()
    }

    fn topic(
        &self,
        application_id: &str,
        s: &Subtopology,
        printed: &str,
        role: TopicRole,
    ) -> Topic {
        let name = if role == TopicRole::Internal {
            internal_topic(application_id, s.topology.as_deref(), printed)
        } else {
            printed.to_string()
        };
        Topic { name, role }
    }

    /// Node names that an edge mentions but no node declares (in the same
    /// topology): a sign of a truncated or foreign description.
    pub fn dangling_edges(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for s in &self.subtopologies {
            for n in &s.nodes {
                for other in n.successors.iter().chain(&n.predecessors) {
                    let known = self
                        .subtopologies
                        .iter()
                        .filter(|o| o.topology == s.topology)
                        .any(|o| o.node(other).is_some());
                    if !known {
                        out.push((n.name.clone(), other.clone()));
                    }
                }
            }
        }
        out
    }
}

/// `<application.id>-[<topology>-]<name>`: how Kafka names internal topics.
pub fn internal_topic(application_id: &str, topology: Option<&str>, name: &str) -> String {
    match topology {
        Some(t) => format!("{application_id}-{t}-{name}"),
        None => format!("{application_id}-{name}"),
    }
}
