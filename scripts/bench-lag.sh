#!/usr/bin/env bash
# Lag benchmark: starts a lab broker (Kafka 4), creates GROUPS groups each
# committed on PARTITIONS partitions (once per run), then in one run:
# `ksbridge`'s warm lag cycle (as in `serve`) with committed offsets over
# shared connections (the default) and with one librdkafka client per group
# (the fallback, as baseline), Kafka's own `kafka-consumer-groups --describe
# --all-groups`, the one-shot `ksbridge lag --all-groups --json` with each
# path (rows compared to the tool's), and the pure model alone over
# MODEL_PARTITIONS recorded partitions. Release build. Prints ratios.
# BENCH_LAG_NO_BASELINE=1 skips the per-group baseline runs; BENCH_LAG_DEBUG=1
# uses the debug build.
#
#   scripts/bench-lag.sh [GROUPS=200] [PARTITIONS=100] [MODEL_PARTITIONS=100000]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
GROUPS_N="${1:-200}" PARTS="${2:-100}" MODEL="${3:-100000}"
cd "$ROOT"
# BENCH_LAG_DEBUG=1 uses the debug build (no release build at hand; the
# network-bound figures move little, the model's a lot).
if [ -n "${BENCH_LAG_DEBUG:-}" ]; then
  cargo build --example bench_lag --bin ksbridge >&2
  BIN=target/debug/examples/bench_lag
else
  cargo build --release --example bench_lag --bin ksbridge >&2
  BIN=target/release/examples/bench_lag
fi
export KSB_LAB_WATCH_PID=$$
BOOTSTRAP="$(scripts/kafka-lab broker start --kafka 4 | tail -1)"
trap 'scripts/kafka-lab broker stop --kafka 4 >/dev/null 2>&1 || true' EXIT
echo "broker=$BOOTSTRAP groups=$GROUPS_N partitions=$PARTS"
out="$("$BIN" "$BOOTSTRAP" "$GROUPS_N" "$PARTS" "$MODEL")"
echo "$out" | tr ' ' '\n'
get() { echo "$out" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
ours="$(get cycle2_partitions_per_second)"
tool="$(get tool_partitions_per_second)"
awk -v o="$ours" -v t="$tool" -v ts="$(get tool_describe_all_seconds)" -v os="$(get cycle2_total_seconds)" \
  'BEGIN { printf "ratio_partitions_per_second=%.1f (warm cycle: ksbridge %s/s vs kafka-consumer-groups %s/s; %.3fs vs %.3fs)\n", o/t, o, t, os, ts }'
base="$(get baseline_cycle2_total_seconds)"
[ -n "$base" ] && awk -v n="$(get cycle2_total_seconds)" -v b="$base" \
  'BEGIN { printf "ratio_warm_cycle_shared_vs_client_per_group=%.3f (%.3fs vs %.3fs)\n", n/b, n, b }'
awk -v n="$(get oneshot_seconds)" -v t="$(get tool_describe_all_seconds)" \
  'BEGIN { printf "ratio_oneshot_vs_tool=%.3f (ksbridge lag --all-groups --json %.3fs vs kafka-consumer-groups --describe --all-groups %.3fs; rows equal: '"$(get oneshot_rows_equal_to_tool)"')\n", n/t, n, t }'
bo="$(get baseline_oneshot_seconds)"
[ -n "$bo" ] && awk -v n="$(get oneshot_seconds)" -v b="$bo" \
  'BEGIN { printf "ratio_oneshot_shared_vs_client_per_group=%.3f (%.3fs vs %.3fs)\n", n/b, n, b }'
echo "threads=$(get process_Threads) rss=$(get process_VmRSS) (after the shared-connection cycles)"
