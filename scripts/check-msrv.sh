#!/usr/bin/env bash
# The declared minimum Rust version (`rust-version` in Cargo.toml) is checked two ways, since no
# second toolchain can be installed offline to build with it:
#   1. clippy's `incompatible_msrv` lint (on by default, run by `make lint`) rejects any use of a
#      standard-library API newer than `rust-version`;
#   2. this script rejects any locked dependency that declares a newer `rust-version` than ours
#      (so `cargo build` with that toolchain would refuse it).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --locked | python3 -c '
import json, sys

def version(v):
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))

meta = json.load(sys.stdin)
members = set(meta["workspace_members"])
resolved = {node["id"] for node in meta["resolve"]["nodes"]}
ours = {p["rust_version"] for p in meta["packages"] if p["id"] in members}
if len(ours) != 1 or None in ours:
    sys.exit(f"msrv: every workspace member must inherit one rust-version, found {sorted(map(str, ours))}")
msrv = ours.pop()
newer = sorted(
    "%s %s needs Rust %s" % (p["name"], p["version"], p["rust_version"])
    for p in meta["packages"]
    if p["id"] in resolved and p.get("rust_version") and version(p["rust_version"]) > version(msrv)
)
if newer:
    sys.exit("msrv: dependencies newer than rust-version " + msrv + ":\n  " + "\n  ".join(newer))
print(f"msrv: {len(resolved)} locked packages build with Rust {msrv}")
'
