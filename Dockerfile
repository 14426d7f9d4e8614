# BookInfo container images: one Dockerfile, one target per image. Each service image runs every
# variant of that service; the variant is chosen at run time by the upstream environment
# variables (SERVICE_VERSION, ENABLE_RATINGS, STAR_COLOR, FLOOD_FACTOR, ...), as k8s/ and
# compose.yaml do.
#
#   docker build --target ratings -t ghcr.io/bookinfo-rs/bookinfo-ratings:0.1.0 .
#   (targets: productpage, details, reviews, ratings, tracecheck; load, the traffic generator)
#
# Platforms: linux/amd64 and linux/arm64. The Rust stage runs on the build machine's platform
# (BUILDPLATFORM) and cross-compiles for the image's (TARGETPLATFORM); only the short `rootfs`
# stage runs on the target platform, so a foreign platform needs QEMU (binfmt) for it alone:
#
#   docker buildx build --platform linux/amd64,linux/arm64 --target ratings \
#       -t ghcr.io/bookinfo-rs/bookinfo-ratings:0.1.0 --push .
#
# The images are made the way distroless images are: FROM scratch, plus each program and the
# shared libraries `ldd` says it loads, copied from a Debian build stage. No package manager in
# any image; no shell in productpage, details and tracecheck.
#
#   image         contents (besides the base)                         why
#   base          glibc, libgcc_s, CA certificates, /etc/passwd+group  every image
#                 (UID/GID 1000 only), nsswitch.conf
#   productpage   the binary, its SBOM
#   details       the binary, its SBOM                                 CA certs: Google Books
#   reviews       + curl and its libraries                             istio.io `kubectl exec -- curl`
#   ratings       + curl, + bash and their libraries                   istio.io `kubectl exec`
#   tracecheck    the binary, its SBOM                                 test collector
#
# The HEALTHCHECK is the service binary itself (`<service> --health-check`: GET /health on the
# port the container serves, exit 0 or 1), so no image needs an HTTP client for it.
#
# Each image carries a CycloneDX SBOM of the Rust crates compiled into its binary at
# /usr/share/sbom/<binary>.cdx.json, named by the label io.github.bookinfo-rs.sbom.
#
# Stages:
#   toolchain      the Rust image with the target's toolchain and the sources
#   builder        compiles every binary once (for TARGETPLATFORM), in a Rust image, with the
#                  crate registry and target/ in BuildKit cache mounts, and writes the SBOMs
#   prebuilt       the same binaries and SBOMs taken from the build context's target/
#                  (`cargo build --release` and docker/sbom.sh on the host), chosen by
#                  BINARIES_FROM
#   rootfs         Debian + curl + CA certificates: the files the images are made of
#                  (docker/rootfs.sh); nothing of it is in an image but what it copies out
#   base, curl-base   FROM scratch: the shared layers
#   <service>      base (reviews, ratings: curl-base) + one binary + its SBOM
#   load-builder, load-prebuilt, load   the traffic generator the same two ways, on base
#
# Where no registry is reachable (CI), the same file builds from host binaries and a local
# Debian image: see docker/test-compose.sh, docker/images.sh and docker/build-base.sh.
#
#   docker build --target ratings \
#       --build-arg BINARIES_FROM=prebuilt \
#       --build-arg DEBIAN_IMAGE=bookinfo-debian:bookworm-slim .
#
# Requires BuildKit (default in Docker 23+ through buildx; DOCKER_BUILDKIT=1 with a 20.10
# client). There is deliberately no `# syntax=` line: it would make BuildKit pull a frontend
# image, which a machine without a registry cannot.

ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG DEBIAN_IMAGE=debian:bookworm-slim
ARG BINARIES_FROM=builder

