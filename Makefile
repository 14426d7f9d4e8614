# The targets developers run; CI (.ci/run) runs the same ones.
.PHONY: run test check fmt lint bench images compose compose-down

# Run the whole BookInfo locally (no Docker, no database): http://localhost:9080/productpage
run:
	cargo run --release --bin bookinfo

# Every test: unit, API and cross-service. Starts a private MariaDB for ratings v2 first.
test:
	bash scripts/test.sh

# Formatting and lints, as CI checks them.
check: fmt lint

fmt:
	cargo fmt --all --check

lint:
	cargo clippy --workspace --all-targets -- -D warnings

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
