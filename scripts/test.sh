#!/usr/bin/env bash
# The test command: sets up what is missing (scripts/setup.sh), then runs every
# test. Tests start their own Kafka brokers, Kafka Streams apps, test JVMs and
# Prometheus on free loopback ports and stop them when they end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --all-targets "$@"
