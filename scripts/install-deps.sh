#!/usr/bin/env bash
# `make deps`: install what the optional tests need, idempotently. Nothing here is needed to
# build or run BookInfo; without it `make test` skips the tests it cannot run and says which.
#
#   Debian packages (root or sudo, only when missing):
#     mariadb-server, mariadb-client  ratings v2 in MySQL mode, tested against a real server
#     chromium                        productpage's browser test and screenshots
#     curl                            smoke checks in the container test
#     debootstrap                     the container test builds its Debian base locally
#     openssl                         the image test serves HTTPS to the images' curl
#     python3-venv                    (Debian's own python only) the virtualenv below
#   Python tools: a virtualenv in the build directory (scripts/python-env.sh), never the
#   system's site-packages.
#   cargo-deny: the dependency-policy check of `make check` (deny.toml).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have() { command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" ]]; }
have mariadbd || have mysqld || need+=(mariadb-server mariadb-client)
have chromium || have chromium-browser || need+=(chromium)
have curl || need+=(curl)
have debootstrap || need+=(debootstrap)
have openssl || need+=(openssl)
python3 -c 'import ensurepip' >/dev/null 2>&1 || need+=(python3-venv)

if [[ ${#need[@]} -eq 0 ]]; then
  echo "deps: all Debian packages present"
else
  sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "deps: need root to install: ${need[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "deps: installing ${need[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

python="$(bash scripts/python-env.sh)"
echo "deps: Python tools in $(dirname "$(dirname "$python")")"

# cargo-deny for `make deny` (licences, bans, sources); built from crates.io, a few minutes once.
if cargo deny --version >/dev/null 2>&1; then
  echo "deps: $(cargo deny --version) present"
else
  echo "deps: installing cargo-deny (cargo install --locked)"
  cargo install --locked --quiet cargo-deny
fi
