//! Thread group (`stream-thread-metrics`, one bean per StreamThread and the
//! GlobalStreamThread): `kafka_streams_thread_*` and the
//! `kafka_streams_thread_state` gauge per state. Input: snapshot + context; output: families.

use super::client::push_state_set;
use super::naming::Rules;
use super::{emit_bean, Beans, Context, Group, Level, Out};
use crate::jmx::Snapshot;

pub const GROUP: Group = Group {
    name: "thread",
    help: "Stream threads: process/poll/commit/punctuate counters and latencies, ratios, state (a 0/1 gauge per state)",
    default_on: true,
    beans: &[Beans::of("kafka.streams", "stream-thread-metrics")],
    level: |_, a| (a != "thread-state" && a != "state").then_some(Level::Info),
    build,
};

/// `StreamThread.State` and `GlobalStreamThread.State` constants.
pub const STATES: &[&str] = &[
    "CREATED",
    "STARTING",
    "PARTITIONS_REVOKED",
    "PARTITIONS_ASSIGNED",
    "RUNNING",
    "PENDING_SHUTDOWN",
    "DEAD",
];
pub const GLOBAL_STATES: &[&str] = &["CREATED", "RUNNING", "PENDING_SHUTDOWN", "DEAD"];

const RULES: Rules<'static> = Rules::plain("kafka_streams_thread");

fn build(snapshot: &Snapshot, ctx: &Context, out: &mut Out) {
    let rules = RULES.with_rates(ctx.rates);
    for b in snapshot.of_type("kafka.streams", "stream-thread-metrics") {
        let Some(thread_id) = b.name.get("thread-id") else {
            continue;
        };
        let labels = ctx.thread_labels(thread_id);
        if let Some(state) = b.text("state") {
            let global = thread_id.ends_with("GlobalStreamThread");
            push_state_set(
                out,
                "kafka_streams_thread_state",
                "Stream thread state (StreamThread.State / GlobalStreamThread.State): 1 for the current state.",
                &labels,
                if global { GLOBAL_STATES } else { STATES },
                state,
            );
        }
        emit_bean(out, ctx, b, &rules, &labels[..], GROUP.level_of(b));
    }
}
