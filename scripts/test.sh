#!/usr/bin/env bash
# The test command (`make test`): start a private MariaDB for the ratings v2 MySQL tests, then
# run every test in the workspace, then the manifest validation. Outside CI a missing MariaDB only skips those tests (loudly);
# in CI (CI=true) it is an error.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${BOOKINFO_TEST_MYSQL:-}" ]; then
  if out=$(bash ratings/scripts/mariadb-test-server.sh); then
    eval "$out"
    export BOOKINFO_TEST_MYSQL
  elif [ "${CI:-}" = "true" ]; then
    echo "error: could not start MariaDB for the ratings tests" >&2
    exit 1
  else
    echo "warning: MariaDB not available; the ratings MySQL tests will be skipped" >&2
  fi
fi
echo "BOOKINFO_TEST_MYSQL=${BOOKINFO_TEST_MYSQL:-<unset>}"

status=0
cargo test --workspace --no-fail-fast || status=$?

# Kubernetes, Istio and Gateway API manifests, validated offline against real schemas. The
# validator's PyPI tools are installed first (a no-op when they already are), so this command
# works on a new machine by itself.
python3 -m pip install --quiet --disable-pip-version-check -r k8s/validate/requirements.txt || status=$?
python3 -m pytest -q -p no:cacheprovider k8s/validate || status=$?
exit $status
