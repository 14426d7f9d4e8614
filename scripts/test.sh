#!/usr/bin/env bash
# The test command (`make test`): every test in the workspace, then the offline validation of
# the Kubernetes manifests.
#
# It installs nothing outside the build directory ($CARGO_TARGET_DIR or target/): the Python
# tools live in a virtualenv there (scripts/python-env.sh). When MariaDB is installed, a private
# server is started on a free loopback port with its data in a temporary directory (MariaDB runs
# as user `mysql`, which may not be able to reach the build directory), and on exit the server is
# stopped and the directory removed.
# What cannot run on this machine is skipped and listed once at the end (`make deps` installs
# it); under CI (CI=true) a missing piece is an error instead.
set -uo pipefail
cd "$(dirname "$0")/.."

build="${CARGO_TARGET_DIR:-target}"
mkdir -p "$build"
build="$(cd "$build" && pwd)"
ci="${CI:-}"
skipped=()
status=0
mariadb_pid=""
mariadb_dir=""

skip() {
  if [[ "$ci" == "true" ]]; then
    echo "error: $1 (CI runs make deps first)" >&2
    exit 1
  fi
  skipped+=("$1")
}

cleanup() {
  if [[ -n "$mariadb_pid" ]] && kill -0 "$mariadb_pid" 2>/dev/null; then
    kill "$mariadb_pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$mariadb_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$mariadb_pid" 2>/dev/null || true
    echo "==> stopped the private MariaDB (pid $mariadb_pid)"
  fi
  if [[ -n "$mariadb_dir" ]]; then
    rm -rf "$mariadb_dir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ratings v2 in MySQL mode, against a real server.
if [[ -n "${BOOKINFO_TEST_MYSQL:-}" ]]; then
  echo "==> ratings MySQL tests use BOOKINFO_TEST_MYSQL=$BOOKINFO_TEST_MYSQL"
elif command -v mariadbd >/dev/null 2>&1 || [[ -x /usr/sbin/mariadbd ]]; then
  mariadb_dir="$(mktemp -d "${TMPDIR:-/tmp}/bookinfo-mariadb.XXXXXX")"
  chmod 755 "$mariadb_dir"
  dir="$mariadb_dir"
  if out=$(bash ratings/scripts/mariadb-test-server.sh "$dir" "$(free_port)"); then
    eval "$out"
    export BOOKINFO_TEST_MYSQL
    mariadb_pid="$(cat "$dir/mariadbd.pid" 2>/dev/null || true)"
    echo "==> private MariaDB on ${BOOKINFO_TEST_MYSQL%%:root:*} (pid $mariadb_pid, data in $dir)"
  else
    skip "ratings MySQL tests: the private MariaDB did not start (see $dir/mariadbd.log)"
  fi
else
  skip "ratings MySQL tests: MariaDB is not installed"
fi

# productpage's browser test finds Chromium itself and passes with a SKIPPED line without it.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  skip "productpage browser test: Chromium is not installed"
fi

echo "==> cargo test --workspace"
cargo test --workspace --no-fail-fast || status=1

# Kubernetes, Istio and Gateway API manifests, validated offline against the CRD schemas kept
# in k8s/validate/schemas.
echo "==> manifest validation (k8s/validate)"
if python=$(bash scripts/python-env.sh); then
  "$python" -m pytest -q -p no:cacheprovider k8s/validate || status=1
else
  skip "manifest validation: the Python tools could not be installed in $build/venv"
fi

if [[ ${#skipped[@]} -gt 0 ]]; then
  echo
  echo "==> skipped (make deps installs what they need):"
  printf '    - %s\n' "${skipped[@]}"
fi
exit $status
