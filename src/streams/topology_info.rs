//! Topology group (the client's `topology-description`, parsed): info series
//! dashboards join on. `kafka_streams_topology_node_info{kind}`, one edge
//! series per `-->` (`kafka_streams_topology_edge_info{from,to}`), the topics
//! each sub-topology reads and writes by broker-side name
//! (`kafka_streams_topology_topic_info{direction,role}`), its stores, and the
//! number of lines the parser could not place. Input: snapshot + context;
//! output: families.
//!
//! Join example (which sub-topology reads a lagging topic):
//! `kafka_consumergroup_lag * on(group, topic) group_left(subtopology)
//!  label_replace(kafka_streams_topology_topic_info{direction="input"},
//!  "group", "$1", "application_id", "(.*)")`.

use super::{Context, Group, Out, CLIENT_BEANS};
use crate::exposition::Kind;
use crate::jmx::Snapshot;
use crate::topology::{self, Description, Subtopology, TopicRole};

pub const GROUP: Group = Group {
    name: "topology",
    help: "Topology (describe()) as info series: nodes, edges, topics read/written and stores per sub-topology",
    default_on: true,
    beans: &[CLIENT_BEANS],
    // Info series only: no numeric attribute of Kafka's is this group's.
    level: |_, _| None,
    build,
};

fn role_str(r: TopicRole) -> &'static str {
    match r {
        TopicRole::Input => "input",
        TopicRole::Output => "output",
        TopicRole::Internal => "internal",
        TopicRole::Changelog => "changelog",
        TopicRole::Global => "global",
    }
}

/// The `subtopology` label: the id, or `<topology>__<id>` for a named
/// topology (the prefix of its task ids).
fn sub_label(s: &Subtopology) -> String {
    s.task_prefix()
}

fn build(snapshot: &Snapshot, ctx: &Context, out: &mut Out) {
    for b in snapshot.of_type("kafka.streams", "stream-metrics") {
        let (Some(client_id), Some(text)) =
            (b.name.get("client-id"), b.text("topology-description"))
        else {
            continue;
        };
        let app = ctx
            .clients
            .iter()
            .find(|c| c.client_id == client_id)
            .map(|c| c.application_id.clone())
            .unwrap_or_default();
        add(out, &app, &topology::parse(text));
    }
}

/// The families of one parsed description.
pub fn add(out: &mut Out, app: &str, d: &Description) {
    let l = |k: &str, v: &str| -> crate::exposition::Label { (k.into(), v.into()) };
    let topics = d.topics(app);
    for s in &d.subtopologies {
        let base = vec![l("application_id", app), l("subtopology", &sub_label(s))];
        for n in &s.nodes {
            let mut labels = base.clone();
            labels.push(l("node", &n.name));
            labels.push(l("kind", n.kind.as_str()));
            out.add(
                "kafka_streams_topology_node",
                Kind::Info,
                "A node of the app's topology (describe()): source, processor or sink, by sub-topology.",
                labels,
                1.0,
            );
            for to in &n.successors {
                let mut labels = base.clone();
                labels.push(l("from", &n.name));
                labels.push(l("to", to));
                out.add(
                    "kafka_streams_topology_edge",
                    Kind::Info,
                    "An edge (from --> to) of the app's topology.",
                    labels,
                    1.0,
                );
            }
        }
        let reads = s.source_topics().into_iter().map(|t| ("input", t));
        let writes = s.sink_topics().into_iter().map(|t| ("output", t));
        for (direction, printed) in reads.chain(writes) {
            let name = d.broker_name(app, s, &printed);
            let role = topics
                .iter()
                .find(|t| t.name == name && t.role != TopicRole::Changelog)
                .map(|t| role_str(t.role))
                .unwrap_or("input");
            let mut labels = base.clone();
            labels.push(l("topic", &name));
            labels.push(l("direction", direction));
            labels.push(l("role", role));
            out.add(
                "kafka_streams_topology_topic",
                Kind::Info,
                "A topic a sub-topology reads (direction=input) or writes (output), by its broker-side name; role: input, output, internal (repartition), global.",
                labels,
                1.0,
            );
        }
        for store in s.stores() {
            let mut labels = base.clone();
            labels.push(l("store", &store));
            let changelog = if s.global {
                String::new()
            } else {
                topology::internal_topic(app, s.topology.as_deref(), &format!("{store}-changelog"))
            };
            labels.push(l("changelog", &changelog));
            out.add(
                "kafka_streams_topology_store",
                Kind::Info,
                "A state store of a sub-topology, with its changelog topic as Kafka would name it (empty for global stores).",
                labels,
                1.0,
            );
        }
    }
    out.add(
        "kafka_streams_topology_unparsed_lines",
        Kind::Gauge,
        "Lines of the topology description ksbridge could not parse (0 when it understood all).",
        vec![l("application_id", app)],
        d.unparsed.len() as f64,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_edges_topics_and_stores() {
        let d = topology::parse("Topologies:\n   Sub-topology: 0\n    Source: s (topics: [in])\n      --> p\n    Processor: p (stores: [st])\n      --> k\n      <-- s\n    Sink: k (topic: x-repartition)\n      <-- p\n\n  Sub-topology: 1\n    Source: s2 (topics: [x-repartition])\n      --> none\n");
        let mut f = Out::new();
        add(&mut f, "app", &d);
        let fams = f.into_vec();
        let get = |n: &str| fams.iter().find(|f| f.name == n).unwrap();
        assert_eq!(get("kafka_streams_topology_node").samples.len(), 4);
        assert_eq!(get("kafka_streams_topology_edge").samples.len(), 2);
        let topics = get("kafka_streams_topology_topic");
        let has = |sub: &str, topic: &str, dir: &str, role: &str| {
            topics.samples.iter().any(|s| {
                let v = |k: &str| {
                    s.labels
                        .iter()
                        .find(|(n, _)| n == k)
                        .map(|(_, v)| v.as_str())
                };
                v("subtopology") == Some(sub)
                    && v("topic") == Some(topic)
                    && v("direction") == Some(dir)
                    && v("role") == Some(role)
            })
        };
        assert!(has("0", "in", "input", "input"));
        assert!(has("0", "app-x-repartition", "output", "internal"));
        assert!(has("1", "app-x-repartition", "input", "internal"));
        let stores = get("kafka_streams_topology_store");
        assert_eq!(
            stores.samples[0].labels.last().unwrap().1,
            "app-st-changelog"
        );
        assert_eq!(
            get("kafka_streams_topology_unparsed_lines").samples[0].value,
            0.0
        );
    }
}
