#!/usr/bin/env python3
"""CycloneDX SBOMs of the Rust crates compiled into each image's binary, and their check.

    python3 docker/sbom.py write OUTDIR [--target TRIPLE]
        writes OUTDIR/<binary>.cdx.json for productpage, details, reviews, ratings and
        bookinfo-tracecheck (CycloneDX 1.5 JSON)
    python3 docker/sbom.py check SBOM.json PACKAGE [--target TRIPLE]
        checks that an SBOM lists exactly the crates of Cargo.lock that PACKAGE's binary is
        built from; exit 1 with the differences otherwise

Which crates a binary is made of is cargo's answer, not a guess: the graph comes from
`cargo tree -e normal` for the same packages, target and Cargo.lock the images are built with
(`cargo build --release -p productpage -p details ...`). The packages are resolved together, as
that build resolves them, so a crate that only one binary's dependencies switch on through a
shared crate's feature is listed for every binary that links the shared crate (ring, enabled
for rustls by ratings' MongoDB driver, is in every binary that uses rustls). Build
dependencies, build scripts and dev-dependencies are not part of a binary and are left out;
procedural macros, which generate code in it, are listed.

Each component has the crate's name, version, licence expression and repository from its
manifest, its package URL (pkg:cargo/...) and, for crates from crates.io, the SHA-256 that
Cargo.lock pins. The workspace's own crates have no package URL (they are not on crates.io,
where a crate of the same name may exist). `dependencies` repeats the graph.

The output is reproducible: no timestamp unless SOURCE_DATE_EPOCH is set, and a serial number
derived from the content.

Why not `cargo cyclonedx`: it installs from crates.io, but it reads `cargo metadata`, whose
resolve spans the whole workspace with dev-dependencies; version 0.5.9 listed 18 to 39 crates
per binary that are not compiled into it (quinn, cookie_store, mongocrypt, ...), and put this
checkout's absolute paths in the bom-refs.
"""

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tomllib
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
# The packages the images are built from (as the Dockerfile's `cargo build -p ...`), each with
# the binary its image runs.
PACKAGES = {
    "productpage": "productpage",
    "details": "details",
    "reviews": "reviews",
    "ratings": "ratings",
    "bookinfo-tracecheck": "bookinfo-tracecheck",
}
CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"
SPEC_VERSION = "1.5"

# `cargo tree --format '{p}'`: "name vX.Y.Z", then "(proc-macro)" and/or "(source)" when not
# from crates.io, and "(*)" on a node already shown.
NODE = re.compile(r"^(?P<name>\S+) v(?P<version>\S+)(?P<rest>.*)$")
FIELD = "|"  # separates {p}, {l} and {r} in cargo tree's output (not in names, versions, SPDX)


