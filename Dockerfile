# BookInfo container images: one Dockerfile, one target per image. Each service image runs every
# variant of that service; the variant is chosen at run time by the upstream environment
# variables (SERVICE_VERSION, ENABLE_RATINGS, STAR_COLOR, FLOOD_FACTOR, ...), as k8s/ and
# compose.yaml do.
#
#   docker build --target ratings -t ghcr.io/bookinfo-rs/bookinfo-ratings:0.1.0 .
#   (targets: productpage, details, reviews, ratings, tracecheck)
#
# Stages:
#   builder        compiles every binary once, in a Rust image, with the crate registry and
#                  target/ in BuildKit cache mounts (a source change recompiles our crates only)
#   prebuilt       the same binaries taken from the build context's target/release/ instead
#                  (built on the host with `cargo build --release`), chosen by BINARIES_FROM
#   runtime-base   Debian slim + curl + CA certificates, no apt, user 1000; shared by all images
#   <service>      runtime-base + one binary, healthcheck, labels
#
# Where no registry is reachable (CI), the same file builds from host binaries and a local
# Debian image: see docker/test-compose.sh and docker/build-base.sh.
#
#   docker build --target ratings \
#       --build-arg BINARIES_FROM=prebuilt \
#       --build-arg DEBIAN_IMAGE=bookinfo-debian:bookworm-slim .
#
# Requires BuildKit (default in Docker 23+; DOCKER_BUILDKIT=1 with the 20.10 client).

ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG DEBIAN_IMAGE=debian:bookworm-slim
ARG BINARIES_FROM=builder

# ---------------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS builder
WORKDIR /src
COPY . .
# The release profile in Cargo.toml strips symbols and uses thin LTO. The binaries are copied
# out of the cache mount into /out, the one path the later stages read.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked \
        -p productpage -p details -p reviews -p ratings -p bookinfo-tracecheck \
    && mkdir -p /out \
    && cp target/release/productpage target/release/details target/release/reviews \
        target/release/ratings target/release/bookinfo-tracecheck /out/

# ---------------------------------------------------------------------------------------------
FROM scratch AS prebuilt
COPY target/release/productpage target/release/details target/release/reviews \
     target/release/ratings target/release/bookinfo-tracecheck /out/

# ---------------------------------------------------------------------------------------------
# `builder` or `prebuilt`: the stage the service images copy their binary from.
FROM ${BINARIES_FROM} AS binaries

# ---------------------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS runtime-base
# curl: the healthchecks, and istio.io tasks `kubectl exec` into ratings and reviews to run
# `curl productpage:9080/productpage`. CA certificates: details v2 calls Google Books over TLS.
# Versions are whatever the Debian release ships (its security updates included), so they are
# not pinned; apt is removed afterwards because nothing at run time installs packages.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
    && dpkg --purge --force-remove-protected --force-depends apt \
    && useradd --uid 1000 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin bookinfo
USER 1000:1000
ARG VERSION=0.1.0
LABEL org.opencontainers.image.source="https://github.com/bookinfo-rs/bookinfo" \
      org.opencontainers.image.url="https://github.com/bookinfo-rs/bookinfo" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="bookinfo-rs"
# Every service answers GET /health on the port it is given (9080, the CMD of each image).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:9080/health"]

# ---------------------------------------------------------------------------------------------
FROM runtime-base AS tracecheck
LABEL org.opencontainers.image.title="bookinfo-tracecheck" \
      org.opencontainers.image.description="Trace collector (OTLP/HTTP, Zipkin v2) that checks every trace is one complete tree; stands in for Jaeger in tests."
COPY --from=binaries /out/bookinfo-tracecheck /usr/local/bin/bookinfo-tracecheck
EXPOSE 4318 16686
HEALTHCHECK --interval=5s --timeout=3s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:16686/healthz"]
ENTRYPOINT ["/usr/local/bin/bookinfo-tracecheck"]
CMD ["--port", "4318", "--query-port", "16686"]

FROM runtime-base AS details
LABEL org.opencontainers.image.title="bookinfo-details" \
      org.opencontainers.image.description="BookInfo details service: book metadata, optionally from Google Books (SERVICE_VERSION, ENABLE_EXTERNAL_BOOK_SERVICE)."
COPY --from=binaries /out/details /usr/local/bin/details
EXPOSE 9080
ENTRYPOINT ["/usr/local/bin/details"]
CMD ["9080"]

FROM runtime-base AS reviews
LABEL org.opencontainers.image.title="bookinfo-reviews" \
      org.opencontainers.image.description="BookInfo reviews service, v1/v2/v3 by SERVICE_VERSION, ENABLE_RATINGS and STAR_COLOR."
COPY --from=binaries /out/reviews /usr/local/bin/reviews
EXPOSE 9080
ENTRYPOINT ["/usr/local/bin/reviews"]
CMD ["9080"]

FROM runtime-base AS ratings
LABEL org.opencontainers.image.title="bookinfo-ratings" \
      org.opencontainers.image.description="BookInfo ratings service: v1, v2 (MySQL or MongoDB) and the fault variants, by SERVICE_VERSION."
COPY --from=binaries /out/ratings /usr/local/bin/ratings
EXPOSE 9080
ENTRYPOINT ["/usr/local/bin/ratings"]
CMD ["9080"]

# ---------------------------------------------------------------------------------------------
# The demo traffic generator (compose profile `load`, k8s/load/). Built in a stage of its own so
# the service images and their build stay as they are; it shares the builder's caches. Only the
# `builder` way: with BINARIES_FROM=prebuilt, copy target/release/bookinfo-load in by hand.
FROM ${RUST_IMAGE} AS load-builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p bookinfo-load \
    && mkdir -p /out && cp target/release/bookinfo-load /out/

FROM runtime-base AS load
LABEL org.opencontainers.image.title="bookinfo-load" \
      org.opencontainers.image.description="Traffic generator for BookInfo demos: anonymous and signed-in page views and API calls, with a summary of statuses, reviews versions and latencies."
COPY --from=load-builder /out/bookinfo-load /usr/local/bin/bookinfo-load
# It serves nothing, so the runtime base's healthcheck does not apply.
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/bookinfo-load"]
CMD ["http://productpage:9080", "--rate", "5"]

# Last, so a plain `docker build .` produces the page a user opens.
FROM runtime-base AS productpage
LABEL org.opencontainers.image.title="bookinfo-productpage" \
      org.opencontainers.image.description="BookInfo productpage: the web front end that calls details and reviews (FLOOD_FACTOR for the flooding variant)."
COPY --from=binaries /out/productpage /usr/local/bin/productpage
EXPOSE 9080
ENTRYPOINT ["/usr/local/bin/productpage"]
CMD ["9080"]
