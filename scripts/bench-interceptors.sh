#!/usr/bin/env bash
# Interceptor overhead: the lab's ZMart Kafka Streams app processing a preloaded input topic
# end to end without and with ksbridge's producer/consumer interceptors (logging off), in
# alternating rounds within one run (ksbridge.lab.InterceptorBench), as a ratio of medians;
# then the interceptors' own cost per record from a timed loop. Starts a lab broker (stopped
# on exit).
#
#   scripts/bench-interceptors.sh [RECORDS=40000] [PAIRS=5] [KAFKA_LINE=4]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RECORDS="${1:-40000}" ROUNDS="${2:-5}" LINE="${3:-4}"
cd "$ROOT"
JAR="$(scripts/build-interceptors.sh)"
CP="$(scripts/kafka-lab classpath "$LINE"):$JAR"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
export KSB_LAB_WATCH_PID=$$
BOOTSTRAP="$(scripts/kafka-lab broker start --kafka "$LINE" | tail -1)"
trap 'scripts/kafka-lab broker stop --kafka "$LINE" >/dev/null 2>&1 || true' EXIT
LOG="$(mktemp -d)"
echo "kafka=$LINE broker=$BOOTSTRAP records=$RECORDS rounds=$ROUNDS jar=$(basename "$JAR") cores=$(nproc)"
# The app's JVM as the lab runs it, but with the full JIT (C2) as in production.
"$JAVA" -Xmx768m -XX:+UseSerialGC -Dlog4j2.configurationFile=ksb-file-log4j2.xml \
  -Dlog4j.configuration=ksb-file-log4j.properties -Dksb.log.file="$LOG/bench.log" -cp "$CP" \
  ksbridge.lab.InterceptorBench throughput --bootstrap "$BOOTSTRAP" --records "$RECORDS" \
  --rounds "$ROUNDS" | grep -E '^(PRELOADED|ROUND|RESULT|ESTIMATE)'
"$JAVA" -Xmx256m -Dlog4j2.configurationFile=ksb-file-log4j2.xml \
  -Dlog4j.configuration=ksb-file-log4j.properties -Dksb.log.file="$LOG/cost.log" -cp "$CP" \
  ksbridge.lab.InterceptorBench cost | grep -E "^COST" | sed "s/^/latency_every=4 /"
"$JAVA" -Xmx256m -Dlog4j2.configurationFile=ksb-file-log4j2.xml \
  -Dlog4j.configuration=ksb-file-log4j.properties -Dksb.log.file="$LOG/cost.log" -cp "$CP" \
  ksbridge.lab.InterceptorBench cost --latency-every 1 | grep -E "^COST" | sed "s/^/latency_every=1 /"
rm -rf "$LOG"
