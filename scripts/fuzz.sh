#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer) of the parsers that take outside input:
# ObjectNames, the shim's wire buffers, capture JSON, the web configuration
# (and secret redaction), the serve config file, the topology description.
# The targets' bodies are fuzz/src/lib.rs; docs/fuzzing.md records the runs.
#
#   scripts/fuzz.sh [--plain] [--time SECONDS] [--runs N] [--cmin] [TARGET...]
#       Each target in turn until N executions or SECONDS (whichever comes
#       first; default 30 s). New inputs go to fuzz/corpus/<target>/ (kept in
#       the repository); --cmin minimises each corpus afterwards;
#       fuzz/regressions/<target>/ (inputs that once crashed) is read too.
#       Prints one docs/fuzzing.md table row per run. The build: cargo-fuzz on
#       nightly, AddressSanitizer, release with debug assertions and overflow
#       checks; with --plain: the stable toolchain, the same build without a
#       sanitizer (the coverage flags cargo-fuzz passes are stable; the
#       parsers have no `unsafe`), in fuzz/target/plain. The long runs:
#       `nice -n 19 scripts/fuzz.sh --plain --runs 10000000 --cmin`.
#   scripts/fuzz.sh --ci [--time SECONDS] [TARGET...]
#       CI's short run (default 5 s per target, run by scripts/test.sh after
#       the tests): the quick build (stable, no sanitizer, the debug profile in
#       the main target dir, reusing the main build's dependencies; coverage
#       only in ksbridge and the fuzz crate: fuzz/sancov-rustc); the
#       committed corpus is read, never written.
#   scripts/fuzz.sh 3600 wire     (the older form: SECONDS first)
#
# A crash, a leak, a 10 s input or a 2 GB input fails the script and leaves
# fuzz/artifacts/<target>/crash-* (replay: the target's binary with the file,
# e.g. fuzz/target/plain/x86_64-unknown-linux-gnu/release/TARGET FILE, or
# cargo +nightly fuzz run TARGET FILE).
set -euo pipefail
cd "$(dirname "$0")/.."

all=(objectname wire capture_json web_config serve_config topology)
# Longest input per target: what a real input of its kind needs, with room
# (ObjectNames need not be 1 MB; shorter inputs keep the rate up).
max_len() {
  case "$1" in
    objectname) echo 1024 ;;
    wire | web_config | serve_config) echo 4096 ;;
    capture_json | topology) echo 16384 ;;
    *) echo 65536 ;;
  esac
}

ci=0 plain=0 cmin=0 secs="" runs="" targets=()
while (($#)); do
  case "$1" in
    --ci) ci=1 ;;
    --plain) plain=1 ;;
    --cmin) cmin=1 ;;
    --time) secs="$2"; shift ;;
    --runs) runs="$2"; shift ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    [0-9]*) secs="$1" ;;
    -*) echo "fuzz: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
