#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers that take outside input (cargo-fuzz,
# libFuzzer, nightly toolchain): ObjectNames, the shim's wire buffers, capture
# JSON, the web configuration (and secret redaction), the serve config file,
# the topology description.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   default: 30 s each, every target
# Installs cargo-fuzz from crates.io when missing. New inputs that raise
# coverage go to fuzz/corpus/<target>/ (kept in the repository); a crash
# leaves fuzz/artifacts/<target>/crash-* and fails the script. Prints the
# executions of each run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(objectname wire capture_json web_config serve_config topology)
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q nightly || { echo "fuzz: needs the nightly toolchain (rustup toolchain install nightly)" >&2; exit 1; }
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
cargo +nightly fuzz build -O
rc=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  log="$(mktemp)"
  # -rss_limit_mb and -timeout: a slow or memory-hungry input is a finding too.
  if cargo +nightly fuzz run -O "$t" "fuzz/corpus/$t" -- \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      >"$log" 2>&1; then
    status=ok
  else
    status=FAILED; rc=1
  fi
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
  printf 'fuzz %-13s %-6s %s executions in %ss, corpus %s files\n' "$t" "$status" "$execs" "$secs" "$(ls "fuzz/corpus/$t" | wc -l)"
  [ "$status" = ok ] || tail -40 "$log"
  rm -f "$log"
done
exit "$rc"
