#!/usr/bin/env bash
# The test command: sets up what is missing (scripts/setup.sh), then runs every
# test. Tests start their own Kafka brokers, Kafka Streams apps, test JVMs and
# Prometheus on free loopback ports and stop them when they end. Then the fuzz
# targets run briefly (scripts/fuzz.sh --ci, docs/fuzzing.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --all-targets "$@"
# A short coverage-guided run of every fuzz target (5 s each) from the
# committed corpora, after the whole suite (not when a subset is asked for).
if (($# == 0)); then
  scripts/fuzz.sh --ci
fi
