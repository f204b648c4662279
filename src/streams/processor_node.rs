//! Processor node group (`stream-processor-node-metrics`):
//! `kafka_streams_processor_node_*` with a `processor_node` label. Input:
//! snapshot + context; output: families.

use super::naming::Rules;
use super::{emit_bean, task_labels, Beans, Context, Group, Level, Out};
use crate::jmx::Snapshot;

pub const GROUP: Group = Group {
    name: "processor_node",
    help:
        "Processor nodes: end-to-end record latency (INFO); process/suppression/emit counts (DEBUG)",
    default_on: true,
    beans: &[Beans::of("kafka.streams", "stream-processor-node-metrics")],
    level: |_, a| Some(level(a)),
    build,
};

/// `record-e2e-latency-*` is INFO, the rest DEBUG.
pub fn level(attribute: &str) -> Level {
    if attribute.starts_with("record-e2e-latency-") {
        Level::Info
    } else {
        Level::Debug
    }
}

const RULES: Rules<'static> = Rules::plain("kafka_streams_processor_node");

fn build(snapshot: &Snapshot, ctx: &Context, out: &mut Out) {
    let rules = RULES.with_rates(ctx.rates);
    for b in snapshot.of_type("kafka.streams", "stream-processor-node-metrics") {
        let (Some(thread_id), Some(task_id), Some(node)) = (
            b.name.get("thread-id"),
            b.name.get("task-id"),
            b.name.get("processor-node-id"),
        ) else {
            continue;
        };
        let mut labels = ctx.thread_labels(thread_id);
        task_labels(&mut labels, task_id);
        labels.push(("processor_node".into(), node.into()));
        emit_bean(out, ctx, b, &rules, labels, GROUP.level_of(b));
    }
}
