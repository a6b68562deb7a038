#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECS seconds each (default 20) on the stable
# toolchain (`-s none`: no sanitizer; panics, overflows in debug assertions and aborts are still
# caught). Seeds come from fuzz/corpus/<target>/ (never written to: new inputs go to a scratch
# dir). Prints one line per target with its executions; exits non-zero when a target crashes,
# leaving the input in fuzz/artifacts/<target>/ (turn it into a regression test).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECS="${1:-20}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo fuzz build -s none --release
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
status=0
for t in $(cargo fuzz list); do
  mkdir -p "$scratch/$t"
  log="$scratch/$t.log"
  if cargo fuzz run -s none --release "$t" "$scratch/$t" "corpus/$t" -- \
      -max_total_time="$SECS" -print_final_stats=1 >"$log" 2>&1; then
    result=ok
  else
    result=CRASH
    status=1
    tail -n 40 "$log" >&2
  fi
  runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
  echo "fuzz $t: $result, $runs executions in ${SECS}s"
done
exit "$status"
