//! Task group (`stream-task-metrics`): `kafka_streams_task_*` with `task`,
//! `subtopology` and `partition` labels. Input: snapshot + context; output: families.

use super::naming::{Rules, TimeUnit};
use super::{emit_bean, task_labels, Beans, Context, Group, Level, Out};
use crate::jmx::Snapshot;

pub const GROUP: Group = Group {
    name: "task",
    help: "Stream tasks: dropped records, process ratio, restore backlog (INFO); latencies and counts (DEBUG)",
    default_on: true,
    beans: &[Beans::of("kafka.streams", "stream-task-metrics")],
    level: |_, a| Some(level(a)),
    build,
};

const INFO: &[&str] = &[
    "dropped-records-rate",
    "dropped-records-total",
    "active-process-ratio",
    "restore-remaining-records-total",
];

/// INFO for the documented INFO metrics, DEBUG for everything else.
pub fn level(attribute: &str) -> Level {
    if INFO.contains(&attribute) {
        Level::Info
    } else {
        Level::Debug
    }
}

const RULES: Rules<'static> = Rules {
    prefix: "kafka_streams_task",
    time_unit: TimeUnit::Millis,
    bytes: &[],
    gauge_totals: &["restore-remaining-records-total", "cache-size-bytes-total"],
    counters: &[],
    rates: false,
};

fn build(snapshot: &Snapshot, ctx: &Context, out: &mut Out) {
    let rules = RULES.with_rates(ctx.rates);
    for b in snapshot.of_type("kafka.streams", "stream-task-metrics") {
        let (Some(thread_id), Some(task_id)) = (b.name.get("thread-id"), b.name.get("task-id"))
        else {
            continue;
        };
        let mut labels = ctx.thread_labels(thread_id);
        task_labels(&mut labels, task_id);
        emit_bean(out, ctx, b, &rules, labels, GROUP.level_of(b));
    }
}
