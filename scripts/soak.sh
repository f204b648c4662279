#!/usr/bin/env bash
# A soak with faults (tests/soak.rs) for SECONDS (default 1200 = 20 min; CI
# runs the same test for 90 s): a real Prometheus scrapes `ksbridge serve`
# every second while three lab Kafka Streams apps are killed or stopped and
# restarted at random, the broker is stopped and started twice and a hostile
# target is served throughout. Prints the report (scrapes answered, scrape
# duration percentiles, faults, dead targets' self-metrics, lag recovery,
# ksbridge RSS/threads/fds growth after warm-up) and fails on a finding.
#   scripts/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-1200}"
log="$(mktemp)"
rc=0
KSBRIDGE_SOAK_SECS="$secs" cargo test --test soak -- --nocapture >"$log" 2>&1 || rc=$?
grep -A5 '^soak report' "$log" || tail -60 "$log"
rm -f "$log"
exit "$rc"