def host_target():
    out = subprocess.run(["rustc", "-vV"], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("host: "):
            return line.split(" ", 1)[1]
    sys.exit("sbom: rustc -vV printed no host target")


def cargo_tree(packages, target, prefix="depth"):
    args = ["cargo", "tree", "--locked", "-e", "normal", "--target", target,
            "--prefix", prefix, "--format", FIELD.join(["{p}", "{l}", "{r}"])]
    for package in packages:
        args += ["-p", package]
    return subprocess.run(args, check=True, capture_output=True, text=True, cwd=ROOT).stdout


class Crate:
    """One node of the graph: a package at one version."""

    def __init__(self, name, version, source, proc_macro, license, repository):
        self.name, self.version, self.source = name, version, source
        self.proc_macro, self.license, self.repository = proc_macro, license, repository

    @property
    def key(self):
        return f"{self.name}@{self.version}"


def parse_node(text):
    """A line of cargo tree's output without its depth: the crate, and whether it was elided."""
    p, license, repository = (text.split(FIELD, 2) + ["", ""])[:3]
    elided = p.endswith(" (*)")
    if elided:
        p = p[: -len(" (*)")]
    m = NODE.match(p)
    if not m:
        sys.exit(f"sbom: cannot read cargo tree line {text!r}")
    rest = m.group("rest")
    proc_macro = "(proc-macro)" in rest
    path = re.search(r"\((/[^)]*)\)", rest)
    source = ("path", path.group(1)) if path else ("registry", None)
    crate = Crate(m.group("name"), m.group("version"), source, proc_macro,
                  license.strip(), repository.strip())
    return crate, elided


def graph(packages, target):
    """{root package name: set of crate keys reachable from it}, every crate by key, and the
    edges, from one `cargo tree` of all `packages` resolved together."""
    crates, edges, roots, stack = {}, {}, {}, []
    for line in cargo_tree(packages, target).splitlines():
        if not line.strip():
            continue
        m = re.match(r"^(\d+)(.*)$", line)
        if not m:
            sys.exit(f"sbom: cannot read cargo tree line {line!r}")
        depth = int(m.group(1))
        crate, _ = parse_node(m.group(2))
        crates.setdefault(crate.key, crate)
        edges.setdefault(crate.key, set())
        del stack[depth:]
        if depth == 0:
            roots[crate.name] = crate.key
        else:
            edges[stack[-1]].add(crate.key)
        stack.append(crate.key)
    reachable = {}
    for name, key in roots.items():
        seen, todo = set(), [key]
        while todo:
            k = todo.pop()
            if k not in seen:
                seen.add(k)
                todo.extend(edges[k])
        reachable[name] = seen
    return reachable, crates, edges


def lockfile():
    with open(ROOT / "Cargo.lock", "rb") as f:
        lock = tomllib.load(f)
    return {f"{p['name']}@{p['version']}": p for p in lock.get("package", [])}


def license_expression(raw):
    # Cargo accepted "MIT/Apache-2.0" before SPDX expressions; it means "MIT OR Apache-2.0".
    return " OR ".join(part.strip() for part in raw.split("/")) if "/" in raw else raw


def description(crate):
    if crate.source[0] != "path":
        return None
    try:
        with open(Path(crate.source[1]) / "Cargo.toml", "rb") as f:
            return tomllib.load(f).get("package", {}).get("description")
    except OSError:
        return None


def bom_ref(crate):
    if crate.source[0] == "path":
        return f"workspace:{crate.key}"
    return purl(crate)


def purl(crate):
    return f"pkg:cargo/{quote(crate.name)}@{quote(crate.version)}"


def component(crate, lock, kind="library"):
    c = {"type": kind, "bom-ref": bom_ref(crate), "name": crate.name, "version": crate.version}
    text = description(crate)
    if text:
        c["description"] = text
    if kind == "library":
        c["scope"] = "required"
    locked = lock.get(crate.key, {})
    if crate.source[0] != "path":
        c["purl"] = purl(crate)
        if locked.get("checksum"):
            c["hashes"] = [{"alg": "SHA-256", "content": locked["checksum"]}]
    if crate.license:
        c["licenses"] = [{"expression": license_expression(crate.license)}]
    if crate.repository:
        c["externalReferences"] = [{"type": "vcs", "url": crate.repository}]
    properties = []
    if crate.proc_macro:
        properties.append({"name": "cdx:cargo:crate:kind", "value": "proc-macro"})
    if crate.source[0] == "path":
        properties.append({"name": "cdx:cargo:source", "value": "workspace"})
    elif locked.get("source") and locked["source"] != CRATES_IO:
        properties.append({"name": "cdx:cargo:source", "value": locked["source"]})
    if properties:
        c["properties"] = properties
    return c


def bom(package, binary, target, reachable, crates, edges, lock):
    root = next(crates[k] for k in reachable[package] if crates[k].name == package)
    keys = sorted(reachable[package] - {root.key})
    app = component(root, lock, kind="application")
    app["name"] = binary
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "version": 1,
        "metadata": {
            "tools": {"components": [{
                "type": "application",
                "name": "docker/sbom.py",
                "description": "from `cargo tree -e normal` and Cargo.lock",
            }]},
            "component": app,
            "properties": [{"name": "cdx:rustc:sbom:target:triple", "value": target}],
        },
        "components": [component(crates[k], lock) for k in keys],
        "dependencies": [
            {"ref": bom_ref(crates[k]),
             "dependsOn": sorted(bom_ref(crates[d]) for d in edges[k])}
            for k in sorted(reachable[package])
        ],
    }
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        stamp = datetime.fromtimestamp(int(epoch), timezone.utc)
        doc["metadata"]["timestamp"] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
    doc = {"bomFormat": doc.pop("bomFormat"), "specVersion": doc.pop("specVersion"),
           "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'sbom:' + digest)}",
           **doc}
    return doc


def write(outdir, target):
    reachable, crates, edges = graph(list(PACKAGES), target)
    lock = lockfile()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    for package, binary in PACKAGES.items():
        doc = bom(package, binary, target, reachable, crates, edges, lock)
        path = outdir / f"{binary}.cdx.json"
        path.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"sbom: {path} ({len(doc['components'])} crates, {target})")


