#!/usr/bin/env bash
# The Python tools of the test suite (the manifest validator's pytest, jsonschema, kubectl and
# friends, pinned in k8s/validate/requirements.txt, and hadolint for the Dockerfile) live in a
# virtualenv inside the build directory, never in the system's Python:
#
#   bash scripts/python-env.sh        # create or update it; prints its python on the last line
#
# It is rebuilt only when the requirements change (a stamp file holds their hash). The build
# directory is $CARGO_TARGET_DIR, or target/ in the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

build="${CARGO_TARGET_DIR:-target}"
mkdir -p "$build"
build="$(cd "$build" && pwd)"
venv="$build/venv"
wanted="$(cat k8s/validate/requirements.txt scripts/python-tools.txt | sha256sum | cut -c1-16)"

if [[ -x "$venv/bin/python" && "$(cat "$venv/.stamp" 2>/dev/null)" == "$wanted" ]]; then
  echo "$venv/bin/python"
  exit 0
fi

echo "python-env: creating $venv" >&2
rm -rf "$venv"
python3 -m venv "$venv" >&2 || {
  echo "python-env: python3 -m venv failed (on Debian: apt-get install python3-venv, or make deps)" >&2
  exit 1
}
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r k8s/validate/requirements.txt -r scripts/python-tools.txt >&2
echo "$wanted" >"$venv/.stamp"
echo "$venv/bin/python"
