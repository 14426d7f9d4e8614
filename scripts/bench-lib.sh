# Shared part of the scripts/bench*.sh scripts; sourced, not run, from the
# repository root. Checks for wrk and builds the release binaries, unless BENCH_BIN names a
# directory of binaries to measure instead. Expects $conns, $duration.

command -v wrk >/dev/null || { echo "error: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
# BENCH_BIN names a directory holding an earlier build's binaries (the four services,
# bookinfo-tracecheck, bookinfo-bound) to measure instead of building target/release.
if [ -n "${BENCH_BIN:-}" ]; then
  bin=$BENCH_BIN
else
  cargo build --release --quiet --bins
  bin=target/release
fi

pids=()
# Stops everything started, newest first and one at a time, so the services flush their last
# spans into a sink that is still there.
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  pids=()
  # The access logs of a finished stack are not kept: a long run would fill the disk.
  if [ -n "${logs:-}" ]; then rm -f "$logs"/*.log; fi
}
finish() { cleanup; rm -rf "${logs:-}"; }
trap finish EXIT

# Polls until $1 answers; the refusals before the service listens are expected and not shown.
wait_up() { for _ in $(seq "${wait_tries:-100}"); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "error: $1 did not come up" >&2; exit 1; }

# The four services as separate processes on ports $stack_port to $stack_port + 3 (productpage,
# details, ratings, reviews v2; 19180 to 19183 unless the caller sets `stack_port`), in their default
# configuration: the access log is on (RUST_LOG=info) and goes to a file per service in $logs, as
# a container's log would. Arguments are extra environment assignments for every service
# (participating mode) or nothing. Sets ${svc[@]}.
# A non-empty ${wrap[@]} (a command such as valgrind) runs each service under it.
wrap=()
stack_port=19180
logs=$(mktemp -d "${TMPDIR:-/tmp}/bookinfo-bench-logs.XXXXXX")
start_stack() {
  local extra=("$@") first=${#pids[@]} pp=$stack_port
  local dp=$((pp + 1)) rp=$((pp + 2)) vp=$((pp + 3))
  env "${extra[@]}" "${wrap[@]}" "$bin/details" "$dp" >>"$logs/details-$dp.log" 2>&1 & pids+=($!)
  env "${extra[@]}" "${wrap[@]}" "$bin/ratings" "$rp" >>"$logs/ratings-$rp.log" 2>&1 & pids+=($!)
  env "${extra[@]}" ENABLE_RATINGS=true RATINGS_HOSTNAME=127.0.0.1 RATINGS_SERVICE_PORT="$rp" HOSTNAME=reviews-v2-bench "${wrap[@]}" "$bin/reviews" "$vp" >>"$logs/reviews-$vp.log" 2>&1 & pids+=($!)
  env "${extra[@]}" DETAILS_HOSTNAME=127.0.0.1 DETAILS_SERVICE_PORT="$dp" REVIEWS_HOSTNAME=127.0.0.1 REVIEWS_SERVICE_PORT="$vp" \
      RATINGS_HOSTNAME=127.0.0.1 RATINGS_SERVICE_PORT="$rp" "${wrap[@]}" "$bin/productpage" "$pp" >>"$logs/productpage-$pp.log" 2>&1 & pids+=($!)
  for port in "$dp" "$rp" "$vp" "$pp"; do wait_up "http://127.0.0.1:$port/health"; done
  svc=("${pids[@]:$first:4}")
}

# The discard sink for participating mode: accepts OTLP batches and drops them unread, so what is
# measured is the services' own cost (spans, injection, encoding, export), not a backend's.
start_sink() {
  "$bin/bookinfo-tracecheck" --discard --port 19190 --query-port 19191 2>/dev/null & pids+=($!)
  wait_up http://127.0.0.1:19191/healthz
}
participating=(OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:19190)

# The stack in one tracing mode (participating: with the sink), after one page view that opens
# the connection pools.
start_mode() { # $1: pass-through | participating
  case $1 in
    pass-through) start_stack ;;
    participating) start_sink; start_stack "${participating[@]}" ;;
    *) echo "error: unknown mode '$1'" >&2; exit 2 ;;
  esac
  curl -fsS -o /dev/null "http://127.0.0.1:$stack_port/productpage"
}

# Runs a measuring command once per tracing mode, each on a freshly started stack, with the label
# "<scenario>, <mode>" appended to its arguments. The value the command leaves in the variable
# named $2 is kept per mode in $base (pass-through) and $part (participating).
each_mode() { # $1: scenario, $2: result variable, $3...: command
  local mode
  for mode in pass-through participating; do
    start_mode "$mode"
    "${@:3}" "$1, $mode"
    if [ "$mode" = pass-through ]; then base=${!2}; else part=${!2}; fi
    cleanup
  done
}

# What the load generator sends besides the request line: nothing extra (`direct`, a user
# calling productpage straight), or the trace headers an Istio ingress gateway and productpage's
# sidecar add to every request (`gateway`: scripts/gateway-headers.lua). Sets ${wrk_args[@]}.
wrk_args=()
scenario() { # $1: direct | gateway
  case $1 in
    direct) wrk_args=() ;;
    gateway) wrk_args=(-s scripts/gateway-headers.lua) ;;
    *) echo "error: unknown scenario '$1' (expected direct or gateway)" >&2; exit 2 ;;
  esac
}

# wrk at $conns connections; sets $rps, $p50, $p99 and prints one line.
run() { # $1: label, $2: url
  local out
  out=$(wrk -t2 -c"$conns" -d"$duration" --latency "${wrk_args[@]}" "$2")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  printf '%-44s %10s req/s   p50 %8s   p99 %8s\n' "$1" "$rps" "$p50" "$p99"
  if grep -q "Non-2xx" <<<"$out"; then grep "Non-2xx" <<<"$out"; fi
}

ticks() { awk '{print $14, $15}' "/proc/$1/stat"; } # user and system CPU of a process, in 10 ms ticks
names=(details ratings reviews productpage)

# CPU time per GET /productpage, per service and split into user and kernel time: steadier than
# throughput on a shared machine, and it shows the kernel's (network) share, which tracing
# hardly changes. $1: an optional label. Sets $cpu (total microseconds per page).
cost() {
  local before=() n out i=0 p u s u0 s0 user=0 kernel=0
  for p in "${svc[@]}"; do before+=("$(ticks "$p")"); done
  n=$(wrk -t1 -c8 -d"$duration" "${wrk_args[@]}" http://127.0.0.1:19180/productpage | awk '/requests in/ {print $1}')
  out="CPU per GET /productpage ($n requests at 8 connections):"
  for p in "${svc[@]}"; do
    read -r u0 s0 <<<"${before[$i]}"
    read -r u s <<<"$(ticks "$p")"
    user=$((user + (u - u0) * 10000)) kernel=$((kernel + (s - s0) * 10000))
    out="$out ${names[$i]} $(((u - u0 + s - s0) * 10000 / n)) us"
    i=$((i + 1))
  done
  cpu=$(((user + kernel) / n))
  echo "${1:+$1: }$out, total $cpu us (user $((user / n)), kernel $((kernel / n)))"
}

rss() { awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$1/status"; } # pid -> MiB
