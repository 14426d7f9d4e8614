#!/usr/bin/env bash
# Rerunnable load benchmark on loopback with wrk (Debian package `wrk`).
#
#   scripts/bench.sh [duration]        default duration 15s, 64 connections, 2 threads
#
# Starts release builds of the four services as separate processes (so each one's memory can be
# read), measures requests/s and latency percentiles, and prints each process's RSS afterwards.
# Then repeats GET /productpage with every service in participating tracing mode, exporting to a
# local sink, to show what span creation and export cost, and runs the all-in-one launcher.
# Run it on an otherwise idle machine: the services, wrk and the sink share the cores.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-15s}
conns=64
command -v wrk >/dev/null || { echo "error: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

cargo build --release --quiet --bins
bin=target/release
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_up() { for _ in $(seq 100); do curl -fsS -o /dev/null "$1" && return 0; sleep 0.1; done; echo "error: $1 did not come up" >&2; exit 1; }

start_stack() { # $1: extra env assignments (participating mode) or empty
  local extra=("$@") first=${#pids[@]}
  env "${extra[@]}" RUST_LOG=warn "$bin/details" 19181 & pids+=($!)
  env "${extra[@]}" RUST_LOG=warn "$bin/ratings" 19182 & pids+=($!)
  env "${extra[@]}" RUST_LOG=warn ENABLE_RATINGS=true RATINGS_HOSTNAME=127.0.0.1 RATINGS_SERVICE_PORT=19182 HOSTNAME=reviews-v2-bench "$bin/reviews" 19183 & pids+=($!)
  env "${extra[@]}" RUST_LOG=warn DETAILS_HOSTNAME=127.0.0.1 DETAILS_SERVICE_PORT=19181 REVIEWS_HOSTNAME=127.0.0.1 REVIEWS_SERVICE_PORT=19183 \
      RATINGS_HOSTNAME=127.0.0.1 RATINGS_SERVICE_PORT=19182 "$bin/productpage" 19180 & pids+=($!)
  for port in 19181 19182 19183 19180; do wait_up "http://127.0.0.1:$port/health"; done
  svc=("${pids[@]:$first:4}")
}

run() { # $1: label, $2: url
  local out
  out=$(wrk -t2 -c"$conns" -d"$duration" --latency "$2")
  printf '%-44s %10s req/s   p50 %8s   p99 %8s\n' "$1" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
    "$(awk '$1=="50%" {print $2}' <<<"$out")" \
    "$(awk '$1=="99%" {print $2}' <<<"$out")"
  if grep -q "Non-2xx" <<<"$out"; then grep "Non-2xx" <<<"$out"; fi
}

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; } # user+system CPU of a process, in 10 ms ticks

cost() { # CPU time per GET /productpage, per service: robust where throughput is noisy
  local before=() n out i=0 p t
  for p in "${svc[@]}"; do before+=("$(ticks "$p")"); done
  n=$(wrk -t1 -c8 -d"$duration" http://127.0.0.1:19180/productpage | awk '/requests in/ {print $1}')
  out="CPU per GET /productpage ($n requests at 8 connections):"
  for p in "${svc[@]}"; do
    t=$(( ($(ticks "$p") - ${before[$i]}) * 10000 ))
    out="$out ${names[$i]} $((t / n)) us"
    i=$((i + 1))
  done
  echo "$out"
}
names=(details ratings reviews productpage)

rss() { # pid -> MiB
  awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$1/status"
}

echo "== pass-through mode (no exporter), $conns connections, $duration each"
start_stack
run "GET /details/0" http://127.0.0.1:19181/details/0
run "GET /ratings/0" http://127.0.0.1:19182/ratings/0
run "GET /reviews/0 (v2, calls ratings)" http://127.0.0.1:19183/reviews/0
run "GET /api/v1/products/0/reviews" http://127.0.0.1:19180/api/v1/products/0/reviews
run "GET /productpage" http://127.0.0.1:19180/productpage
echo "RSS after the runs: details $(rss "${pids[0]}"), ratings $(rss "${pids[1]}"), reviews $(rss "${pids[2]}"), productpage $(rss "${pids[3]}")"
cost
cleanup; pids=()

echo "== participating mode (OTLP export, 100 % sampling)"
# The sink accepts OTLP batches and throws them away unread, so what is measured is the
# services' own cost (spans, header injection, protobuf encoding, export), not a backend's.
"$bin/bookinfo-tracecheck" --discard --port 19190 --query-port 19191 2>/dev/null & pids+=($!)
wait_up http://127.0.0.1:19191/healthz
start_stack OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:19190
run "GET /productpage (participating)" http://127.0.0.1:19180/productpage
echo "RSS after the run: details $(rss "${pids[1]}"), ratings $(rss "${pids[2]}"), reviews $(rss "${pids[3]}"), productpage $(rss "${pids[4]}")"
cost
cleanup; pids=()

echo "== the all-in-one local run (one process), reviews v2"
RUST_LOG=warn "$bin/bookinfo" --reviews v2 --port 19280 --backend-port-base 19281 >/dev/null & pids+=($!)
wait_up http://127.0.0.1:19280/health
run "GET /productpage (bookinfo --reviews v2)" http://127.0.0.1:19280/productpage
run "GET /api/v1/products/0/reviews (bookinfo)" http://127.0.0.1:19280/api/v1/products/0/reviews
echo "RSS of the whole process after the runs: $(rss "${pids[0]}")"
