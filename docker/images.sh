#!/usr/bin/env bash
# Build every image from this repository on a machine that can pull nothing: the Dockerfile's
# `prebuilt` path, with release binaries compiled here, their SBOMs, and a Debian base made
# locally with debootstrap (docker/build-base.sh). The images get the names compose.yaml and
# k8s/ use (ghcr.io/bookinfo-rs/bookinfo-<service>:0.1.0).
#
#   bash docker/images.sh            # all six images (the five services' and load)
#   bash docker/images.sh ratings    # only some
#
# Needs: cargo, python3, debootstrap and root (for the base, once), a Docker engine, and a
# BuildKit-capable `docker build` (see docker/lib.sh). Incremental: cargo, the base image and
# BuildKit's cache make a second run take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
# The Docker helpers, the Python tools on PATH and `say`, as the container tests have them;
# `die` names this script instead.
# shellcheck source=docker/checks.sh
source docker/checks.sh
die() {
    printf 'images: %s\n' "$*" >&2
    exit 1
}

targets=("$@")
((${#targets[@]})) || targets=("${TARGETS[@]}" "${TOOL_TARGETS[@]}")
for t in "${targets[@]}"; do
    [[ -n "${BINARY_OF[$t]:-}" ]] || die "unknown image '$t' (${TARGETS[*]} ${TOOL_TARGETS[*]})"
done

docker_up || die "no Docker engine reachable"
find_build || exit 1

say "release binaries (cargo build --release; a no-op when target/release is up to date)"
args=()
for b in "${BINARIES[@]}"; do args+=(-p "$b"); done
log=$(mktemp)
if ! cargo build --release --locked "${args[@]}" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    rm -f "$log"
    die "cargo build --release failed"
fi
tail -n 1 "$log"
rm -f "$log"
for b in "${BINARIES[@]}"; do
    # The images hold the C library and libgcc_s, not OpenSSL (TLS is rustls).
    if ldd "target/release/$b" | grep -E 'libssl|libcrypto|not found'; then
        die "target/release/$b needs libraries the images do not carry"
    fi
done

say "SBOMs (target/sbom/<binary>.cdx.json)"
python3 docker/sbom.py write target/sbom | sed 's/^/  /'

say "base image $BASE_IMAGE"
bash docker/build-base.sh | sed 's/^/  /'

say "images (${BUILD[*]}, BINARIES_FROM=prebuilt)"
for t in "${targets[@]}"; do
    "${BUILD[@]}" --quiet --target "$t" \
        --build-arg BINARIES_FROM=prebuilt \
        --build-arg DEBIAN_IMAGE="$BASE_IMAGE" \
        --tag "$(image_of "$t")" . >/dev/null ||
        die "docker build --target $t"
    # The binaries were linked on this machine, the C library comes from the base: a host
    # with a newer glibc than Debian 12's would make binaries that do not start here.
    if ! out=$(docker run --rm --network none "$(image_of "$t")" --help 2>&1); then
        printf '%s\n' "$out" >&2
        die "$(image_of "$t"): its binary does not run in the image (a host glibc newer than the base's?)"
    fi
    printf '  built %-50s %s\n' "$(image_of "$t")" \
        "$(docker image inspect -f '{{.Size}}' "$(image_of "$t")" | awk '{printf "%.1f MB", $1/1e6}')"
done