# ---------------------------------------------------------------------------------------------
# The Rust toolchain for TARGETPLATFORM and the sources; `builder` and `load-builder` build in it.
FROM --platform=$BUILDPLATFORM ${RUST_IMAGE} AS toolchain
ARG TARGETARCH
ARG BUILDARCH
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
# python3 runs docker/sbom.py; make builds jemalloc (tikv-jemalloc-sys runs its configure script
# and then make), and the Rust image has gcc but not make. Cross-compiling (e.g. arm64 on an
# amd64 machine) also needs the target's Rust standard library and a C cross toolchain (ring and
# aws-lc-sys, under rustls, and jemalloc compile C for the target). The choice is written to
# /env, which the build step sources.
# A build for the build machine's own platform passes no `--target`: Cargo hashes the target
# into every symbol's name, and link/functions.order (docs/performance.md, "Function order")
# names the functions as a plain `cargo build --release` does, so only such a build links in
# that order.
# hadolint ignore=DL3008
RUN set -eu; \
    case "$TARGETARCH" in \
        amd64) triple=x86_64-unknown-linux-gnu; gnu=x86_64-linux-gnu; pkg=x86-64-linux-gnu ;; \
        arm64) triple=aarch64-unknown-linux-gnu; gnu=aarch64-linux-gnu; pkg=aarch64-linux-gnu ;; \
        *) echo "unsupported platform linux/$TARGETARCH (linux/amd64, linux/arm64)" >&2; exit 1 ;; \
    esac; \
    echo "TRIPLE=$triple" >/env; \
    packages=(python3 make); \
    if [ "$TARGETARCH" != "$BUILDARCH" ]; then \
        packages+=("gcc-$pkg" "libc6-dev-$TARGETARCH-cross"); \
        rustup target add "$triple"; \
        lower=${triple//-/_}; upper=${lower^^}; \
        { echo "export CARGO_TARGET_${upper}_LINKER=$gnu-gcc"; \
          echo "export CC_${lower}=$gnu-gcc"; \
          echo "export AR_${lower}=$gnu-ar"; \
          echo "CARGO_TARGET=(--target $triple) OUT=target/$triple/release"; } >>/env; \
    else \
        echo "CARGO_TARGET=() OUT=target/release" >>/env; \
    fi; \
    apt-get update; \
    apt-get install -y --no-install-recommends "${packages[@]}"; \
    rm -rf /var/lib/apt/lists/*
COPY . .

FROM toolchain AS builder
# The release profile in Cargo.toml strips symbols and uses fat LTO. The binaries are copied
# out of the cache mount into /out, the one path the later stages read; the SBOMs are written
# there by the same script CI runs on the host, for the same packages and target.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    set -eu; . /env; \
    cargo build --release --locked "${CARGO_TARGET[@]}" \
        -p productpage -p details -p reviews -p ratings -p bookinfo-tracecheck; \
    mkdir -p /out/sbom; \
    for bin in productpage details reviews ratings bookinfo-tracecheck; do \
        cp "$OUT/$bin" /out/; \
    done; \
    python3 docker/sbom.py write /out/sbom --target "$TRIPLE"

# ---------------------------------------------------------------------------------------------
FROM scratch AS prebuilt
COPY target/release/productpage target/release/details target/release/reviews \
     target/release/ratings target/release/bookinfo-tracecheck /out/
COPY target/sbom/ /out/sbom/

# ---------------------------------------------------------------------------------------------
# `builder` or `prebuilt`: the stage the images copy their binary and SBOM from.
FROM ${BINARIES_FROM} AS binaries

# ---------------------------------------------------------------------------------------------
# Runs on the target platform: `ldd` must run the target's dynamic loader.
FROM ${DEBIAN_IMAGE} AS rootfs
# Versions are whatever the Debian release ships (its security updates included), so they are
# not pinned. bash is part of every Debian system already.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
COPY docker/rootfs.sh /usr/local/bin/rootfs.sh
COPY --from=binaries /out/productpage /out/details /out/reviews /out/ratings \
     /out/bookinfo-tracecheck /bin-in/
RUN bash /usr/local/bin/rootfs.sh /rootfs /bin-in/*

# ---------------------------------------------------------------------------------------------
FROM scratch AS base
COPY --from=rootfs /rootfs/base/ /
# A scratch image has no PATH of its own; `kubectl exec ... -- curl` looks programs up in it.
ENV PATH=/usr/local/bin:/usr/bin:/bin
USER 1000:1000
ARG VERSION=0.1.0
LABEL org.opencontainers.image.source="https://github.com/bookinfo-rs/bookinfo" \
      org.opencontainers.image.url="https://github.com/bookinfo-rs/bookinfo" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="bookinfo-rs"

FROM base AS curl-base
COPY --from=rootfs /rootfs/curl/ /

# ---------------------------------------------------------------------------------------------
FROM base AS tracecheck
LABEL org.opencontainers.image.title="bookinfo-tracecheck" \
      org.opencontainers.image.description="Trace collector (OTLP/HTTP, Zipkin v2) that checks every trace is one complete tree; stands in for Jaeger in tests." \
      io.github.bookinfo-rs.sbom="/usr/share/sbom/bookinfo-tracecheck.cdx.json"
COPY --from=binaries /out/bookinfo-tracecheck /usr/local/bin/bookinfo-tracecheck
COPY --from=binaries /out/sbom/bookinfo-tracecheck.cdx.json /usr/share/sbom/
EXPOSE 4318 16686
# GET /healthz on the query port the container was started with.
HEALTHCHECK --interval=5s --timeout=3s --retries=3 \
    CMD ["/usr/local/bin/bookinfo-tracecheck", "--health-check"]
ENTRYPOINT ["/usr/local/bin/bookinfo-tracecheck"]
CMD ["--port", "4318", "--query-port", "16686"]

FROM base AS details
LABEL org.opencontainers.image.title="bookinfo-details" \
      org.opencontainers.image.description="BookInfo details service: book metadata, optionally from Google Books (SERVICE_VERSION, ENABLE_EXTERNAL_BOOK_SERVICE)." \
      io.github.bookinfo-rs.sbom="/usr/share/sbom/details.cdx.json"
COPY --from=binaries /out/details /usr/local/bin/details
COPY --from=binaries /out/sbom/details.cdx.json /usr/share/sbom/
EXPOSE 9080
# GET /health on the port the container was started with (9080 unless given another).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/details", "--health-check"]
ENTRYPOINT ["/usr/local/bin/details"]
CMD ["9080"]

FROM curl-base AS reviews
LABEL org.opencontainers.image.title="bookinfo-reviews" \
      org.opencontainers.image.description="BookInfo reviews service, v1/v2/v3 by SERVICE_VERSION, ENABLE_RATINGS and STAR_COLOR." \
      io.github.bookinfo-rs.sbom="/usr/share/sbom/reviews.cdx.json"
COPY --from=binaries /out/reviews /usr/local/bin/reviews
COPY --from=binaries /out/sbom/reviews.cdx.json /usr/share/sbom/
EXPOSE 9080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/reviews", "--health-check"]
ENTRYPOINT ["/usr/local/bin/reviews"]
CMD ["9080"]

FROM curl-base AS ratings
COPY --from=rootfs /rootfs/bash/ /
LABEL org.opencontainers.image.title="bookinfo-ratings" \
      org.opencontainers.image.description="BookInfo ratings service: v1, v2 (MySQL or MongoDB) and the fault variants, by SERVICE_VERSION." \
      io.github.bookinfo-rs.sbom="/usr/share/sbom/ratings.cdx.json"
COPY --from=binaries /out/ratings /usr/local/bin/ratings
COPY --from=binaries /out/sbom/ratings.cdx.json /usr/share/sbom/
EXPOSE 9080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/ratings", "--health-check"]
ENTRYPOINT ["/usr/local/bin/ratings"]
CMD ["9080"]

# ---------------------------------------------------------------------------------------------
# The demo traffic generator (compose profile `load`, k8s/load/): not a service, so its binary
# comes through stages of its own and the service images build without it. BINARIES_FROM picks
# load-builder (compiled in the toolchain stage, same caches) or load-prebuilt (the build
# context's target/release/bookinfo-load, `cargo build --release -p bookinfo-load`). It loads the
# same libraries as the services, so it runs on `base`: scratch, UID 1000, no shell.
FROM toolchain AS load-builder
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    set -eu; . /env; \
    cargo build --release --locked "${CARGO_TARGET[@]}" -p bookinfo-load; \
    mkdir -p /out; \
    cp "$OUT/bookinfo-load" /out/

FROM scratch AS load-prebuilt
COPY target/release/bookinfo-load /out/

# A stage of this file, not an image to tag.
# hadolint ignore=DL3006
FROM load-${BINARIES_FROM} AS load-binaries

FROM base AS load
LABEL org.opencontainers.image.title="bookinfo-load" \
      org.opencontainers.image.description="Traffic generator for BookInfo demos: anonymous and signed-in page views and API calls, with a summary of statuses, reviews versions and latencies."
COPY --from=load-binaries /out/bookinfo-load /usr/local/bin/bookinfo-load
# It serves nothing: no port, no healthcheck.
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/bookinfo-load"]
CMD ["http://productpage:9080", "--rate", "5"]

# Last, so a plain `docker build .` produces the page a user opens.
FROM base AS productpage
LABEL org.opencontainers.image.title="bookinfo-productpage" \
      org.opencontainers.image.description="BookInfo productpage: the web front end that calls details and reviews (FLOOD_FACTOR for the flooding variant)." \
      io.github.bookinfo-rs.sbom="/usr/share/sbom/productpage.cdx.json"
COPY --from=binaries /out/productpage /usr/local/bin/productpage
COPY --from=binaries /out/sbom/productpage.cdx.json /usr/share/sbom/
EXPOSE 9080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/productpage", "--health-check"]
ENTRYPOINT ["/usr/local/bin/productpage"]
CMD ["9080"]
