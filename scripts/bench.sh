#!/usr/bin/env bash
# Rerunnable load benchmark on loopback with wrk (Debian package `wrk`).
#
#   scripts/bench.sh [duration]        default duration 15s, 64 connections, 2 threads
#
# Starts release builds of the four services as separate processes (so each one's memory can be
# read), measures requests/s and latency percentiles, and prints each process's RSS afterwards.
# Then repeats GET /productpage with every service in participating tracing mode, exporting to a
# local sink, to show what span creation and export cost, and runs the all-in-one launcher.
# scripts/bench-tracing.sh compares the two tracing modes over several alternating rounds.
# Run it on an otherwise idle machine: the services, wrk and the sink share the cores.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-15s}
conns=64
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh

echo "== pass-through mode (no exporter), $conns connections, $duration each"
start_mode pass-through
run "GET /details/0" http://127.0.0.1:19181/details/0
run "GET /ratings/0" http://127.0.0.1:19182/ratings/0
run "GET /reviews/0 (v2, calls ratings)" http://127.0.0.1:19183/reviews/0
run "GET /api/v1/products/0/reviews" http://127.0.0.1:19180/api/v1/products/0/reviews
run "GET /productpage" http://127.0.0.1:19180/productpage
echo "RSS after the runs: details $(rss "${svc[0]}"), ratings $(rss "${svc[1]}"), reviews $(rss "${svc[2]}"), productpage $(rss "${svc[3]}")"
cost
cleanup

echo "== participating mode (OTLP export, 100 % sampling)"
start_mode participating
run "GET /productpage (participating)" http://127.0.0.1:19180/productpage
echo "RSS after the run: details $(rss "${svc[0]}"), ratings $(rss "${svc[1]}"), reviews $(rss "${svc[2]}"), productpage $(rss "${svc[3]}")"
cost
cleanup

echo "== the all-in-one local run (one process), reviews v2"
RUST_LOG=warn "$bin/bookinfo" --reviews v2 --port 19280 --backend-port-base 19281 >/dev/null & pids+=($!)
wait_up http://127.0.0.1:19280/health
run "GET /productpage (bookinfo --reviews v2)" http://127.0.0.1:19280/productpage
run "GET /api/v1/products/0/reviews (bookinfo)" http://127.0.0.1:19280/api/v1/products/0/reviews
echo "RSS of the whole process after the runs: $(rss "${pids[0]}")"
