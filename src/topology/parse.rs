//! Parser of Kafka's `TopologyDescription.toString()` text (Kafka 2.4 to 4.x,
//! plain and named topologies) into a [`Description`]. Line based and tolerant:
//! indentation and the order of `-->`/`<--` lines do not matter, and a line it
//! cannot place is kept in [`Description::unparsed`] with a reason. Never panics.

use super::{Description, Node, NodeKind, Subtopology, Unparsed};

/// Parses a `topology-description` attribute (possibly several concatenated
/// `describe()` texts, as a client running named topologies serves it).
pub fn parse(text: &str) -> Description {
    let mut out = Description::default();
    let mut topology: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let mut unparsed = |reason: &'static str| {
            out.unparsed.push(Unparsed {
                line: i + 1,
                text: raw.to_string(),
                reason,
            })
        };
        if line == "Topologies:" {
            topology = None;
        } else if let Some(rest) = line.strip_prefix("Topology: ") {
            let name = rest.strip_suffix(':').unwrap_or(rest).trim();
            topology = Some(name.to_string());
        } else if let Some(rest) = line.strip_prefix("Sub-topology: ") {
            let (id, global) = match rest.split_once(' ') {
                Some((id, tail)) => (id, tail.contains("global store")),
                None => (rest, false),
            };
            out.subtopologies.push(Subtopology {
                topology: topology.clone(),
                id: id.to_string(),
                global,
                nodes: Vec::new(),
            });
        } else if let Some(rest) = line.strip_prefix("-->") {
            match last_node(&mut out.subtopologies) {
                Some(n) => n.successors = names(rest),
                None => unparsed("edge before any node"),
            }
        } else if let Some(rest) = line.strip_prefix("<--") {
            match last_node(&mut out.subtopologies) {
                Some(n) => n.predecessors = names(rest),
                None => unparsed("edge before any node"),
            }
        } else if let Some((name, kind)) = node(line) {
            match out.subtopologies.last_mut() {
                Some(s) => s.nodes.push(Node {
                    name,
                    kind,
                    successors: Vec::new(),
                    predecessors: Vec::new(),
                }),
                None => unparsed("node before any Sub-topology line"),
            }
        } else if ["Source:", "Processor:", "Sink:"]
            .iter()
            .any(|p| line.starts_with(p))
        {
            unparsed("node line without a known (topics/stores/topic/extractor) part");
        } else {
            unparsed("not a line of Kafka's topology description format");
        }
    }
    out
}

fn last_node(subs: &mut [Subtopology]) -> Option<&mut Node> {
    subs.last_mut().and_then(|s| s.nodes.last_mut())
}

