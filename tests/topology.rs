//! Topology parser and renderers against real `describe()` texts: the lab
//! app's captured `topology-description`, and shapes produced by real Kafka
//! Streams code of both Kafka lines (`ksbridge.lab.TopologyShapes`, kept as
//! fixtures in tests/fixtures/topology/). DOT output is rendered by Graphviz.
//! Property tests: the parser never panics, accounts for every line, and
//! reads back what Kafka's format prints.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::lab::{self, KafkaLine};
use ksbridge::topology::render::{self, Format};
use ksbridge::topology::{parse, Description, NodeKind, TopicRole};
use proptest::prelude::*;

fn fixture_dir() -> PathBuf {
    lab::repo_root().join("tests/fixtures/topology")
}

fn fixtures() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(fixture_dir())
        .expect("fixture dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn clean(name: &str, d: &Description) {
    assert!(!d.is_empty(), "{name}: no sub-topology");
    assert!(d.unparsed.is_empty(), "{name}: unparsed {:?}", d.unparsed);
    assert!(
        d.dangling_edges().is_empty(),
        "{name}: dangling {:?}",
        d.dangling_edges()
    );
}

#[test]
fn every_fixture_parses_completely() {
    let all = fixtures();
    assert!(all.len() >= 10, "fixtures: {}", all.len());
    for (name, text) in &all {
        clean(name, &parse(text));
    }
}

#[test]
fn the_lab_app_topology() {
    let text = std::fs::read_to_string(fixture_dir().join("zmart.txt")).unwrap();
    let d = parse(&text);
    let ids: Vec<_> = d
        .subtopologies
        .iter()
        .map(|s| (s.id.as_str(), s.global))
        .collect();
    assert_eq!(
        ids,
        vec![
            ("0", false),
            ("1", true),
            ("2", false),
            ("3", false),
            ("4", false)
        ]
    );
    assert_eq!(d.nodes().count(), 39);
    let topics = d.topics("zmart");
    let role = |t: &str| topics.iter().find(|x| x.name == t).map(|x| x.role);
    assert_eq!(role("zmart-purchases"), Some(TopicRole::Input));
    assert_eq!(role("zmart-stores"), Some(TopicRole::Global));
    assert_eq!(
        role("zmart-by-department-repartition"),
        Some(TopicRole::Internal)
    );
    assert_eq!(role("zmart-rewards"), Some(TopicRole::Output));
    assert_eq!(
        role("zmart-stock-suppress-store-changelog"),
        Some(TopicRole::Changelog)
    );
    // Global stores have no changelog: their source topic is the changelog.
    assert_eq!(role("zmart-store-names-changelog"), None);
    let sub2 = &d.subtopologies[2];
    assert_eq!(
        d.broker_name("zmart", sub2, "by-department-repartition"),
        "zmart-by-department-repartition"
    );
    assert_eq!(sub2.stores(), vec!["department-totals"]);
}

#[test]
fn shapes_cover_patterns_extractors_globals_and_named_topologies() {
    let get = |n: &str| parse(&std::fs::read_to_string(fixture_dir().join(n)).unwrap());
    let p = get("kafka-4-pattern.txt");
    assert!(p.nodes().any(|(_, n)| n.kind
        == NodeKind::Source {
            topics: vec![],
            pattern: Some("logs-.*".into())
        }));
    let e = get("kafka-3.9-topic-extractor.txt");
    assert!(e.nodes().any(|(_, n)| matches!(
        &n.kind,
        NodeKind::Sink { topic: None, extractor: Some(x) } if x.starts_with("ksbridge.lab.TopologyShapes")
    )));
    let g = get("kafka-4-global-table.txt");
    assert_eq!(g.subtopologies.iter().filter(|s| s.global).count(), 2);
    let n = get("kafka-4-named-topologies.txt");
    let keys: Vec<_> = n.subtopologies.iter().map(|s| s.key()).collect();
    assert_eq!(keys, vec!["billing/0", "shipping/0"]);
    let topics = n.topics("app");
    assert!(topics.iter().any(|t| t.name
        == "app-billing-KSTREAM-AGGREGATE-STATE-STORE-0000000001-changelog"
        && t.role == TopicRole::Changelog));
    let j = get("kafka-4-joins.txt");
    let internal: Vec<_> = j
        .topics("app")
        .into_iter()
        .filter(|t| t.role == TopicRole::Internal)
        .map(|t| t.name)
        .collect();
    assert_eq!(
        internal,
        vec![
            "app-KSTREAM-KEY-SELECT-0000000012-repartition",
            "app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000023-topic",
            "app-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000031-topic"
        ]
    );
}

