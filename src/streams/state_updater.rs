//! State updater group (`stream-state-updater-metrics`, Kafka 3.5+):
//! `kafka_streams_state_updater_*`. Input: snapshot + context; output: families.

use super::naming::Rules;
use super::{emit_bean, Context, Families, Group, Level};
use crate::exposition::Family;
use crate::jmx::Snapshot;

pub const GROUP: Group = Group {
    name: "state_updater",
    help: "State updater threads: restoring/updating/paused task counts and ratios",
    default_on: true,
    build,
    observed: |_| Level::Info,
};

const RULES: Rules<'static> = Rules::plain("kafka_streams_state_updater");

fn build(snapshot: &Snapshot, ctx: &Context) -> Vec<Family> {
    let mut out = Families::new();
    let rules = RULES.with_rates(ctx.rates);
    for b in snapshot.of_type("kafka.streams", "stream-state-updater-metrics") {
        let Some(thread_id) = b.name.get("thread-id") else {
            continue;
        };
        let labels = ctx.thread_labels(thread_id);
        emit_bean(&mut out, ctx, b, &rules, &labels, |_| Some(Level::Info));
    }
    out.into_vec()
}
