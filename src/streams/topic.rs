//! Topic group (`stream-topic-metrics`): `kafka_streams_topic_*` bytes and
//! records consumed/produced per processor node and topic. Input: snapshot +
//! context; output: families.

use super::naming::Rules;
use super::{emit_bean, task_labels, Beans, Context, Group, Level, Out};
use crate::jmx::Snapshot;

pub const GROUP: Group = Group {
    name: "topic",
    help: "Topics per source/sink node: records and bytes consumed and produced",
    default_on: true,
    beans: &[Beans::of("kafka.streams", "stream-topic-metrics")],
    level: |_, _| Some(Level::Info),
    build,
};

const RULES: Rules<'static> = Rules::plain("kafka_streams_topic");

fn build(snapshot: &Snapshot, ctx: &Context, out: &mut Out) {
    let rules = RULES.with_rates(ctx.rates);
    for b in snapshot.of_type("kafka.streams", "stream-topic-metrics") {
        let (Some(thread_id), Some(task_id)) = (b.name.get("thread-id"), b.name.get("task-id"))
        else {
            continue;
        };
        let mut labels = ctx.thread_labels(thread_id);
        task_labels(&mut labels, task_id);
        if let Some(node) = b.name.get("processor-node-id") {
            labels.push(("processor_node".into(), node.into()));
        }
        if let Some(topic) = b.name.get("topic") {
            labels.push(("topic".into(), topic.into()));
        }
        emit_bean(out, ctx, b, &rules, &labels[..], GROUP.level_of(b));
    }
}
