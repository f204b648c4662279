#!/usr/bin/env bash
# Cost of the state poller: CPU used by the target JVM (the lab's Kafka Streams
# app) and by ksbridge, per second, with `ksbridge serve` polling states at the
# default interval versus with the poller off, the same scrapes (every 15 s,
# like Prometheus) in both. Phases alternate (off, on, off, on, ...) against
# the same app in one run, so drift of the app's own load hits both alike;
# prints each phase, the means and the ratios on/off.
#
#   scripts/bench-state-poller.sh [SECONDS_PER_PHASE (default 60)] [KAFKA_LINE (default 4)] [ROUNDS (default 2)]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECS="${1:-60}"
LINE="${2:-4}"
ROUNDS="${3:-2}"
RESULTS="$(mktemp)"
BIN="$ROOT/target/debug/ksbridge"
[ -x "$ROOT/target/release/ksbridge" ] && BIN="$ROOT/target/release/ksbridge"
export KSB_LAB_WATCH_PID=$$
eval "$(bash "$ROOT/scripts/kafka-lab" start --kafka "$LINE" | grep -E '^(bootstrap|app_pid|app_id)=')"
SERVE=""
trap '[ -n "$SERVE" ] && kill "$SERVE" 2>/dev/null; bash "$ROOT/scripts/kafka-lab" stop --kafka "$LINE" >/dev/null 2>&1 || true; rm -f "$RESULTS"' EXIT
HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
sleep 20 # let the app settle after RUNNING

phase() { # $1 = poller interval (0 = off)
  local port; port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$BIN" serve --web.listen-address "127.0.0.1:$port" --target "$app_pid" --discovery false \
    --state-poller.interval "$1" >/dev/null 2>&1 &
  local serve=$!
  SERVE=$serve
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.2; done
  until curl -sf "http://127.0.0.1:$port/metrics" >/dev/null; do sleep 1; done; sleep 5 # connect, first good read
  local a0 s0 t0 a1 s1 t1
  a0=$(ticks "$app_pid"); s0=$(ticks "$serve"); t0=$(date +%s.%N)
  local end=$((SECONDS + SECS))
  while [ $SECONDS -lt $end ]; do curl -sf "http://127.0.0.1:$port/metrics" >/dev/null || true; sleep 15; done
  a1=$(ticks "$app_pid"); s1=$(ticks "$serve"); t1=$(date +%s.%N)
  kill "$serve"; wait "$serve" 2>/dev/null || true
  python3 - "$1" "$a0" "$a1" "$s0" "$s1" "$t0" "$t1" "$HZ" <<'PY'
import sys
iv, a0, a1, s0, s1, t0, t1, hz = sys.argv[1], *map(float, sys.argv[2:])
dt = t1 - t0
app, ksb = ((a1-a0)/hz)/dt*1000, ((s1-s0)/hz)/dt*1000
print(f"poller={iv:>6}  target JVM {app:7.1f} ms CPU/s   ksbridge {ksb:7.1f} ms CPU/s   over {dt:.0f}s", file=sys.stderr)
print(iv, app, ksb)
PY
}
echo "app pid $app_pid ($app_id), Kafka $LINE, $SECS s per phase, ksbridge $BIN"
for _ in $(seq "$ROUNDS"); do
  phase 0 >>"$RESULTS"
  phase 500ms >>"$RESULTS"
done
python3 - "$RESULTS" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def mean(iv, k):
    v = [float(r[k]) for r in rows if r[0] == iv]
    return sum(v) / len(v)
off_app, on_app = mean("0", 1), mean("500ms", 1)
off_ksb, on_ksb = mean("0", 2), mean("500ms", 2)
print(f"mean of {len(rows)//2} rounds: target JVM off {off_app:.1f} / 500ms {on_app:.1f} ms CPU/s = x{on_app/off_app:.3f} "
      f"({on_app-off_app:+.1f} ms/s); ksbridge off {off_ksb:.1f} / 500ms {on_ksb:.1f} ms CPU/s = x{on_ksb/off_ksb:.2f}")
PY
