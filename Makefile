# The targets developers run; CI (.ci/run) runs the same ones.
.PHONY: run deps test check fmt lint doc msrv deny bench images compose compose-down

# Run the whole BookInfo locally (no Docker, no database): http://localhost:9080/productpage
run:
	cargo run --release --bin bookinfo

# Install the optional test tools (Debian packages: MariaDB, Chromium, debootstrap, curl; the
# Python tools in a virtualenv under target/). `make test` works without them and says what it skipped.
deps:
	bash scripts/install-deps.sh

# Every test: unit, API and cross-service, then the manifest validation. Starts (and stops) a
# private MariaDB for ratings v2 when MariaDB is installed; installs nothing outside target/.
test:
	bash scripts/test.sh

# Formatting, lints, documentation, the minimum Rust version and the dependency policy, as CI
# checks them.
check: fmt lint doc msrv deny

fmt:
	cargo fmt --all --check

lint:
	cargo clippy --workspace --all-targets -- -D warnings

doc:
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace

msrv:
	bash scripts/check-msrv.sh

# Licences, banned crates, duplicate versions and sources (deny.toml), with cargo-deny when it
# is installed (`make deps` installs it). Advisories need a database fetched from the network,
# so that check is left to a developer: `cargo deny check advisories`.
deny:
	bash scripts/check-deny.sh

# Container images and the docker compose stack, tested against the local Docker engine
# (builds a Debian base with debootstrap; skips loudly when no engine is reachable).
images:
	bash docker/test-compose.sh

# BookInfo in Docker, built from this repository without pulling anything, started with
# whichever compose is installed; prints the URLs. Jaeger if its image is present, else the
# in-repo trace collector.
compose:
	bash docker/compose.sh

compose-down:
	bash docker/compose.sh down

# Load test on loopback (wrk): requests/s, latency and memory per service.
bench:
	bash scripts/bench.sh