#[test]
fn text_tree_of_the_lab_app() {
    let text = std::fs::read_to_string(fixture_dir().join("zmart.txt")).unwrap();
    let out = render::render(&parse(&text), "zmart", Format::Text);
    let golden = lab::repo_root().join("tests/golden/topology-zmart.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &out).unwrap();
    }
    assert_eq!(out, std::fs::read_to_string(&golden).unwrap());
    // Every node appears exactly once as itself.
    let d = parse(&text);
    for (_, n) in d.nodes() {
        let own = out
            .lines()
            .filter(|l| {
                (l.contains(&format!("─ {} ", n.name))
                    || l.ends_with(&format!("─ {}", n.name))
                    || l.contains(&format!(" {} <-", n.name))
                    || l.contains(&format!(" {} ->", n.name)))
                    && !l.ends_with("(see above)")
            })
            .count();
        assert_eq!(own, 1, "node {} in\n{out}", n.name);
    }
}

/// Runs Graphviz's `dot` on `src`, returning the SVG it wrote.
fn graphviz(src: &str) -> String {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("graphviz `dot` on the PATH (apt-get install graphviz)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(src.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "dot failed: {stderr}\n{src}"
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn dot_output_renders_with_graphviz() {
    for (name, text) in fixtures() {
        let d = parse(&text);
        let svg = graphviz(&render::render(&d, "app", Format::Dot));
        // Every node name is drawn.
        for (_, n) in d.nodes() {
            let shown = n
                .name
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('-', "&#45;");
            assert!(svg.contains(&shown), "{name}: {} not drawn\n{svg}", n.name);
        }
        assert_eq!(
            svg.matches("class=\"cluster\"").count(),
            d.subtopologies.len(),
            "{name}"
        );
    }
    // Hostile names stay inside their quotes.
    let d = parse("Topologies:\n Sub-topology: 0\n Source: a\"b\\ (topics: [t\"x])\n --> none\n");
    graphviz(&render::render(&d, "a\"pp", Format::Dot));
}

#[test]
fn mermaid_and_json_carry_every_node() {
    let text = std::fs::read_to_string(fixture_dir().join("zmart.txt")).unwrap();
    let d = parse(&text);
    let m = render::render(&d, "zmart", Format::Mermaid);
    assert!(m.starts_with("flowchart LR\n"));
    assert_eq!(m.matches("  subgraph ").count(), 5);
    assert_eq!(m.matches("\n  end\n").count(), 5);
    for (_, n) in d.nodes() {
        assert!(m.contains(&format!("\"{}\"", n.name)), "{}", n.name);
    }
    // The repartition topic links sub-topology 0 to 2.
    assert!(m.contains("[/\"zmart-by-department-repartition\"/]"));
    let j: serde_json::Value =
        serde_json::from_str(&render::render(&d, "zmart", Format::Json)).unwrap();
    assert_eq!(j["subtopologies"].as_array().unwrap().len(), 5);
    assert_eq!(
        j["subtopologies"][2]["reads"][0],
        "zmart-by-department-repartition"
    );
    assert_eq!(j["subtopologies"][1]["global"], true);
    assert_eq!(j["unparsed"].as_array().unwrap().len(), 0);
}

/// Real Kafka Streams code of each line prints the same shapes as the fixtures
/// (up to the extractor lambda's identity, which differs per run).
#[test]
fn real_kafka_streams_prints_the_fixture_shapes() {
    for line in KafkaLine::all() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().to_string_lossy().into_owned();
        lab::kafka_tool_ok(line, "ksbridge.lab.TopologyShapes", &["--out", &out]);
        let norm = |s: &str| {
            s.lines()
                .map(|l| match l.split_once("(extractor class: ") {
                    Some((head, _)) => format!("{head}(extractor class: ...)"),
                    None => l.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let mut n = 0;
        for e in std::fs::read_dir(dir.path()).unwrap() {
            let p = e.unwrap().path();
            if p.extension().map_or(true, |x| x != "txt") {
                continue;
            }
            let shape = p.file_stem().unwrap().to_string_lossy().into_owned();
            let got = std::fs::read_to_string(&p).unwrap();
            clean(&format!("{line} {shape}"), &parse(&got));
            let want = std::fs::read_to_string(fixture_dir().join(format!("kafka-4-{shape}.txt")))
                .unwrap();
            assert_eq!(norm(&got), norm(&want), "{line} {shape}");
            n += 1;
        }
        assert_eq!(n, 8, "{line}: shapes written");
    }
}

/// Prints a description in Kafka's format (`TopologyDescription.toString`).
fn kafka_format(d: &Description) -> String {
    let mut out = String::from("Topologies:\n");
    for s in &d.subtopologies {
        let global = if s.global {
            " for global store (will not generate tasks)"
        } else {
            ""
        };
        out.push_str(&format!("   Sub-topology: {}{global}\n", s.id));
        for n in &s.nodes {
            let head = match &n.kind {
                NodeKind::Source { topics, pattern } => match pattern {
                    Some(p) => format!("Source: {} (topics: {p})", n.name),
                    None => format!("Source: {} (topics: [{}])", n.name, topics.join(", ")),
                },
                NodeKind::Processor { stores } => {
                    format!("Processor: {} (stores: [{}])", n.name, stores.join(", "))
                }
                NodeKind::Sink { topic, extractor } => match (topic, extractor) {
                    (Some(t), _) => format!("Sink: {} (topic: {t})", n.name),
                    (None, e) => format!(
                        "Sink: {} (extractor class: {})",
                        n.name,
                        e.clone().unwrap_or_default()
                    ),
                },
            };
            out.push_str(&format!("    {head}\n"));
            if !matches!(n.kind, NodeKind::Sink { .. }) {
                let succ = if n.successors.is_empty() {
                    "none".to_string()
                } else {
                    n.successors.join(", ")
                };
                out.push_str(&format!("      --> {succ}\n"));
            }
            if !n.predecessors.is_empty() {
                out.push_str(&format!("      <-- {}\n", n.predecessors.join(", ")));
            }
        }
        out.push('\n');
    }
    out
}

fn name() -> impl Strategy<Value = String> {
    "[A-Z0-9][A-Za-z0-9._-]{0,20}"
}

fn model() -> impl Strategy<Value = Description> {
    use ksbridge::topology::{Node, Subtopology};
    let kind = prop_oneof![
        prop::collection::vec(name(), 1..3).prop_map(|topics| NodeKind::Source {
            topics,
            pattern: None
        }),
        "[a-z]{1,5}-\\.\\*".prop_map(|p| NodeKind::Source {
            topics: vec![],
            pattern: Some(p)
        }),
        prop::collection::vec(name(), 0..3).prop_map(|stores| NodeKind::Processor { stores }),
        name().prop_map(|t| NodeKind::Sink {
            topic: Some(t),
            extractor: None
        }),
        "[a-z.]{1,10}\\$\\$Lambda/0x[0-9a-f]{4}@[0-9a-f]{4}".prop_map(|e| NodeKind::Sink {
            topic: None,
            extractor: Some(e)
        }),
    ];
    let node =
        (name(), kind, prop::collection::vec(name(), 0..3)).prop_map(|(name, kind, pred)| {
            let successors = if matches!(kind, NodeKind::Sink { .. }) {
                vec![]
            } else {
                pred.iter().rev().cloned().collect()
            };
            Node {
                name,
                kind,
                successors,
                predecessors: pred,
            }
        });
    let sub = (any::<bool>(), prop::collection::vec(node, 1..6));
    prop::collection::vec(sub, 0..4).prop_map(|subs| Description {
        subtopologies: subs
            .into_iter()
            .enumerate()
            .map(|(i, (global, nodes))| Subtopology {
                topology: None,
                id: i.to_string(),
                global,
                nodes,
            })
            .collect(),
        unparsed: vec![],
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Kafka's format of any model parses back to the same model.
    #[test]
    fn kafka_format_round_trips(d in model()) {
        let text = kafka_format(&d);
        prop_assert_eq!(parse(&text), d);
    }

    /// Any text: no panic, every non-empty line is either understood or reported.
    #[test]
    fn any_text_is_accounted_for(text in "(Topologies:|Sub-topology: |Source: |Processor: |Sink: |-->|<--| \\(topics: | \\(stores: | \\(topic: |\\[|\\]|, |\n|[ -~]{0,8}|[^\n]{0,3}){0,40}") {
        let d = parse(&text);
        let nonempty = text.lines().filter(|l| !l.trim().is_empty()).count();
        prop_assert!(d.unparsed.len() <= nonempty);
        for u in &d.unparsed {
            prop_assert!(u.line >= 1 && u.line <= text.lines().count());
        }
        for f in [Format::Text, Format::Mermaid, Format::Dot, Format::Json] {
            let _ = render::render(&d, "app", f);
        }
    }

    /// Cutting a real description anywhere never panics, and lines before the
    /// cut still parse.
    #[test]
    fn truncated_real_text(cut in 0usize..4000) {
        let text = std::fs::read_to_string(fixture_dir().join("zmart.txt")).unwrap();
        let mut cut = cut.min(text.len());
        while !text.is_char_boundary(cut) { cut -= 1; }
        let d = parse(&text[..cut]);
        prop_assert!(d.unparsed.len() <= 1, "{:?}", d.unparsed);
        let _ = render::render(&d, "zmart", Format::Dot);
    }
}

/// "Which sub-topology reads this lagging topic" is one PromQL join, checked
/// by Prometheus's own rule-test engine (`promtool test rules`) on series as
/// ksbridge exports them (topology info from the lab app's golden exposition).
#[test]
fn promql_join_finds_the_subtopology_of_a_lagging_topic() {
    let golden =
        std::fs::read_to_string(lab::repo_root().join("tests/golden/kafka-4-info.prom")).unwrap();
    let mut series: Vec<String> = golden
        .lines()
        .filter(|l| l.starts_with("kafka_streams_topology_topic_info{"))
        .map(|l| {
            let (name, _) = l.rsplit_once(' ').unwrap();
            format!("      - series: '{name}'\n        values: '1x3'")
        })
        .collect();
    assert!(series.len() > 10);
    series.push("      - series: 'kafka_consumergroup_lag{group=\"zmart\",topic=\"zmart-by-zip-repartition\",partition=\"0\"}'\n        values: '500x3'".into());
    let test = format!(
        r#"rule_files: []
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
{}
    promql_expr_test:
      - expr: |
          kafka_consumergroup_lag
            * on(group, topic) group_left(subtopology)
              label_replace(kafka_streams_topology_topic_info{{direction="input"}}, "group", "$1", "application_id", "(.*)")
        eval_time: 2m
        exp_samples:
          - labels: '{{group="zmart",topic="zmart-by-zip-repartition",partition="0",subtopology="3"}}'
            value: 500
"#,
        series.join("\n")
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("join_test.yml");
    std::fs::write(&path, test).unwrap();
    let out = Command::new("promtool")
        .args(["test", "rules"])
        .arg(&path)
        .output()
        .expect("promtool");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
