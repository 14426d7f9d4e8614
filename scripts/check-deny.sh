#!/usr/bin/env bash
# Licences, bans and sources of every dependency (deny.toml), with cargo-deny. `make deps`
# installs it; without it this check is skipped with a note, except in CI (CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo deny --version >/dev/null 2>&1; then
  if [[ "${CI:-}" == "true" ]]; then
    echo "error: cargo-deny is not installed (make deps installs it)" >&2
    exit 1
  fi
  echo "deny: cargo-deny is not installed; skipped (make deps installs it)"
  exit 0
fi
cargo deny --offline check --hide-inclusion-graph licenses bans sources
