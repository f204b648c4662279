#!/usr/bin/env bash
# `ksbridge serve` benchmark: a replay JVM with 2,000 processor-node-shaped
# beans x 10 double attributes. Measures, in one run, warm /metrics latency
# (median, p95 of N scrapes), the CPU time the *target* JVM spends per scrape
# (/proc/<pid>/stat utime+stime, idle rate subtracted), ksbridge's RSS and the
# exposition size, for:
#   bulk            ksbridge serve --target <pid> (one getAttributes per bean)
#   per-attribute   the same with one getAttribute per attribute (baseline)
#   jmx_exporter    io.prometheus.jmx:jmx_prometheus_javaagent (Maven Central)
#                   in the target JVM with a catch-all rule, on a second replay JVM
# Usage: scripts/bench-serve.sh [SCRAPES] [BEANS] [ATTRS]   (KSB_BENCH_PROFILE=debug
# uses the debug build; JMX_EXPORTER_VERSION picks the agent, default 1.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
scrapes="${1:-25}" beans="${2:-2000}" attrs="${3:-10}"
profile="${KSB_BENCH_PROFILE:-release}"
jmxexp_version="${JMX_EXPORTER_VERSION:-1.0.1}"
work="$(mktemp -d "${TMPDIR:-/tmp}/ksbridge-bench.XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  exec 8>&- 9>&- 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

if [ "$profile" = release ]; then
  cargo build -q --release --bin ksbridge
else
  cargo build -q --bin ksbridge
fi
bin="$root/target/$profile/ksbridge"

cache="$root/target/bench"
jar="$cache/jmx_prometheus_javaagent-$jmxexp_version.jar"
if [ ! -f "$jar" ]; then
  mkdir -p "$cache"
  mvn -q dependency:copy "-Dartifact=io.prometheus.jmx:jmx_prometheus_javaagent:$jmxexp_version" \
    "-DoutputDirectory=$cache" >&2
fi

