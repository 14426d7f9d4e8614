# shellcheck shell=bash disable=SC2034  # the variables are read by the scripts that source this
# Shared by the scripts in docker/ (sourced, not run): the image names, and finding the Docker
# tools this machine has.
#
#   find_compose   COMPOSE=(docker compose) where the Compose v2 plugin is installed, else
#                  COMPOSE=(docker-compose) (the standalone v1 program); fails with advice
#   find_build     BUILD=(docker buildx build --load) where buildx is installed, else a
#                  Docker client older than 23 with BuildKit switched on
#                  (DOCKER_BUILDKIT=1 docker build); fails with advice
#   docker_up      true when a Docker engine answers

REGISTRY="${BOOKINFO_REGISTRY:-ghcr.io/bookinfo-rs}"
TAG="${BOOKINFO_TAG:-0.1.0}"
# Image targets in the Dockerfile, and the binary each one runs.
# TOOL_TARGETS are images that serve nothing (the traffic generator): docker/images.sh builds
# them too, the per-image service test (docker/test-images.sh) leaves them out.
TARGETS=(productpage details reviews ratings tracecheck)
TOOL_TARGETS=(load)
declare -A BINARY_OF=(
    [productpage]=productpage [details]=details [reviews]=reviews [ratings]=ratings
    [tracecheck]=bookinfo-tracecheck [load]=bookinfo-load
)
BINARIES=(productpage details reviews ratings bookinfo-tracecheck bookinfo-load)
BASE_IMAGE="${BOOKINFO_DEBIAN_IMAGE:-bookinfo-debian:bookworm-slim}"

image_of() { echo "$REGISTRY/bookinfo-$1:$TAG"; }

docker_up() { timeout 20 docker info >/dev/null 2>&1; }

find_compose() {
    if docker compose version >/dev/null 2>&1; then
        COMPOSE=(docker compose)
    elif command -v docker-compose >/dev/null 2>&1; then
        COMPOSE=(docker-compose)
    else
        echo "neither 'docker compose' (the Compose v2 plugin: docker-compose-plugin from" \
            "Docker's apt repository) nor the standalone 'docker-compose' (apt-get install" \
            "docker-compose) is installed" >&2
        return 1
    fi
}

# The Dockerfile needs BuildKit (cache mounts, --platform, unused stages skipped). From Docker
# 23 on, `docker build` is BuildKit only through the buildx plugin and otherwise falls back to
# the legacy builder, which cannot build this file; a client older than 23 (Debian 12's
# docker.io 20.10) has BuildKit built in behind DOCKER_BUILDKIT=1. Every `docker` on PATH is
# tried, since a newer client may shadow the distribution's.
find_build() {
    local cli major
    if docker buildx version >/dev/null 2>&1; then
        BUILD=(docker buildx build --load)
        return 0
    fi
    while read -r cli; do
        major=$("$cli" version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1)
        if [[ "$major" =~ ^[0-9]+$ ]] && ((major < 23)); then
            BUILD=(env DOCKER_BUILDKIT=1 "$cli" build)
            return 0
        fi
    done < <(type -ap docker | awk '!seen[$0]++')
    echo "no BuildKit-capable 'docker build': install the buildx plugin" \
        "(docker-buildx-plugin from Docker's apt repository, docker-buildx on Debian 13)," \
        "or put a Docker client older than 23 on PATH (Debian 12's docker.io)" >&2
    return 1
}
