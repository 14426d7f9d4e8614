#!/usr/bin/env bash
# What participating tracing costs, and whether it loses anything under load.
#
#   scripts/bench-tracing.sh [rounds] [duration] [scenario...]
#       default 5 rounds of 10s per mode, scenarios `direct` and `gateway`
#
# 1. GET /productpage at 64 connections, pass-through against participating (OTLP export of every
#    span to a sink that reads and drops it), in alternating rounds so that machine noise hits
#    both modes alike. Prints each round, the per-round ratios and their median. Once per
#    scenario (scripts/bench-lib.sh): `direct` requests carry no trace headers, so only
#    participating services send any; `gateway` requests carry the B3 headers an Istio ingress
#    gateway's sidecar adds, which pass-through services forward and participating ones replace:
#    the cost of participating inside a mesh. Then, per scenario, the services' CPU time per page
#    in each mode (user and kernel), which is steadier than throughput on a shared machine.
# 2. The same load (direct, for 2 s or 20,000 page views) once more in participating mode against
#    the real collector of `bookinfo-tracecheck`: after a graceful stop (which flushes), every page
#    view must have arrived as one complete 7-span tree.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
duration=${2:-10s}
scenarios=("${@:3}")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(direct gateway)
conns=64
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ms() { awk '{v=$1; if (v ~ /us$/) v=v/1000; else if (v ~ /ms$/) v=v+0; else if (v ~ /s$/) v=v*1000; printf "%.2f\n", v}'; }

for name in "${scenarios[@]}"; do
  scenario "$name"
  echo "== throughput ($name): $rounds alternating rounds, GET /productpage, $conns connections, $duration each"
  ratios=() base_rps=() part_rps=() base_p99=() part_p99=()
  for r in $(seq "$rounds"); do
    start_mode pass-through
    run "round $r: pass-through" http://127.0.0.1:19180/productpage
    base_rps+=("$rps") base_p99+=("$(ms <<<"$p99")")
    base=$rps
    cleanup

    start_mode participating
    run "round $r: participating" http://127.0.0.1:19180/productpage
    part_rps+=("$rps") part_p99+=("$(ms <<<"$p99")")
    ratio=$(awk -v a="$rps" -v b="$base" 'BEGIN {printf "%.2f", a / b}')
    echo "round $r: ratio $ratio"
    ratios+=("$ratio")
    cleanup
  done
  echo "$name medians: pass-through $(printf '%s\n' "${base_rps[@]}" | median) req/s, p99 $(printf '%s\n' "${base_p99[@]}" | median) ms;" \
    "participating $(printf '%s\n' "${part_rps[@]}" | median) req/s, p99 $(printf '%s\n' "${part_p99[@]}" | median) ms"
  echo "$name: participating / pass-through requests/s per round: ${ratios[*]}; median $(printf '%s\n' "${ratios[@]}" | median)"
  each_mode "$name" cpu cost
  awk -v n="$name" -v a="$base" -v b="$part" \
    'BEGIN {printf "%s: pass-through / participating CPU per page: %.2f\n", n, a / b}'
done

scenario direct
echo "== completeness under the same load (direct, participating, real collector)"
"$bin/bookinfo-tracecheck" --port 19190 --query-port 19191 2>/dev/null & pids+=($!)
wait_up http://127.0.0.1:19191/healthz
start_stack "${participating[@]}" OTEL_BSP_SCHEDULE_DELAY=200
curl -fsS -X DELETE -o /dev/null http://127.0.0.1:19191/traces # forget the readiness probes
# At most two seconds and 10,000 page views per wrk thread: the collector keeps at most 200,000
# spans (tracecheck's MAX_SPANS) and forgets the older half past that, and a page view is 7 spans.
# A time limit alone overflowed it on a machine serving 15,000 page views per second.
done_requests=$(CAP_RESPONSES=10000 wrk -t2 -c"$conns" -d2s -s scripts/capped.lua http://127.0.0.1:19180/productpage | awk '/requests in/ {print $1}')
for p in "${svc[@]}"; do kill -TERM "$p"; done # graceful stop: buffered spans are flushed
for p in "${svc[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done
curl -fsS http://127.0.0.1:19191/traces | python3 -c '
import json, sys
requests = int(sys.argv[1])
report = json.load(sys.stdin)
traces = report["traces"]
whole = [t for t in traces if not t["violations"]]
complete = [t for t in whole if t["spans"] == 7]
print(f"{requests} page views completed by wrk; collector: {report['"'"'spans'"'"']} spans in {len(traces)} traces, "
      f"{len(complete)} complete 7-span trees, {len(traces) - len(whole)} broken, "
      f"{len(report['"'"'rejected'"'"'])} rejected payloads")
# Every request wrk saw complete must be a complete tree, and no trace may be broken. Requests
# still in flight when wrk stopped (at most one per connection, on both sides of its clock)
# add a few trees, whole or cut short.
ok = len(whole) == len(traces) and requests <= len(complete) and len(traces) - requests <= 2 * int(sys.argv[2])
print("every page view is one whole tree" if ok else "INCOMPLETE: spans were lost or misparented")
for t in [t for t in traces if t["violations"]][:3]:
    print("broken trace", t["trace_id"], "; ".join(t["violations"]))
    print(t["tree"])
sys.exit(0 if ok else 1)
' "$done_requests" "$conns"
