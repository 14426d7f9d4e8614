#!/usr/bin/env bash
# The product page against its bound, and participating against pass-through, in one run.
#
#   scripts/bench-bound.sh [rounds] [duration] [memory-load]
#       defaults: 9 rounds, 4s per measurement, 60s memory load
#
# The bound (bench/bound, `bookinfo-bound`) is four bare axum servers chained with reqwest that
# make the calls of a reviews-v2 page with tiny JSON bodies: what the page's shape costs with
# nothing but the framework. The three stacks run side by side: the bound, our services in
# pass-through mode (the default configuration: access log on, version spread on) and in
# participating mode (OTLP export of every span to a discarding sink). At 16 and then at 64
# connections (wrk -t2, fresh processes for each), each round loads one stack after the other for
# [duration] while the others sit idle, starting with a different stack each round. Short rounds
# with no restarts between them keep the three measurements of a round seconds apart, so a slow
# spell of the machine hits them alike; the ratios are taken per round and their median printed. Then memory: the four services' RSS
# idle, and after a load of [memory-load] at 64 connections; then the same for the bound's four
# servers, so that both footprints come from one run.
#
# Targets (see docs/performance.md): page/bound >= 0.8 and p99 <= 1.5x the bound's at both
# connection counts; participating/pass-through >= 0.85; RSS <= 25 MiB idle, <= 40 MiB loaded.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-9}
duration=${2:-4s}
memload=${3:-60s}
conns=64
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ms() { awk '{v=$1; if (v ~ /us$/) v=v/1000; else if (v ~ /ms$/) v=v+0; else if (v ~ /s$/) v=v*1000; printf "%.2f\n", v}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

start_bound() {
  local first=${#pids[@]}
  "$bin/bookinfo-bound" ratings 19282 & pids+=($!)
  "$bin/bookinfo-bound" details 19281 & pids+=($!)
  "$bin/bookinfo-bound" reviews 19283 http://127.0.0.1:19282 & pids+=($!)
  "$bin/bookinfo-bound" productpage 19280 http://127.0.0.1:19281 http://127.0.0.1:19283 & pids+=($!)
  wait_up http://127.0.0.1:19280/productpage
  svc=("${pids[@]:$first:4}")
}

# The three stacks side by side, each on its own ports: the bound on 19280-19283, pass-through on
# 19180-19183, participating on 19380-19383 with its sink on 19190. Only one is loaded at a time;
# the others sit idle.
declare -A url_of=([bound]=http://127.0.0.1:19280/productpage
  [pass-through]=http://127.0.0.1:19180/productpage
  [participating]=http://127.0.0.1:19380/productpage)
start_all() {
  start_bound
  start_mode pass-through
  stack_port=19380 start_mode participating
}
stacks=(bound pass-through participating)

declare -A rps_of p99_of
for c in 16 64; do
  conns=$c
  echo "== GET /productpage at $c connections, $rounds alternating rounds of $duration"
  start_all
  for s in "${stacks[@]}"; do duration=2s run "warm-up: $s" "${url_of[$s]}" >/dev/null; done
  for r in $(seq "$rounds"); do
    # Each round starts with the next stack, so that none is always measured first or last.
    for i in 0 1 2; do
      s=${stacks[$(((r + i) % 3))]}
      run "round $r: $s" "${url_of[$s]}"
      rps_of[$c,$s,$r]=$rps p99_of[$c,$s,$r]=$(ms <<<"$p99")
    done
  done
  cleanup
done

echo
echo "== ratios (median of the per-round ratios)"
for c in 16 64; do
  page=() p99s=() part=()
  for r in $(seq "$rounds"); do
    page+=("$(ratio "${rps_of[$c,pass-through,$r]}" "${rps_of[$c,bound,$r]}")")
    p99s+=("$(ratio "${p99_of[$c,pass-through,$r]}" "${p99_of[$c,bound,$r]}")")
    part+=("$(ratio "${rps_of[$c,participating,$r]}" "${rps_of[$c,pass-through,$r]}")")
  done
  printf '%3s connections: page/bound %s (rounds: %s)   p99 page/bound %s   participating/pass-through %s (rounds: %s)\n' \
    "$c" "$(printf '%s\n' "${page[@]}" | median)" "${page[*]}" \
    "$(printf '%s\n' "${p99s[@]}" | median)" \
    "$(printf '%s\n' "${part[@]}" | median)" "${part[*]}"
done

echo
echo "== memory: the four services (pass-through), idle and after $memload at 64 connections"
kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
sum_rss() { local t=0 p; for p in "${svc[@]}"; do t=$((t + $(kib "$p"))); done; awk -v k="$t" 'BEGIN {printf "%.1f MiB", k / 1024}'; }
# How much of an executable is resident depends on how it entered the page cache
# (docs/performance.md, "Memory"): both footprints start from binaries read afresh.
uncache() { local f; for f in "$@"; do dd if="$f" iflag=nocache count=0 status=none; done; }
uncache "$bin"/{details,ratings,reviews,productpage}
start_mode pass-through
sleep 1
echo "idle: $(sum_rss) (details $(rss "${svc[0]}"), ratings $(rss "${svc[1]}"), reviews $(rss "${svc[2]}"), productpage $(rss "${svc[3]}"))"
conns=64 duration=$memload
run "load $memload" http://127.0.0.1:19180/productpage
echo "after load: $(sum_rss) (details $(rss "${svc[0]}"), ratings $(rss "${svc[1]}"), reviews $(rss "${svc[2]}"), productpage $(rss "${svc[3]}"))"
cleanup

echo
echo "== memory: the bound's four servers, idle and after $memload at 64 connections"
uncache "$bin/bookinfo-bound"
start_bound
sleep 1
echo "idle: $(sum_rss)"
run "load $memload" http://127.0.0.1:19280/productpage
echo "after load: $(sum_rss)"
cleanup