javac -nowarn -d "$work/classes" $(find tests/java/replay/src -name '*.java')

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{ s=$0; sub(/^.*\) /, "", s); split(s, f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# start_replay NAME FD [JVM ARGS...]: starts a replay JVM, sets REPLAY_PID (runs in
# this shell: the FD holding the JVM's stdin open must outlive the function).
start_replay() {
  local name="$1" fd="$2"; shift 2
  mkfifo "$work/$name.in"
  java -Xmx256m -XX:+UseSerialGC "$@" -cp "$work/classes" ksbridge.replay.Replay \
    --generate "beans=$beans,attrs=$attrs" <"$work/$name.in" >"$work/$name.out" 2>"$work/$name.err" &
  local pid=$!
  eval "exec $fd>\"$work/$name.in\""   # keeps stdin open; closing it stops the JVM
  for _ in $(seq 1 600); do grep -q READY "$work/$name.out" 2>/dev/null && break; sleep 0.1; done
  grep -q READY "$work/$name.out" || { echo "replay JVM $name did not start:" >&2; cat "$work/$name.err" >&2; exit 1; }
  REPLAY_PID="$pid"
  pids+=("$pid")
}

# measure LABEL URL TARGET_PID AGENT_PID: prints one JSON line.
measure() {
  local label="$1" url="$2" target="$3" agent="$4"
  for _ in 1 2 3; do curl -sf -o /dev/null "$url"; done   # warm-up
  local idle0 idle1; idle0="$(cpu_ticks "$target")"; sleep 2; idle1="$(cpu_ticks "$target")"
  local c0 t0 c1 t1
  c0="$(cpu_ticks "$target")"; t0="$(date +%s.%N)"
  : >"$work/$label.times"
  for _ in $(seq 1 "$scrapes"); do
    curl -sf -o "$work/$label.body" -w '%{time_total}\n' "$url" >>"$work/$label.times"
  done
  c1="$(cpu_ticks "$target")"; t1="$(date +%s.%N)"
  local size gz rss
  size="$(wc -c <"$work/$label.body")"
  gz="$(gzip -c "$work/$label.body" | wc -c)"
  rss="$( [ "$agent" = - ] && echo null || rss_kib "$agent")"
  python3 - "$label" "$work/$label.times" "$idle0" "$idle1" "$c0" "$c1" "$t0" "$t1" "$scrapes" "$size" "$gz" "$rss" \
    "$(grep -vc '^#' "$work/$label.body")" <<'PY'
import json, statistics, sys
label, times, i0, i1, c0, c1, t0, t1, n, size, gz, rss, samples = sys.argv[1:]
ms = sorted(float(x) * 1000 for x in open(times) if x.strip())
p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
idle_rate = (float(i1) - float(i0)) / 2.0          # ticks per second while idle
busy = float(c1) - float(c0) - idle_rate * (float(t1) - float(t0))
print(json.dumps({
    "label": label, "scrapes": len(ms),
    "median_ms": round(statistics.median(ms), 1), "p95_ms": round(p95, 1),
    "target_cpu_ms_per_scrape": round(max(busy, 0) * 10.0 / int(n), 1),   # 1 tick = 10 ms
    "agent_rss_mib": None if rss == "null" else round(int(rss) / 1024, 1),
    "exposition_bytes": int(size), "exposition_gzip_bytes": int(gz), "samples": int(samples),
}))
PY
}

results="$work/results.jsonl"
start_replay target 8
target="$REPLAY_PID"

port="$(free_port)"
"$bin" serve --target "$target" --web.listen-address "127.0.0.1:$port" --no-group.jvm 2>"$work/serve1.log" &
serve1=$!; pids+=("$serve1")
for _ in $(seq 1 300); do curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
measure bulk "http://127.0.0.1:$port/metrics" "$target" "$serve1" >>"$results"
kill "$serve1"; wait "$serve1" 2>/dev/null || true

port="$(free_port)"
"$bin" serve --target "$target" --web.listen-address "127.0.0.1:$port" --no-group.jvm \
  --bench.per-attribute-reads 2>"$work/serve2.log" &
serve2=$!; pids+=("$serve2")
for _ in $(seq 1 300); do curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
measure per-attribute "http://127.0.0.1:$port/metrics" "$target" "$serve2" >>"$results"
kill "$serve2"; wait "$serve2" 2>/dev/null || true

jport="$(free_port)"
printf 'rules:\n  - pattern: ".*"\n' >"$work/jmx_exporter.yaml"
start_replay jmxexp 9 "-javaagent:$jar=127.0.0.1:$jport:$work/jmx_exporter.yaml"
jtarget="$REPLAY_PID"
for _ in $(seq 1 300); do curl -sf -o /dev/null "http://127.0.0.1:$jport/metrics" && break; sleep 0.2; done
measure jmx_exporter "http://127.0.0.1:$jport/metrics" "$jtarget" - >>"$results"

python3 - "$results" "$beans" "$attrs" "$profile" "$jmxexp_version" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {r["label"]: r for r in rows}
print(f"ksbridge serve benchmark: {sys.argv[2]} beans x {sys.argv[3]} attributes, ksbridge {sys.argv[4]} build, jmx_exporter {sys.argv[5]}")
print(f"{'':15}{'median ms':>10}{'p95 ms':>9}{'target CPU ms/scrape':>22}{'agent RSS MiB':>15}{'bytes':>10}{'gzip':>9}{'samples':>9}")
for r in rows:
    rss = "-" if r["agent_rss_mib"] is None else r["agent_rss_mib"]
    print(f"{r['label']:15}{r['median_ms']:>10}{r['p95_ms']:>9}{r['target_cpu_ms_per_scrape']:>22}{rss:>15}{r['exposition_bytes']:>10}{r['exposition_gzip_bytes']:>9}{r['samples']:>9}")
b, p, j = by.get("bulk"), by.get("per-attribute"), by.get("jmx_exporter")
def ratio(a, c, k):
    return f"{a[k] / c[k]:.2f}" if a and c and c[k] else "n/a"
print(f"ratios: bulk/jmx_exporter median {ratio(b, j, 'median_ms')}, p95 {ratio(b, j, 'p95_ms')}, target CPU {ratio(b, j, 'target_cpu_ms_per_scrape')}; "
      f"bulk/per-attribute median {ratio(b, p, 'median_ms')}, target CPU {ratio(b, p, 'target_cpu_ms_per_scrape')}")
print(json.dumps(rows))
PY
