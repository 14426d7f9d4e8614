#!/usr/bin/env bash
# What each BACKEND_CONNECTIONS policy costs: GET /productpage at 64 connections on loopback, with
# the four services as separate processes (reviews v2, so every page makes three backend calls),
# one fresh stack per policy, in one run.
#
#   scripts/bench-connections.sh [duration] [port base]     default 20s per policy, ports 19380-19383
#
# pooled keeps connections; spread (the default) retires them after use at a bounded rate;
# per-call opens one per call, as upstream does. Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-20s}
base=${2:-19380}
conns=64
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh

pp=$base details=$((base + 1)) ratings=$((base + 2)) reviews=$((base + 3))
start() { # $1: policy
  local policy=(BACKEND_CONNECTIONS="$1")
  env "${policy[@]}" "$bin/details" "$details" & pids+=($!)
  env "${policy[@]}" "$bin/ratings" "$ratings" & pids+=($!)
  env "${policy[@]}" ENABLE_RATINGS=true RATINGS_HOSTNAME=127.0.0.1 RATINGS_SERVICE_PORT="$ratings" \
      HOSTNAME=reviews-v2-bench "$bin/reviews" "$reviews" & pids+=($!)
  env "${policy[@]}" DETAILS_HOSTNAME=127.0.0.1 DETAILS_SERVICE_PORT="$details" REVIEWS_HOSTNAME=127.0.0.1 \
      REVIEWS_SERVICE_PORT="$reviews" RATINGS_HOSTNAME=127.0.0.1 RATINGS_SERVICE_PORT="$ratings" \
      "$bin/productpage" "$pp" & pids+=($!)
  for port in "$details" "$ratings" "$reviews" "$pp"; do wait_up "http://127.0.0.1:$port/health"; done
  curl -fsS -o /dev/null "http://127.0.0.1:$pp/productpage"
}

echo "== GET /productpage, $conns connections, $duration per policy"
for policy in pooled spread per-call; do
  start "$policy"
  run "BACKEND_CONNECTIONS=$policy" "http://127.0.0.1:$pp/productpage"
  cleanup
done