/// `a, b` -> [a, b]; `none` (and nothing) -> [].
fn names(s: &str) -> Vec<String> {
    let s = s.trim();
    if s.is_empty() || s == "none" {
        return Vec::new();
    }
    s.split(", ")
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

/// `[a, b]` -> [a, b]; `[]` -> [].
fn list(s: &str) -> Option<Vec<String>> {
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    Some(names(inner))
}

/// Characters that mark a `topics:` value as a regex rather than a list.
fn looks_like_regex(s: &str) -> bool {
    s.chars().any(|c| {
        matches!(
            c,
            '*' | '+' | '?' | '(' | ')' | '|' | '\\' | '^' | '$' | '{'
        )
    })
}

/// One node line: `Source: N (topics: ...)`, `Processor: N (stores: [...])`,
/// `Sink: N (topic: t)` or `Sink: N (extractor class: C)`.
fn node(line: &str) -> Option<(String, NodeKind)> {
    if let Some(rest) = line.strip_prefix("Source: ") {
        for marker in [" (topics: ", " (topic pattern: "] {
            if let Some((name, value)) = split_part(rest, marker) {
                let kind = match list(value) {
                    Some(topics) if marker == " (topics: " && !looks_like_regex(value) => {
                        NodeKind::Source {
                            topics,
                            pattern: None,
                        }
                    }
                    _ => NodeKind::Source {
                        topics: Vec::new(),
                        pattern: Some(value.to_string()),
                    },
                };
                return Some((name, kind));
            }
        }
    } else if let Some(rest) = line.strip_prefix("Processor: ") {
        let (name, value) = split_part(rest, " (stores: ")?;
        return Some((
            name,
            NodeKind::Processor {
                stores: list(value)?,
            },
        ));
    } else if let Some(rest) = line.strip_prefix("Sink: ") {
        if let Some((name, value)) = split_part(rest, " (topic: ") {
            let kind = NodeKind::Sink {
                topic: Some(value.to_string()),
                extractor: None,
            };
            return Some((name, kind));
        }
        if let Some((name, value)) = split_part(rest, " (extractor class: ") {
            let kind = NodeKind::Sink {
                topic: None,
                extractor: Some(value.to_string()),
            };
            return Some((name, kind));
        }
    }
    None
}

/// `NAME<marker>VALUE)` -> (NAME, VALUE); the first marker splits (node names
/// do not contain it), the last `)` closes (values such as a lambda's class
/// name may contain parentheses).
fn split_part<'a>(rest: &'a str, marker: &str) -> Option<(String, &'a str)> {
    let (name, tail) = rest.split_once(marker)?;
    let value = tail.strip_suffix(')')?;
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    Some((name.to_string(), value.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIMPLE: &str = "Topologies:\n   Sub-topology: 0\n    Source: Source (topics: [words-alt, words-in])\n      --> Split\n    Processor: Split (stores: [])\n      --> Count, Audit\n      <-- Source\n    Processor: Count (stores: [Counts])\n      --> Audit, Sink\n      <-- Split\n    Sink: Audit (topic: audit)\n      <-- Split, Count\n    Sink: Sink (topic: word-counts)\n      <-- Count\n\n";

    #[test]
    fn parses_a_processor_api_topology() {
        let d = parse(SIMPLE);
        assert!(d.unparsed.is_empty(), "{:?}", d.unparsed);
        assert_eq!(d.subtopologies.len(), 1);
        let s = &d.subtopologies[0];
        assert_eq!(s.nodes.len(), 5);
        assert_eq!(s.source_topics(), vec!["words-alt", "words-in"]);
        assert_eq!(s.sink_topics(), vec!["audit", "word-counts"]);
        assert_eq!(s.stores(), vec!["Counts"]);
        let count = s.node("Count").unwrap();
        assert_eq!(count.successors, vec!["Audit", "Sink"]);
        assert_eq!(count.predecessors, vec!["Split"]);
        assert!(d.dangling_edges().is_empty());
    }

    #[test]
    fn patterns_extractors_and_none() {
        let d = parse(
            "Topologies:\n   Sub-topology: 0\n    Source: all-logs (topics: logs-.*)\n      --> none\n    Source: old (topic pattern: a|b)\n      --> none\n    Sink: s (extractor class: my.Extractor$$Lambda$170/0x0000@28d79cba)\n      <-- all-logs\n",
        );
        assert!(d.unparsed.is_empty(), "{:?}", d.unparsed);
        let s = &d.subtopologies[0];
        assert_eq!(
            s.nodes[0].kind,
            NodeKind::Source {
                topics: vec![],
                pattern: Some("logs-.*".into())
            }
        );
        assert_eq!(s.source_topics(), vec!["a|b", "logs-.*"]);
        assert!(s.nodes[0].successors.is_empty());
        assert_eq!(
            s.nodes[2].kind,
            NodeKind::Sink {
                topic: None,
                extractor: Some("my.Extractor$$Lambda$170/0x0000@28d79cba".into())
            }
        );
    }

    #[test]
    fn other_indentation_and_edge_order() {
        // The streams-groups tool of Kafka 4.x prints five-space nodes and `<--` first.
        let d = parse("Topologies:\n   Sub-topology: 0\n     Source: a (topics: [in])\n       --> p\n     Processor: p (stores: [s])\n       <-- a\n       --> b\n     Sink: b (topic: out)\n       <-- p\n");
        assert!(d.unparsed.is_empty());
        let p = d.subtopologies[0].node("p").unwrap();
        assert_eq!(p.successors, vec!["b"]);
        assert_eq!(p.predecessors, vec!["a"]);
    }

    #[test]
    fn reports_what_it_cannot_place() {
        let d = parse("--> x\nSource: a (topics: [t])\nhello\nTopologies:\n Sub-topology: 0\n Processor: p (stores: oops)\n Sink: k (topic: t\n");
        let reasons: Vec<_> = d.unparsed.iter().map(|u| (u.line, u.reason)).collect();
        assert_eq!(
            reasons,
            vec![
                (1, "edge before any node"),
                (2, "node before any Sub-topology line"),
                (3, "not a line of Kafka's topology description format"),
                (
                    6,
                    "node line without a known (topics/stores/topic/extractor) part"
                ),
                (
                    7,
                    "node line without a known (topics/stores/topic/extractor) part"
                ),
            ]
        );
    }

    #[test]
    fn empty_text_is_an_empty_description() {
        let d = parse("");
        assert!(d.is_empty() && d.unparsed.is_empty());
    }
}
