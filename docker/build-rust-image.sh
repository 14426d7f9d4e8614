#!/usr/bin/env bash
# Make a local stand-in for the Rust image (`rust:<version>-slim-bookworm`) without pulling
# anything, so that the Dockerfile's `builder` stage, the one users build with, can be run where
# no registry is reachable:
#
#   bash docker/build-rust-image.sh
#   DOCKER_BUILDKIT=1 docker build --target details \
#       --build-arg RUST_IMAGE=bookinfo-rust:1.95-slim-bookworm \
#       --build-arg DEBIAN_IMAGE=bookinfo-debian:bookworm-slim .
#
# The image is the local Debian base (docker/build-base.sh) with what the official slim image
# adds to Debian: gcc and libc6-dev from apt, and the Rust toolchain under /usr/local with
# CARGO_HOME=/usr/local/cargo (the Dockerfile's cache mounts are there). The toolchain is the
# host's own (`rustc --print sysroot`), so the image is named after the host's Rust version, and
# it has no rustup: it can build for the build machine's platform only. It trusts the certificate
# authorities the host trusts (the host's /etc/ssl/certs/ca-certificates.crt), so cargo reaches
# the crate registry the way the host does.
#
# Idempotent: does nothing when the image exists (FORCE=1 rebuilds it). Needs a Docker engine,
# cargo and rustc on the host, and what docker/build-base.sh needs.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=docker/lib.sh
source docker/lib.sh

version=$(rustc --version | awk '{print $2}')
IMAGE="${BOOKINFO_RUST_IMAGE:-bookinfo-rust:${version%.*}-slim-bookworm}"

if [[ -z "${FORCE:-}" ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "build-rust-image: $IMAGE already present"
    exit 0
fi
bash docker/build-base.sh >/dev/null

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
sysroot=$(rustc --print sysroot)
echo "build-rust-image: Rust $version from $sysroot"
cp -a "$sysroot" "$context/rust"
cp /etc/ssl/certs/ca-certificates.crt "$context/"
cat >"$context/Dockerfile" <<EOF
FROM $BASE_IMAGE
RUN apt-get update \\
    && apt-get install -y --no-install-recommends gcc libc6-dev \\
    && rm -rf /var/lib/apt/lists/*
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY rust /usr/local/rust
ENV CARGO_HOME=/usr/local/cargo \\
    PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN cargo --version && rustc --version
EOF
docker build --quiet -t "$IMAGE" "$context" >/dev/null
docker image ls "$IMAGE"
