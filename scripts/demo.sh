#!/usr/bin/env bash
# The first run that shows something: installs what is missing
# (scripts/setup.sh), builds ksbridge, starts the lab's Kafka
# broker (KRaft) and the real Kafka Streams demo app (ZMart, with its data
# generator) in the background, runs `ksbridge serve` on loopback (it finds the
# app by itself: discovery filtered by application id), prints the URL and a few
# lines of the live /metrics, and stays up until Ctrl-C, which stops everything
# it started.
#
#   scripts/demo.sh [--kafka 4|3.9] [--port N]
#
# Against your own apps you need no demo: `ksbridge serve` discovers every local
# Kafka Streams JVM (or take `--target <pid|service:jmx:URL>`).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

kafka=4
port="${KSB_DEMO_PORT:-39134}"
while [ $# -gt 0 ]; do
  case "$1" in
    --kafka) kafka="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown argument $1" >&2; exit 2 ;;
  esac
done

echo "demo: installing what is missing (scripts/setup.sh)" >&2
"$ROOT/scripts/setup.sh"
echo "demo: building ksbridge (cargo build)" >&2
cargo build --quiet --bin ksbridge
bin="$ROOT/target/debug/ksbridge"

work="$(mktemp -d "${TMPDIR:-/tmp}/ksbridge-demo.XXXXXX")"
app_id="zmart-demo-$$"
lab_pid="" serve_pid=""
# shellcheck disable=SC2317
cleanup() {
  trap - INT TERM EXIT
  echo >&2
  echo "demo: stopping ksbridge, the demo app and the broker" >&2
  [ -n "$serve_pid" ] && kill -TERM "$serve_pid" 2>/dev/null || true
  [ -n "$lab_pid" ] && kill -TERM "$lab_pid" 2>/dev/null || true
  for p in $serve_pid $lab_pid; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup INT TERM EXIT

echo "demo: starting the lab (Kafka $kafka broker + Kafka Streams app '$app_id'); the first run resolves Kafka from Maven Central" >&2
"$ROOT/scripts/kafka-lab" up --kafka "$kafka" --app-id "$app_id" </dev/null >"$work/lab.out" 2>&1 &
lab_pid=$!
for _ in $(seq 1 600); do
  grep -q "application id" "$work/lab.out" 2>/dev/null && break
  kill -0 "$lab_pid" 2>/dev/null || { echo "demo: the lab failed:" >&2; cat "$work/lab.out" >&2; exit 1; }
  sleep 0.5
done
grep -q "application id" "$work/lab.out" || { echo "demo: the lab did not come up:" >&2; cat "$work/lab.out" >&2; exit 1; }
sed -n '/the lab is up/,/broker log/p' "$work/lab.out" >&2

"$bin" serve --web.listen-address "127.0.0.1:$port" --target.match "^${app_id}\$" \
  --discovery.interval 2s 2>"$work/serve.log" &
serve_pid=$!
url="http://127.0.0.1:$port/metrics"
for _ in $(seq 1 120); do
  curl -sf "$url" 2>/dev/null | grep -q "^kafka_streams_state{application_id=\"$app_id\"" && break
  kill -0 "$serve_pid" 2>/dev/null || { echo "demo: ksbridge serve failed:" >&2; cat "$work/serve.log" >&2; exit 1; }
  sleep 0.5
done

cat <<INFO

ksbridge is serving the demo app's metrics:
  metrics   $url      (OpenMetrics for Prometheus, text 0.0.4 for curl/promtool)
  targets   http://127.0.0.1:$port/
  health    http://127.0.0.1:$port/healthz

A few lines of the live exposition:
INFO
scrape="$(curl -s "$url" || true)"
# One line per metric name, for a few well-known metrics.
printf '%s\n' "$scrape" \
  | grep -E '^(kafka_streams_state\{.*state="RUNNING"|kafka_streams_thread_process_total|kafka_streams_thread_commit_latency_avg_seconds|kafka_streams_task_dropped_records_total|kafka_streams_processor_node_record_e2e_latency_avg_seconds|kafka_streams_rocksdb_estimate_num_keys|jvm_memory_used_bytes|ksbridge_scrape_success|ksbridge_scrape_duration_seconds)' \
  | awk '{ split($0, a, "{"); if (!seen[a[1]]++) print }' || true
echo
echo "$(printf '%s\n' "$scrape" | grep -vc '^#') samples in $(printf '%s\n' "$scrape" | grep -c '^# TYPE') families. Try: curl -s $url | promtool check metrics"
echo "Ctrl-C stops ksbridge, the app and the broker."
wait "$serve_pid"
