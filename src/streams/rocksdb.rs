//! RocksDB group (statistics and properties on the `stream-state-metrics`
//! beans of RocksDB stores): `kafka_streams_rocksdb_*` with `store` and
//! `store_type` labels. Input: snapshot + context; output: families.

use super::naming::{Rules, TimeUnit};
use super::store::store_labels;
use super::{emit_bean, Beans, Context, Group, Level, Out};
use crate::jmx::Snapshot;

pub const GROUP: Group = Group {
    name: "rocksdb",
    help: "RocksDB state stores: properties such as memtable sizes and estimated keys (INFO); statistics such as bytes written and hit ratios (DEBUG)",
    default_on: true,
    beans: &[Beans::of("kafka.streams", "stream-state-metrics")],
    level: |_, a| rocksdb_level(a),
    build,
};

/// RocksDB statistics: DEBUG, recorded once a minute.
const STATISTICS: &[&str] = &[
    "bytes-written-rate",
    "bytes-written-total",
    "bytes-read-rate",
    "bytes-read-total",
    "memtable-bytes-flushed-rate",
    "memtable-bytes-flushed-total",
    "memtable-hit-ratio",
    "memtable-flush-time-avg",
    "memtable-flush-time-min",
    "memtable-flush-time-max",
    "block-cache-data-hit-ratio",
    "block-cache-index-hit-ratio",
    "block-cache-filter-hit-ratio",
    "write-stall-duration-avg",
    "write-stall-duration-total",
    "bytes-read-compaction-rate",
    "bytes-written-compaction-rate",
    "compaction-time-avg",
    "compaction-time-min",
    "compaction-time-max",
    "number-open-files",
    "number-file-errors-total",
];

/// RocksDB properties: INFO, read from RocksDB on every attribute read.
const PROPERTIES: &[&str] = &[
    "num-immutable-mem-table",
    "cur-size-active-mem-table",
    "cur-size-all-mem-tables",
    "size-all-mem-tables",
    "num-entries-active-mem-table",
    "num-entries-imm-mem-tables",
    "num-deletes-active-mem-table",
    "num-deletes-imm-mem-tables",
    "mem-table-flush-pending",
    "num-running-flushes",
    "compaction-pending",
    "num-running-compactions",
    "estimate-pending-compaction-bytes",
    "total-sst-files-size",
    "live-sst-files-size",
    "num-live-versions",
    "block-cache-capacity",
    "block-cache-usage",
    "block-cache-pinned-usage",
    "estimate-num-keys",
    "estimate-table-readers-mem",
    "background-errors",
];

/// Properties that are byte sizes.
const BYTES: &[&str] = &[
    "cur-size-active-mem-table",
    "cur-size-all-mem-tables",
    "size-all-mem-tables",
    "total-sst-files-size",
    "live-sst-files-size",
    "block-cache-capacity",
    "block-cache-usage",
    "block-cache-pinned-usage",
    "estimate-table-readers-mem",
];

pub fn is_rocksdb(attribute: &str) -> bool {
    STATISTICS.contains(&attribute) || PROPERTIES.contains(&attribute)
}

fn rocksdb_level(attribute: &str) -> Option<Level> {
    if PROPERTIES.contains(&attribute) {
        Some(Level::Info)
    } else if STATISTICS.contains(&attribute) {
        Some(Level::Debug)
    } else {
        None
    }
}

const RULES: Rules<'static> = Rules {
    prefix: "kafka_streams_rocksdb",
    time_unit: TimeUnit::Millis,
    bytes: BYTES,
    gauge_totals: &[],
    counters: &[],
    rates: false,
};

fn build(snapshot: &Snapshot, ctx: &Context, out: &mut Out) {
    let rules = RULES.with_rates(ctx.rates);
    for b in snapshot.of_type("kafka.streams", "stream-state-metrics") {
        let Some(labels) = store_labels(ctx, b) else {
            continue;
        };
        emit_bean(out, ctx, b, &rules, &labels[..], GROUP.level_of(b));
    }
}
