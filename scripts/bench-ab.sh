#!/usr/bin/env bash
# Two builds (or two configurations) of the services against each other, in one run.
#
#   scripts/bench-ab.sh <dir-a> <dir-b> [rounds] [duration] [connections] [VAR=value...]
#       defaults: 9 rounds, 4s per measurement, 16 connections
#
# <dir-a> and <dir-b> hold the four service binaries (productpage, details, reviews, ratings),
# e.g. copies of target/release taken before and after a change; `target/release` itself may be
# either. The assignments after the numbers go to stack B only, so that one build can be set
# against itself with a different configuration (`BACKEND_CONNECTIONS=pooled`). Each stack runs
# in pass-through mode on its own ports (A on 19180-19183, B on 19380-19383); each round loads
# one and then the other for [duration] (wrk -t2), A first in odd rounds, B first in even ones.
# Prints each round and the median of the per-round throughput ratios B/A.
# With AB_MODE=participating both stacks run in participating mode instead, exporting every span
# to one discarding sink (on 19190), so that a change to the tracing path is measured where it
# runs.
#
# A change whose gain is in scheduling or in the kernel (which scripts/bench-instructions.sh does
# not count) is judged by this; docs/performance.md ("Fifth round") has results, and what the
# same build against itself gives (a median of 1.003, single rounds from 0.92 to 1.14).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
fi
dir_a=$1 dir_b=$2
rounds=${3:-9}
duration=${4:-4s}
conns=${5:-16}
extra=("${@:6}")
for d in "$dir_a" "$dir_b"; do
  for b in productpage details reviews ratings; do
    [ -x "$d/$b" ] || { echo "error: $d/$b is not an executable" >&2; exit 2; }
  done
done
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

case ${AB_MODE:=pass-through} in
  pass-through) both=() ;;
  participating) start_sink; both=("${participating[@]}") ;;
  *) echo "error: unknown AB_MODE '$AB_MODE' (expected pass-through or participating)" >&2; exit 2 ;;
esac
bin=$dir_a start_stack "${both[@]}"
bin=$dir_b stack_port=19380 start_stack "${both[@]}" "${extra[@]}"
declare -A url_of=([A]=http://127.0.0.1:19180/productpage [B]=http://127.0.0.1:19380/productpage)
for s in A B; do
  curl -fsS -o /dev/null "${url_of[$s]}"
  duration=2s run "warm-up: $s" "${url_of[$s]}" >/dev/null
done

echo "== GET /productpage at $conns connections, $rounds alternating rounds of $duration, $AB_MODE"
echo "A: $dir_a"
echo "B: $dir_b${extra[*]:+ with ${extra[*]}}"
ratios=()
declare -A rps_of
for r in $(seq "$rounds"); do
  if ((r % 2)); then order=(A B); else order=(B A); fi
  for s in "${order[@]}"; do
    run "round $r: $s" "${url_of[$s]}"
    rps_of[$s]=$rps
  done
  ratios+=("$(awk -v a="${rps_of[A]}" -v b="${rps_of[B]}" 'BEGIN {printf "%.3f", b / a}')")
done
echo "B/A per round: ${ratios[*]}"
echo "median B/A: $(printf '%s\n' "${ratios[@]}" | median)"
