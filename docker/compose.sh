#!/usr/bin/env bash
# `make compose`: BookInfo in Docker, built from this repository, on a machine that may be
# unable to pull anything.
#
#   1. builds the images with docker/images.sh: release binaries compiled here, the
#      Dockerfile's `prebuilt` path, a Debian base made locally with debootstrap;
#   2. starts compose.yaml with whichever compose is installed (`docker compose`, else the
#      standalone `docker-compose`);
#   3. traces go to Jaeger when its image is already present, otherwise to the in-repo
#      collector bookinfo-tracecheck (compose.ci.yaml), whose /traces view lists every trace
#      as a checked tree;
#   4. waits until every container is healthy, then says which path it took and what to open.
#
#   bash docker/compose.sh          # make compose
#   bash docker/compose.sh down     # make compose-down: stop and remove everything
#
# Environment: BOOKINFO_PORT (9080) and JAEGER_UI_PORT (16686) move the host ports;
# BOOKINFO_PROJECT (bookinfo) names the compose project.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=docker/lib.sh
source docker/lib.sh

PROJECT="${BOOKINFO_PROJECT:-bookinfo}"
export BOOKINFO_PORT="${BOOKINFO_PORT:-9080}"
export JAEGER_UI_PORT="${JAEGER_UI_PORT:-16686}"
JAEGER_IMAGE=$(grep -oE 'jaegertracing/jaeger:[^ "]+' compose.yaml | head -n 1)

say() { printf '==> %s\n' "$*"; }
die() {
    printf 'compose: %s\n' "$*" >&2
    exit 1
}

docker_up || die "no Docker engine reachable (is the docker service running, and may this user use it?)"
find_compose || exit 1

if [[ "${1:-up}" == down ]]; then
    # Both files: whichever set `up` used, every container of the project goes.
    "${COMPOSE[@]}" -p "$PROJECT" -f compose.yaml -f compose.ci.yaml down -v --remove-orphans
    exit 0
fi
[[ "${1:-up}" == up ]] || die "usage: docker/compose.sh [up|down]"

port_free() {
    python3 -c 'import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}
running=$(docker ps -q --filter "label=com.docker.compose.project=$PROJECT")
if [[ -z "$running" ]]; then
    for var in BOOKINFO_PORT JAEGER_UI_PORT; do
        port_free "${!var}" ||
            die "port ${!var} is in use on 127.0.0.1; choose another, e.g. $var=$((${!var} + 10000)) make compose"
    done
fi

bash docker/images.sh

files=(-f compose.yaml)
if docker image inspect "$JAEGER_IMAGE" >/dev/null 2>&1; then
    collector="Jaeger: $JAEGER_IMAGE is present here"
    traces_url="http://localhost:$JAEGER_UI_PORT"
    traces_what="Jaeger: service productpage, Find Traces"
else
    files+=(-f compose.ci.yaml)
    collector="the in-repo collector bookinfo-tracecheck in Jaeger's place, since
            $JAEGER_IMAGE is not present (pull it, then make compose again)"
    traces_url="http://localhost:$JAEGER_UI_PORT/traces"
    traces_what="every trace as JSON, each checked for being one complete tree and drawn as text"
fi
compose() { "${COMPOSE[@]}" -p "$PROJECT" "${files[@]}" "$@"; }

say "starting ($(printf '%s ' "${COMPOSE[@]}")-p $PROJECT ${files[*]} up -d --no-build)"
compose up -d --no-build --remove-orphans 2>&1 | sed 's/^/  /'

# Healthy, or running for a container without a healthcheck (Jaeger).
ready() {
    local id state
    for id in $(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"); do
        state=$(docker inspect -f '{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id")
        [[ "$state" == running/healthy || "$state" == running/ ]] || return 1
    done
}
deadline=$((SECONDS + 120))
until ready; do
    if ((SECONDS >= deadline)); then
        compose ps
        die "not every container is healthy after 120 s; see: $(printf '%s ' "${COMPOSE[@]}")-p $PROJECT logs"
    fi
    sleep 1
done

cat <<EOF

BookInfo is running: $(docker ps -q --filter "label=com.docker.compose.project=$PROJECT" | wc -l) containers, all healthy.
  compose   $(printf '%s ' "${COMPOSE[@]}")-p $PROJECT ${files[*]}
  images    built here from the Dockerfile's prebuilt path: release binaries from cargo,
            base $BASE_IMAGE made with debootstrap; nothing pulled
  traces    $collector

Open:
  http://localhost:$BOOKINFO_PORT/productpage
      the book page; refresh for reviews v1 (no stars), v2 (black), v3 (red)
  $traces_url
      $traces_what

Stop and remove everything: make compose-down
EOF
