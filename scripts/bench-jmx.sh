#!/usr/bin/env bash
# Read benchmark: a replay JVM with 2,000 Kafka-shaped beans x 10 double
# attributes; warm full reads through the bulk path vs per-attribute reads vs
# re-querying names on every read, in one run; ksbridge's RSS with the embedded
# JVM started. Usage: scripts/bench-jmx.sh [ITERATIONS] [BEANS] [ATTRS]
set -euo pipefail
cd "$(dirname "$0")/.."
iterations="${1:-25}" beans="${2:-2000}" attrs="${3:-10}"
work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; exec 9>&- 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT INT TERM

javac -nowarn -d "$work/classes" $(find tests/java/replay/src -name '*.java')
cargo build -q --release --example bench_read
mkfifo "$work/in"
java -Xmx256m -XX:+UseSerialGC -cp "$work/classes" ksbridge.replay.Replay \
  --generate "beans=$beans,attrs=$attrs" <"$work/in" >"$work/out" 2>"$work/err" &
pid=$!
exec 9>"$work/in"   # keeps the replay JVM's stdin open; closing it stops the JVM
for _ in $(seq 1 600); do grep -q READY "$work/out" 2>/dev/null && break; sleep 0.1; done
grep -q READY "$work/out" || { echo "replay JVM did not start:"; cat "$work/err"; exit 1; }
target/release/examples/bench_read "$pid" "$iterations"
