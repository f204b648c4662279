//! Record cache group (`stream-record-cache-metrics`, DEBUG):
//! `kafka_streams_record_cache_hit_ratio_*` with a `store` label. Input:
//! snapshot + context; output: families.

use super::naming::Rules;
use super::{emit_bean, task_labels, Beans, Context, Group, Level, Out};
use crate::jmx::Snapshot;

pub const GROUP: Group = Group {
    name: "record_cache",
    help: "Record caches: hit ratio avg/min/max (DEBUG)",
    default_on: true,
    beans: &[Beans::of("kafka.streams", "stream-record-cache-metrics")],
    level: |_, _| Some(Level::Debug),
    build,
};

const RULES: Rules<'static> = Rules::plain("kafka_streams_record_cache");

fn build(snapshot: &Snapshot, ctx: &Context, out: &mut Out) {
    let rules = RULES.with_rates(ctx.rates);
    for b in snapshot.of_type("kafka.streams", "stream-record-cache-metrics") {
        let Some(thread_id) = b.name.get("thread-id") else {
            continue;
        };
        let mut labels = ctx.thread_labels(thread_id);
        if let Some(task_id) = b.name.get("task-id") {
            task_labels(&mut labels, task_id);
        }
        if let Some(store) = b.name.get("record-cache-id") {
            labels.push(("store".into(), store.into()));
        }
        emit_bean(out, ctx, b, &rules, &labels[..], GROUP.level_of(b));
    }
}
