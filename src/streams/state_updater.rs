//! State updater group (`stream-state-updater-metrics`, Kafka 3.5+):
//! `kafka_streams_state_updater_*`. Input: snapshot + context; output: families.

use super::naming::Rules;
use super::{emit_bean, Beans, Context, Group, Level, Out};
use crate::jmx::Snapshot;

pub const GROUP: Group = Group {
    name: "state_updater",
    help: "State updater threads: restoring/updating/paused task counts and ratios",
    default_on: true,
    beans: &[Beans::of("kafka.streams", "stream-state-updater-metrics")],
    level: |_, _| Some(Level::Info),
    build,
};

const RULES: Rules<'static> = Rules::plain("kafka_streams_state_updater");

fn build(snapshot: &Snapshot, ctx: &Context, out: &mut Out) {
    let rules = RULES.with_rates(ctx.rates);
    for b in snapshot.of_type("kafka.streams", "stream-state-updater-metrics") {
        let Some(thread_id) = b.name.get("thread-id") else {
            continue;
        };
        let labels = ctx.thread_labels(thread_id);
        emit_bean(out, ctx, b, &rules, &labels[..], GROUP.level_of(b));
    }
}