((${#targets[@]})) || targets=("${all[@]}")
if [ -z "$secs" ] && [ -z "$runs" ]; then
  if ((ci)); then secs=5; else secs=30; fi
fi
limit=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
[ -z "$secs" ] || limit+=("-max_total_time=$secs")
[ -z "$runs" ] || limit+=("-runs=$runs")
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
triple="$(rustc -vV | sed -n 's/^host: //p')"

if ((ci)); then
  # The quick build (what CI can afford): the debug profile in the main
  # crate's target dir, so the dependencies the main debug build compiled are
  # reused as they are (plain: the wrapper instruments only ksbridge and the
  # fuzz crate, which keep their debug assertions and overflow checks). What
  # is compiled anew: ksbridge without its `agent` feature, the fuzz crate,
  # libFuzzer (libfuzzer-sys) and the few dependencies whose features or
  # build tools differ from the main build's (clap, ring, rustls).
  target_dir="${CARGO_TARGET_DIR:-target}"
  t0=$(date +%s)
  # A one-off build: no incremental cache for the two local crates.
  CARGO_INCREMENTAL=0 RUSTC_WRAPPER="$PWD/fuzz/sancov-rustc" cargo build --manifest-path fuzz/Cargo.toml \
    --target-dir "$target_dir" --bins --quiet
  echo "fuzz: quick build took $(($(date +%s) - t0)) s"
  bin_dir="$target_dir/debug"
elif ((plain)); then
  # The instrumentation cargo-fuzz adds (fuzz/target/<triple>/release), minus
  # the sanitizer, in every crate; a target dir of its own, so neither build
  # evicts the other. --target keeps the flags off build scripts.
  export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-simplifycfg-branch-fold-threshold=0 \
--cfg fuzzing -Cdebug-assertions"
  cargo build --manifest-path fuzz/Cargo.toml --release --target "$triple" \
    --target-dir fuzz/target/plain --bins --quiet
  bin_dir="fuzz/target/plain/$triple/release"
else
  command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
  rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
  cargo +nightly fuzz build
  bin_dir="fuzz/target/$triple/release"
fi

final_stat() { grep -o "stat::$1: *[0-9]*" "$log" | grep -o '[0-9]*$' || echo '?'; }
commit="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src fuzz/src || echo '+changes')"
rc=0
for t in "${targets[@]}"; do
  corpus="fuzz/corpus/$t"
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  log="$(mktemp)"
  if ((ci)); then
    # New inputs go to a scratch directory: CI reads the corpus, never grows it.
    scratch="$(mktemp -d)"
    dirs=("$scratch" "$corpus")
  else
    dirs=("$corpus")
  fi
  # Inputs that once crashed a target (kept apart: minimising drops them).
  [ ! -d "fuzz/regressions/$t" ] || dirs+=("fuzz/regressions/$t")
  start=$(date +%s%N)
  # A slow or memory-hungry input is a finding too (-timeout, -rss_limit_mb).
  if ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_odr_violation=0" \
      "$bin_dir/$t" "${dirs[@]}" "${limit[@]}" "-max_len=$(max_len "$t")" \
      "-artifact_prefix=fuzz/artifacts/$t/" >"$log" 2>&1; then
    status=ok crashes=0
  else
    status=FAILED crashes=1 rc=1
  fi
  wall=$((($(date +%s%N) - start) / 1000000000))
  ((ci)) && rm -rf "$scratch"
  execs="$(final_stat number_of_executed_units)"
  rate="$(final_stat average_exec_per_sec)"
  before="$(find "$corpus" -maxdepth 1 -type f | wc -l)"
  if ((cmin)) && [ "$status" = ok ]; then
    # The smallest set of inputs covering every edge the corpus reaches
    # (set cover over edges, hit counts ignored): a few hundred files, where
    # `cargo fuzz cmin` keeps thousands.
    min="$(mktemp -d)"
    if "$bin_dir/$t" -set_cover_merge=1 -use_counters=0 "-max_len=$(max_len "$t")" \
        "$min" "$corpus" >/dev/null 2>&1; then
      find "$corpus" -maxdepth 1 -type f -delete && cp "$min"/* "$corpus"/
    else
      echo "fuzz: minimising the corpus of $t failed" >&2
    fi
    rm -rf "$min"
  fi
  files="$(find "$corpus" -maxdepth 1 -type f | wc -l)"
  printf 'fuzz %-13s %-6s %s executions in %s s (%s/s, peak RSS %s MB), corpus %s -> %s files\n' \
    "$t" "$status" "$execs" "$wall" "$rate" "$(final_stat peak_rss_mb)" "$before" "$files"
  ((ci)) || printf '| %s | %s | `%s` | %s | %s s | %s | %s -> %s | %s |\n' \
    "$(date -u +%F)" "$commit" "$t" "$execs" "$wall" "$rate" "$before" "$files" "$crashes"
  [ "$status" = ok ] || tail -40 "$log"
  rm -f "$log"
done
exit "$rc"
