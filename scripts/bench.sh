#!/usr/bin/env bash
# The benchmark in one command: ksbridge's model and encoders, warm /metrics
# of the 2,000-bean replay JVM against the jmx_exporter agent (catch-all and
# Kafka Streams rules) with alternating scrapes, many targets (1, 10, 50),
# embedded-JVM flags, the target's memory growth (NMT, against the agent's),
# and lag via scripts/bench-lag.sh when KSB_BENCH_LAG=GROUPS,PARTITIONS is
# set; prints one table of ratios and absolute figures with the machine,
# versions, date and load (see docs/benchmarks.md).
#
#   scripts/bench.sh [--quick] [--json FILE] [--rounds N] [--targets 1,10,50] [--flags N] [--baseline-bin OLD_KSBRIDGE]
#                   [--only PARTS] [--flag-set FLAGS]... [--growth-heap 256m]
#
# --quick: small shapes and few rounds (seconds; what CI runs through
# `cargo test --test bench`). KSB_BENCH_PROFILE=debug uses debug builds;
# KSB_BENCH_BIN / KSB_BENCH_MODEL_BIN name prebuilt binaries (no build);
# JMX_EXPORTER_VERSION picks the agent (default 1.0.1, from Maven Central).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
profile="${KSB_BENCH_PROFILE:-release}"
agent_version="${JMX_EXPORTER_VERSION:-1.0.1}"
work="$(mktemp -d "${TMPDIR:-/tmp}/ksbridge-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

bin="${KSB_BENCH_BIN:-}" model="${KSB_BENCH_MODEL_BIN:-}"
if [ -z "$bin" ] || [ -z "$model" ]; then
  flags=(); [ "$profile" = release ] && flags=(--release)
  cargo build -q "${flags[@]}" --bin ksbridge --example bench_model >&2
  bin="$root/target/$profile/ksbridge" model="$root/target/$profile/examples/bench_model"
fi

cache="$root/target/bench"
mkdir -p "$cache"
jar="$cache/jmx_prometheus_javaagent-$agent_version.jar"
if [ ! -f "$jar" ]; then
  mvn -q dependency:copy "-Dartifact=io.prometheus.jmx:jmx_prometheus_javaagent:$agent_version" \
    "-DoutputDirectory=$cache" >&2 || echo "jmx_exporter $agent_version not available: its runs are left out" >&2
fi
agent=(); [ -f "$jar" ] && agent=(--agent "$jar")

javac -nowarn -d "$work/replay-classes" $(find tests/java/replay/src -name '*.java')

python3 scripts/bench/bench.py --bin "$bin" --model-bin "$model" \
  --replay-classes "$work/replay-classes" --work "$work" --profile "$profile" \
  --agent-version "$agent_version" "${agent[@]}" "$@"
