#!/usr/bin/env bash
# Runs the jose benchmarks (jose/bench_test.go) and prints a benchstat
# comparison with one column per implementation, raw (the bare stdlib
# primitive) first so that every other column shows its ratio to it.
#
#   scripts/bench.sh                 # every benchmark, -count 6 (long: ~25 min)
#
# Knobs, all optional (environment variables):
#   BENCH      -bench regexp (default ".")
#   COUNT      samples per benchmark (default 6)
#   BENCHTIME  -benchtime (default: go test's, 1s)
#   ROUNDS     if set, take COUNT=1 samples in ROUNDS interleaved passes
#              over all selected benchmarks instead of COUNT back-to-back
#              samples of each: better on a machine with other load
#   OUT        raw results file (default bench.txt); appended to with
#              APPEND=1, so that several selections can be combined
#   STAT_ONLY  if set, skip running and only summarize OUT
#   STATFLAGS  extra benchstat flags, e.g. "-alpha 1" to print every delta
#              even when a few samples cannot make it significant
#
# See docs/bench.md for the method and the latest results.
set -euo pipefail
cd "$(dirname "$0")/.."

benchstat=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
out=${OUT:-bench.txt}
bench=${BENCH:-.}
count=${COUNT:-6}
benchtime=()
if [ -n "${BENCHTIME:-}" ]; then benchtime=(-benchtime "$BENCHTIME"); fi

if [ -z "${STAT_ONLY:-}" ]; then
  if [ -z "${APPEND:-}" ]; then : > "$out"; fi
  if [ -z "${ROUNDS:-}" ]; then
    go test -run '^$' -bench "$bench" -benchmem -count "$count" "${benchtime[@]}" ./jose >> "$out"
  else
    bin=$(mktemp -d)/jose.test
    trap 'rm -rf "$(dirname "$bin")"' EXIT
    go test -c -o "$bin" ./jose
    for ((i = 1; i <= ROUNDS; i++)); do
      echo "round $i/$ROUNDS" >&2
      (cd jose && "$bin" -test.run '^$' -test.bench "$bench" -test.benchmem -test.count 1 "${benchtime[@]/#-/-test.}") >> "$out"
    done
  fi
fi

# shellcheck disable=SC2086 # STATFLAGS is a list of flags
go run "$benchstat" ${STATFLAGS:-} -col '/impl@(raw nonrep gojose jwx)' "$out"
