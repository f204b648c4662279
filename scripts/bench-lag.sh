#!/usr/bin/env bash
# Lag benchmark: starts a lab broker (Kafka 4), measures GROUPS x PARTITIONS
# group-partitions with `ksbridge`'s lag cycle and with Kafka's own
# `kafka-consumer-groups --describe --all-groups`, then the pure model alone
# over MODEL_PARTITIONS recorded partitions. Release build.
#
#   scripts/bench-lag.sh [GROUPS=200] [PARTITIONS=100] [MODEL_PARTITIONS=100000]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
GROUPS_N="${1:-200}" PARTS="${2:-100}" MODEL="${3:-100000}"
cd "$ROOT"
cargo build --release --example bench_lag >&2
export KSB_LAB_WATCH_PID=$$
BOOTSTRAP="$(scripts/kafka-lab broker start --kafka 4 | tail -1)"
trap 'scripts/kafka-lab broker stop --kafka 4 >/dev/null 2>&1 || true' EXIT
echo "broker=$BOOTSTRAP groups=$GROUPS_N partitions=$PARTS"
out="$(target/release/examples/bench_lag "$BOOTSTRAP" "$GROUPS_N" "$PARTS" "$MODEL")"
echo "$out" | tr ' ' '\n'
get() { echo "$out" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
ours="$(get cycle2_partitions_per_second)"
tool="$(get tool_partitions_per_second)"
awk -v o="$ours" -v t="$tool" -v ts="$(get tool_describe_all_seconds)" -v os="$(get cycle2_total_seconds)" \
  'BEGIN { printf "ratio_partitions_per_second=%.1f (ksbridge %s/s vs kafka-consumer-groups %s/s; %.3fs vs %.3fs)\n", o/t, o, t, os, ts }'
