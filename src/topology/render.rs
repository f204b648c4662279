//! Renderers of a topology [`Description`]: an indented text tree, Mermaid
//! flowchart, Graphviz DOT and JSON. Input: a description and the application
//! id (for the broker-side names of internal topics); output: a `String`.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;

use serde::Serialize;

use super::{Description, Node, NodeKind, Subtopology, Topic};

/// The output formats of `ksbridge topology`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Mermaid,
    Dot,
    Json,
}

pub fn render(d: &Description, application_id: &str, format: Format) -> String {
    match format {
        Format::Text => text(d, application_id),
        Format::Mermaid => mermaid(d, application_id),
        Format::Dot => dot(d, application_id),
        Format::Json => json(d, application_id),
    }
}

fn sub_title(s: &Subtopology) -> String {
    let mut t = match &s.topology {
        Some(name) => format!("Topology {name}, sub-topology {}", s.id),
        None => format!("Sub-topology {}", s.id),
    };
    if s.global {
        t.push_str(" (global store)");
    }
    t
}

/// A node's one-line label for the text tree.
fn text_label(d: &Description, app: &str, s: &Subtopology, n: &Node) -> String {
    match &n.kind {
        NodeKind::Source { topics, pattern } => {
            let from = match pattern {
                Some(p) => format!("pattern {p}"),
                None => topics
                    .iter()
                    .map(|t| d.broker_name(app, s, t))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            format!("source {} <- {from}", n.name)
        }
        NodeKind::Processor { stores } if stores.is_empty() => n.name.clone(),
        NodeKind::Processor { stores } => format!("{} [{}]", n.name, stores.join(", ")),
        NodeKind::Sink { topic, extractor } => match (topic, extractor) {
            (Some(t), _) => format!("sink {} -> {}", n.name, d.broker_name(app, s, t)),
            (None, Some(e)) => format!("sink {} -> (topic chosen by {e})", n.name),
            (None, None) => format!("sink {}", n.name),
        },
    }
}

/// The indented tree: per sub-topology, what it reads, writes and stores,
/// then every node reached from its sources (a node with two parents is
/// drawn once and referred to as `(see above)` the second time).
pub fn text(d: &Description, app: &str) -> String {
    let mut out = String::new();
    if d.is_empty() {
        out.push_str("(no topology: the client runs no topology yet)\n");
    }
    for s in &d.subtopologies {
        let _ = writeln!(out, "{}", sub_title(s));
        let reads: Vec<_> = s
            .source_topics()
            .iter()
            .map(|t| d.broker_name(app, s, t))
            .collect();
        let writes: Vec<_> = s
            .sink_topics()
            .iter()
            .map(|t| d.broker_name(app, s, t))
            .collect();
        for (what, list) in [("reads", reads), ("writes", writes), ("stores", s.stores())] {
            if !list.is_empty() {
                let _ = writeln!(out, "  {what:<7}{}", list.join(", "));
            }
        }
        let mut seen = HashSet::new();
        let mut roots: Vec<&Node> = s
            .nodes
            .iter()
            .filter(|n| matches!(n.kind, NodeKind::Source { .. }))
            .collect();
        // Nodes no source reaches (a cut description) are roots of their own.
        let mut reached = HashSet::new();
        for r in &roots {
            reach(s, &r.name, &mut reached);
        }
        roots.extend(s.nodes.iter().filter(|n| !reached.contains(&n.name)));
        let count = roots.len();
        for (i, r) in roots.into_iter().enumerate() {
            tree(&mut out, d, app, s, r, "  ", i + 1 == count, &mut seen);
        }
        out.push('\n');
    }
    for u in &d.unparsed {
        let _ = writeln!(
            out,
            "unparsed line {}: {} ({})",
            u.line,
            u.text.trim(),
            u.reason
        );
    }
    out
}

fn reach(s: &Subtopology, name: &str, seen: &mut HashSet<String>) {
    if !seen.insert(name.to_string()) {
        return;
    }
    if let Some(n) = s.node(name) {
        for c in &n.successors {
            reach(s, c, seen);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn tree(
    out: &mut String,
    d: &Description,
    app: &str,
    s: &Subtopology,
    n: &Node,
    prefix: &str,
    last: bool,
    seen: &mut HashSet<String>,
) {
    let branch = if last { "└─ " } else { "├─ " };
    if !seen.insert(n.name.clone()) {
        let _ = writeln!(out, "{prefix}{branch}{} (see above)", n.name);
        return;
    }
    let _ = writeln!(out, "{prefix}{branch}{}", text_label(d, app, s, n));
    let child_prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
    let children: Vec<&Node> = n.successors.iter().filter_map(|c| s.node(c)).collect();
    let count = children.len();
    for (i, c) in children.into_iter().enumerate() {
        tree(out, d, app, s, c, &child_prefix, i + 1 == count, seen);
    }
}

/// Stable ids for nodes, topics and stores in diagram formats (names may hold
/// any character; ids are `n0`, `t0`, `s0`).
struct Ids {
    nodes: BTreeMap<(String, String), String>,
    topics: BTreeMap<String, String>,
    stores: BTreeMap<(Option<String>, String), String>,
}

impl Ids {
    fn new(d: &Description, app: &str) -> Ids {
        let mut ids = Ids {
            nodes: BTreeMap::new(),
            topics: BTreeMap::new(),
            stores: BTreeMap::new(),
        };
        for (s, n) in d.nodes() {
            let next = format!("n{}", ids.nodes.len());
            ids.nodes.entry((s.key(), n.name.clone())).or_insert(next);
            for t in node_topics(d, app, s, n) {
                let next = format!("t{}", ids.topics.len());
                ids.topics.entry(t).or_insert(next);
            }
            if let NodeKind::Processor { stores } = &n.kind {
                for st in stores {
                    let next = format!("s{}", ids.stores.len());
                    ids.stores
                        .entry((s.topology.clone(), st.clone()))
                        .or_insert(next);
                }
            }
        }
        ids
    }

    fn node(&self, s: &Subtopology, name: &str) -> Option<&str> {
        self.nodes
            .get(&(s.key(), name.to_string()))
            .map(String::as_str)
    }

    /// A successor may sit in another sub-topology of the same topology only
    /// in a malformed text; look there too so the edge is not lost.
    fn successor(&self, d: &Description, s: &Subtopology, name: &str) -> Option<String> {
        if let Some(id) = self.node(s, name) {
            return Some(id.to_string());
        }
        d.subtopologies
            .iter()
            .filter(|o| o.topology == s.topology)
            .find_map(|o| self.node(o, name).map(str::to_string))
    }
}

/// Broker-side topics a node reads or writes (patterns as printed).
fn node_topics(d: &Description, app: &str, s: &Subtopology, n: &Node) -> Vec<String> {
    match &n.kind {
        NodeKind::Source { topics, pattern } => topics
            .iter()
            .map(|t| d.broker_name(app, s, t))
            .chain(pattern.iter().cloned())
            .collect(),
        NodeKind::Sink { topic: Some(t), .. } => vec![d.broker_name(app, s, t)],
        _ => Vec::new(),
    }
}

fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '#' => out.push_str("#35;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A Mermaid `flowchart LR`: one subgraph per sub-topology, topics as
/// parallelograms between them, stores as cylinders (dotted links).
pub fn mermaid(d: &Description, app: &str) -> String {
    let ids = Ids::new(d, app);
    let mut out = String::from("flowchart LR\n");
    for (i, s) in d.subtopologies.iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph sub{i}[\"{}\"]",
            mermaid_text(&sub_title(s))
        );
        for n in &s.nodes {
            let Some(id) = ids.node(s, &n.name) else {
                continue;
            };
            let (open, close) = match n.kind {
                NodeKind::Source { .. } => ("([\"", "\"])"),
                NodeKind::Processor { .. } => ("[\"", "\"]"),
                NodeKind::Sink { .. } => ("[[\"", "\"]]"),
            };
            let _ = writeln!(out, "    {id}{open}{}{close}", mermaid_text(&n.name));
        }
        for ((topology, store), id) in &ids.stores {
            if *topology == s.topology && s.stores().contains(store) {
                let _ = writeln!(out, "    {id}[(\"{}\")]", mermaid_text(store));
            }
        }
        out.push_str("  end\n");
    }
    for (topic, id) in &ids.topics {
        let _ = writeln!(out, "  {id}[/\"{}\"/]", mermaid_text(topic));
    }
    for (s, n) in d.nodes() {
        edges(d, app, &ids, s, n, &mut |from, to, style| {
            let arrow = if style == Edge::Store { "-.-" } else { "-->" };
            let (from, to) = match style {
                Edge::Read => (to, from),
                _ => (from, to),
            };
            let _ = writeln!(out, "  {from} {arrow} {to}");
        });
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    /// Node to node.
    Flow,
    /// Topic into a source (passed as (node, topic)).
    Read,
    /// Sink into a topic.
    Write,
    /// Processor and its store.
    Store,
}

/// Calls `f(from_id, to_id, kind)` for every edge of node `n`.
fn edges(
    d: &Description,
    app: &str,
    ids: &Ids,
    s: &Subtopology,
    n: &Node,
    f: &mut dyn FnMut(&str, &str, Edge),
) {
    let Some(id) = ids.node(s, &n.name) else {
        return;
    };
    for t in node_topics(d, app, s, n) {
        if let Some(tid) = ids.topics.get(&t) {
            let kind = if matches!(n.kind, NodeKind::Source { .. }) {
                Edge::Read
            } else {
                Edge::Write
            };
            f(id, tid, kind);
        }
    }
    if let NodeKind::Processor { stores } = &n.kind {
        for st in stores {
            if let Some(sid) = ids.stores.get(&(s.topology.clone(), st.clone())) {
                f(id, sid, Edge::Store);
            }
        }
    }
    for c in &n.successors {
        if let Some(cid) = ids.successor(d, s, c) {
            f(id, &cid, Edge::Flow);
        }
    }
}

fn dot_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A Graphviz digraph: one cluster per sub-topology, topics as `cds` shapes,
/// stores as cylinders linked by dashed lines.
pub fn dot(d: &Description, app: &str) -> String {
    let ids = Ids::new(d, app);
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", dot_text(app));
    out.push_str("  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n");
    for (i, s) in d.subtopologies.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_{i} {{");
        let _ = writeln!(
            out,
            "    label=\"{}\"; style=rounded; color=grey;",
            dot_text(&sub_title(s))
        );
        for n in &s.nodes {
            let Some(id) = ids.node(s, &n.name) else {
                continue;
            };
            let shape = match n.kind {
                NodeKind::Source { .. } => "invhouse",
                NodeKind::Processor { .. } => "box",
                NodeKind::Sink { .. } => "house",
            };
            let _ = writeln!(
                out,
                "    {id} [label=\"{}\", shape={shape}];",
                dot_text(&n.name)
            );
        }
        for ((topology, store), id) in &ids.stores {
            if *topology == s.topology && s.stores().contains(store) {
                let _ = writeln!(
                    out,
                    "    {id} [label=\"{}\", shape=cylinder, style=filled, fillcolor=lightyellow];",
                    dot_text(store)
                );
            }
        }
        out.push_str("  }\n");
    }
    for (topic, id) in &ids.topics {
        let _ = writeln!(
            out,
            "  {id} [label=\"{}\", shape=cds, style=filled, fillcolor=lightblue];",
            dot_text(topic)
        );
    }
    for (s, n) in d.nodes() {
        edges(d, app, &ids, s, n, &mut |from, to, kind| {
            let _ = match kind {
                Edge::Read => writeln!(out, "  {to} -> {from};"),
                Edge::Store => writeln!(out, "  {from} -> {to} [style=dashed, arrowhead=none];"),
                _ => writeln!(out, "  {from} -> {to};"),
            };
        });
    }
    out.push_str("}\n");
    out
}

#[derive(Serialize)]
struct JsonView<'a> {
    application_id: &'a str,
    subtopologies: Vec<JsonSub<'a>>,
    topics: Vec<Topic>,
    unparsed: &'a [super::Unparsed],
    dangling_edges: Vec<(String, String)>,
}

#[derive(Serialize)]
struct JsonSub<'a> {
    #[serde(flatten)]
    sub: &'a Subtopology,
    reads: Vec<String>,
    writes: Vec<String>,
    stores: Vec<String>,
}

/// The model as JSON, with each sub-topology's broker-side inputs and outputs
/// and every derived topic.
pub fn json(d: &Description, app: &str) -> String {
    let view = JsonView {
        application_id: app,
        subtopologies: d
            .subtopologies
            .iter()
            .map(|s| JsonSub {
                sub: s,
                reads: s
                    .source_topics()
                    .iter()
                    .map(|t| d.broker_name(app, s, t))
                    .collect(),
                writes: s
                    .sink_topics()
                    .iter()
                    .map(|t| d.broker_name(app, s, t))
                    .collect(),
                stores: s.stores(),
            })
            .collect(),
        topics: d.topics(app),
        unparsed: &d.unparsed,
        dangling_edges: d.dangling_edges(),
    };
    let mut s =
        serde_json::to_string_pretty(&view).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}