def check(sbom_path, package, target):
    """Problems with the SBOM at `sbom_path` for `package`'s binary; empty when it is right."""
    problems = []
    try:
        doc = json.loads(Path(sbom_path).read_text())
    except (OSError, ValueError) as e:
        return [f"cannot read {sbom_path}: {e}"]
    if doc.get("bomFormat") != "CycloneDX" or not str(doc.get("specVersion", "")).startswith("1."):
        problems.append("not a CycloneDX 1.x document")
    meta = doc.get("metadata", {})
    if meta.get("component", {}).get("name") != PACKAGES.get(package, package):
        problems.append(f"describes {meta.get('component', {}).get('name')!r}, "
                        f"not {PACKAGES.get(package, package)!r}")
    listed = {f"{c.get('name')}@{c.get('version')}" for c in doc.get("components", [])}

    # 1. Exactly the crates of the build that made the binary (all packages resolved together).
    reachable, crates, _ = graph(list(PACKAGES), target)
    built = {k for k in reachable[package] if crates[k].name != package}
    for k in sorted(built - listed):
        problems.append(f"missing {k} (compiled into the binary)")
    for k in sorted(listed - built):
        problems.append(f"lists {k}, which is not compiled into the binary")

    # 2. The package's own normal dependencies (`cargo tree -p PACKAGE -e normal`) are all in.
    own = set()
    for line in cargo_tree([package], target, prefix="none").splitlines():
        if line.strip():
            crate, _ = parse_node(line)
            if crate.name != package:
                own.add(crate.key)
    for k in sorted(own - listed):
        problems.append(f"missing {k} (cargo tree -p {package} -e normal)")

    # 3. Every component is in Cargo.lock, with the checksum Cargo.lock pins.
    lock = lockfile()
    for c in doc.get("components", []):
        key = f"{c.get('name')}@{c.get('version')}"
        locked = lock.get(key)
        if locked is None:
            problems.append(f"{key} is not in Cargo.lock")
            continue
        if locked.get("checksum"):
            hashes = {h.get("content") for h in c.get("hashes", []) if h.get("alg") == "SHA-256"}
            if locked["checksum"] not in hashes:
                problems.append(f"{key}: SHA-256 differs from Cargo.lock")

    # 4. Valid against the CycloneDX JSON schema (strict: no unknown fields), where the
    #    schema's Python package is installed (scripts/install-deps.sh installs it).
    schema = schema_check(doc)
    if schema:
        problems.append(schema)

    # 5. The dependency graph only names listed components.
    refs = {c.get("bom-ref") for c in doc.get("components", [])}
    refs.add(meta.get("component", {}).get("bom-ref"))
    for dep in doc.get("dependencies", []):
        for r in [dep.get("ref"), *dep.get("dependsOn", [])]:
            if r not in refs:
                problems.append(f"dependency graph names {r!r}, which is not a component")
    if not problems:
        print(f"sbom: {sbom_path}: {len(listed)} crates, exactly those compiled into "
              f"{PACKAGES.get(package, package)} ({len(own)} from cargo tree -p {package}, "
              f"{len(built - own)} through features the build resolves together), "
              f"checksums as in Cargo.lock, {SCHEMA_STATE[0]}")
    return problems


SCHEMA_STATE = ["schema not checked (pip install 'cyclonedx-python-lib[json-validation]')"]


def schema_check(doc):
    """A problem with `doc` against the CycloneDX JSON schema of its version, or None."""
    try:
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator
    except ImportError:
        return None
    version = getattr(SchemaVersion, "V" + str(doc.get("specVersion", "")).replace(".", "_"), None)
    if version is None:
        return f"unknown CycloneDX version {doc.get('specVersion')!r}"
    error = JsonStrictValidator(version).validate_str(json.dumps(doc))
    if error is not None:
        return f"not valid CycloneDX {doc.get('specVersion')}: {error}"
    SCHEMA_STATE[0] = f"valid CycloneDX {doc.get('specVersion')} (strict schema)"
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write")
    w.add_argument("outdir")
    c = sub.add_parser("check")
    c.add_argument("sbom")
    c.add_argument("package", choices=sorted(PACKAGES))
    for p in (w, c):
        p.add_argument("--target", default=os.environ.get("SBOM_TARGET") or None)
    args = parser.parse_args()
    target = args.target or host_target()
    if args.command == "write":
        write(args.outdir, target)
        return 0
    problems = list(dict.fromkeys(check(args.sbom, args.package, target)))
    for p in problems:
        print(f"sbom: {args.sbom}: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
