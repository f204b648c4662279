#!/usr/bin/env bash
# Cost of the state poller: CPU used by the target JVM (the lab's Kafka Streams
# app) and by ksbridge, per second, with `ksbridge serve` polling states at the
# default interval versus with the poller off, one run each, the same scrapes
# (every 15 s, like Prometheus) in both.
#
#   scripts/bench-state-poller.sh [SECONDS_PER_PHASE (default 60)] [KAFKA_LINE (default 4)]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECS="${1:-60}"
LINE="${2:-4}"
BIN="$ROOT/target/debug/ksbridge"
[ -x "$ROOT/target/release/ksbridge" ] && BIN="$ROOT/target/release/ksbridge"
export KSB_LAB_WATCH_PID=$$
eval "$(bash "$ROOT/scripts/kafka-lab" start --kafka "$LINE" | grep -E '^(bootstrap|app_pid|app_id)=')"
trap 'bash "$ROOT/scripts/kafka-lab" stop --kafka "$LINE" >/dev/null 2>&1 || true' EXIT
HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
sleep 20 # let the app settle after RUNNING

phase() { # $1 = poller interval (0 = off)
  local port; port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$BIN" serve --web.listen-address "127.0.0.1:$port" --target "$app_pid" --discovery false \
    --state-poller.interval "$1" >/dev/null 2>&1 &
  local serve=$!
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.2; done
  curl -sf "http://127.0.0.1:$port/metrics" >/dev/null; sleep 5 # connect, first read
  local a0 s0 t0 a1 s1 t1
  a0=$(ticks "$app_pid"); s0=$(ticks "$serve"); t0=$(date +%s.%N)
  local end=$((SECONDS + SECS))
  while [ $SECONDS -lt $end ]; do curl -sf "http://127.0.0.1:$port/metrics" >/dev/null; sleep 15; done
  a1=$(ticks "$app_pid"); s1=$(ticks "$serve"); t1=$(date +%s.%N)
  kill "$serve"; wait "$serve" 2>/dev/null || true
  python3 - "$1" "$a0" "$a1" "$s0" "$s1" "$t0" "$t1" "$HZ" <<'PY'
import sys
iv, a0, a1, s0, s1, t0, t1, hz = sys.argv[1], *map(float, sys.argv[2:])
dt = t1 - t0
print(f"poller={iv:>6}  target JVM {((a1-a0)/hz)/dt*1000:7.1f} ms CPU/s   ksbridge {((s1-s0)/hz)/dt*1000:7.1f} ms CPU/s   over {dt:.0f}s")
PY
}
echo "app pid $app_pid ($app_id), Kafka $LINE, $SECS s per phase, ksbridge $BIN"
phase 0
phase 500ms
