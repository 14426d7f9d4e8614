#!/usr/bin/env bash
# What participating tracing costs in CPU instructions: a measure the machine's noise cannot move.
#
#   scripts/bench-instructions.sh [duration] [scenario...]
#       default 30s of load per mode, scenarios `direct` and `gateway` (see scripts/bench-lib.sh)
#
# Runs the four services under `valgrind --tool=callgrind` (Debian package `valgrind`), which
# counts the instructions each process executes, whatever else the machine is doing. For each
# mode (pass-through, then participating with OTLP export to a discard sink) it warms the stack
# up, zeroes the counters, sends GET /productpage from two connections for `duration`, and prints
# instructions per page view per service and in total, then the ratio of the totals. The counts
# include everything a service does for a page: parsing, handlers, spans, injection, and the
# export thread's encoding and posting. Throughput comparisons (scripts/bench-tracing.sh) swing by
# a third between runs on a shared machine; these numbers repeat to within about 1 %.
# KEEP_CALLGRIND=1 keeps callgrind's files (the directory is printed) for `callgrind_annotate`;
# with BENCH_BIN naming a `cargo build --profile profiling` build, they carry function names.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-30s}
scenarios=("${@:2}")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(direct gateway)
conns=2
command -v valgrind >/dev/null || { echo "error: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
out=$(mktemp -d)
wrap=(valgrind --tool=callgrind --callgrind-out-file="$out/%p.out")
# Pooled connections: the default policy (spread) retires up to 100 connections per second and
# destination, a rate in time, so under callgrind (about 150 page views per second instead of
# thousands) most calls would open a new connection and the counts would measure that. The
# throughput scripts keep the default.
export BACKEND_CONNECTIONS=pooled
wait_tries=600 # services start slowly under valgrind

# callgrind_control finds a process through a file named after the process's $HOSTNAME, which the
# stack sets for reviews (its pod name); so ask with the same one.
control() { # $1: -z (zero) or -d (dump), $2: pid; quiet unless it fails
  local host out
  host=$(tr '\0' '\n' <"/proc/$2/environ" | sed -n 's/^HOSTNAME=//p')
  out=$(env ${host:+HOSTNAME="$host"} callgrind_control "$1" "$2" 2>&1) || { echo "$out" >&2; return 1; }
}

measure() { # $1: label; prints instructions per page view, sets $total
  wrk -t1 -c"$conns" -d5s "${wrk_args[@]}" http://127.0.0.1:19180/productpage >/dev/null
  local p pages ir line="" i=0 vg=() name
  # The processes valgrind runs (not always the PIDs the shell started).
  for name in "${names[@]}"; do vg+=("$(pgrep -n -f -- "$bin/$name 191")"); done
  for p in "${vg[@]}"; do control -z "$p"; done
  pages=$(wrk -t1 -c"$conns" -d"$duration" "${wrk_args[@]}" http://127.0.0.1:19180/productpage | awk '/requests in/ {print $1}')
  for p in "${vg[@]}"; do control -d "$p"; done
  total=0
  for p in "${vg[@]}"; do
    # The dump written on request (`<pid>.out.1`) holds only what ran after the zeroing.
    ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$out/$p.out.1")
    line="$line ${names[$i]} $((ir / pages))"
    total=$((total + ir / pages))
    i=$((i + 1))
  done
  printf '%-26s instructions per GET /productpage (%s pages):%s, total %s\n' "$1" "$pages" "$line" "$total"
}

for name in "${scenarios[@]}"; do
  scenario "$name"
  each_mode "$name" total measure
  awk -v n="$name" -v a="$base" -v b="$part" \
    'BEGIN {printf "%s: participating / pass-through instructions: %.3f (throughput bound on CPU: %.2f)\n", n, b / a, a / b}'
done
if [ -n "${KEEP_CALLGRIND:-}" ]; then
  echo "callgrind files kept in $out"
else
  rm -rf "$out"
fi
