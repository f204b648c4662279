//! State store group (`stream-state-metrics`, minus the RocksDB metrics on the
//! same beans): `kafka_streams_store_*` with `store` and `store_type` labels
//! from the scope tag (`rocksdb-window-state-id=<store>`). Input: snapshot +
//! context; output: families.

use super::naming::{Rules, TimeUnit};
use super::{emit_bean, task_labels, Beans, Context, Group, Level, Out};
use crate::exposition::Label;
use crate::jmx::{Bean, Snapshot};

pub const GROUP: Group = Group {
    name: "store",
    help: "State stores: open iterators (INFO); operation latencies, counts, buffer sizes (DEBUG); e2e latency (TRACE)",
    default_on: true,
    beans: &[Beans::of("kafka.streams", "stream-state-metrics")],
    level: |_, a| (!super::rocksdb::is_rocksdb(a)).then(|| level(a)),
    build,
};

/// INFO: iterator gauges; TRACE: `record-e2e-latency-*`; DEBUG: the rest.
pub fn level(attribute: &str) -> Level {
    match attribute {
        "num-open-iterators" | "oldest-iterator-open-since-ms" => Level::Info,
        a if a.starts_with("record-e2e-latency-") => Level::Trace,
        _ => Level::Debug,
    }
}

/// Store operation latencies and iterator durations are recorded in ns.
const RULES_NS: Rules<'static> = Rules {
    prefix: "kafka_streams_store",
    time_unit: TimeUnit::Nanos,
    bytes: &[],
    gauge_totals: &[],
    counters: &[],
    rates: false,
};

/// `record-e2e-latency-*` is recorded in ms.
const RULES_MS: Rules<'static> = Rules {
    time_unit: TimeUnit::Millis,
    ..RULES_NS
};

/// Labels of a state-store bean: thread, task, `store` and `store_type`
/// (the scope tag key without `-state-id`).
pub fn store_labels(ctx: &Context, bean: &Bean) -> Option<Vec<Label>> {
    let thread_id = bean.name.get("thread-id")?;
    let (key, store) = bean
        .name
        .properties()
        .find(|(k, _)| k.ends_with("-state-id"))?;
    let mut labels = ctx.thread_labels(thread_id);
    if let Some(task_id) = bean.name.get("task-id") {
        task_labels(&mut labels, task_id);
    }
    labels.push(("store".into(), store.into()));
    labels.push((
        "store_type".into(),
        key.trim_end_matches("-state-id").into(),
    ));
    Some(labels)
}

fn build(snapshot: &Snapshot, ctx: &Context, out: &mut Out) {
    let ns = RULES_NS.with_rates(ctx.rates);
    let ms = RULES_MS.with_rates(ctx.rates);
    for b in snapshot.of_type("kafka.streams", "stream-state-metrics") {
        let Some(labels) = store_labels(ctx, b) else {
            continue;
        };
        let e2e = |a: &str| a.starts_with("record-e2e-latency-");
        let level = GROUP.level_of(b);
        emit_bean(out, ctx, b, &ns, &labels[..], |a| {
            level(a).filter(|_| !e2e(a))
        });
        emit_bean(out, ctx, b, &ms, &labels[..], |a| {
            level(a).filter(|_| e2e(a))
        });
    }
}
