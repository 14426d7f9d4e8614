#!/usr/bin/env bash
# Writes link/functions.order: the functions the four services run, which their build
# (link/build.rs) then places first in each executable, so that the code a service uses sits
# together instead of being spread over its whole executable (docs/performance.md, “Function
# order”).
#
#   scripts/order-functions.sh
#
# 1. Links the release executables once more with a linker map (where each function was put).
# 2. Runs the four services under `valgrind --tool=callgrind --dump-instr=yes`, which records
#    every instruction address executed: start-up, health checks, page views in pass-through
#    and in participating mode (spans exported to a discarding sink), and a graceful stop.
# 3. Looks each executed address up in the maps and writes the names of the functions that hold
#    them, in their current order, one per line.
# Rerun it after changes that move much code (new dependencies, a new toolchain); names that no
# longer exist are skipped by the linker, so a stale list only gives back part of the gain.
# Needs `valgrind` and `wrk`.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "error: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
# BOOKINFO_LINK_MAP may name a directory holding the maps of an earlier run of this script, so
# that the executables are not linked once more.
maps=${BOOKINFO_LINK_MAP:-$(mktemp -d)}
BOOKINFO_LINK_MAP="$maps" cargo build --release --quiet --bins \
  -p details -p ratings -p reviews -p productpage -p bookinfo-tracecheck
conns=2 duration=3s
BENCH_BIN=target/release
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
traces=$(mktemp -d)
wrap=(valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$traces/%p.out")
wait_tries=600 # services start slowly under valgrind

for mode in pass-through participating; do
  start_mode "$mode"
  for path in /productpage '/productpage?u=normal' /api/v1/products /api/v1/products/0/reviews /health /metrics; do
    curl -fsS -o /dev/null "http://127.0.0.1:19180$path" || true
  done
  wrk -t1 -c"$conns" -d"$duration" http://127.0.0.1:19180/productpage >/dev/null
  cleanup # SIGTERM: the services stop gracefully, and callgrind writes what each one ran
done

python3 - "$maps" "$traces" >"$traces/order" <<'PY'
import bisect, glob, os, re, sys

maps, traces = sys.argv[1], sys.argv[2]

# lld's map: "VMA LMA Size Align Out/In/Symbol". With a section per function (Rust's default, and
# the `cc` crate's for C), an input section's line names its object and section,
# "obj:(.text.<symbol>)", and the symbol is the function's mangled name. The compilers put cold
# functions (`#[cold]`, such as a vector's growth) in ".text.unlikely.<symbol>", and start-up and
# exit code in ".text.startup." and ".text.exit."; that prefix is not part of the name. Code
# assembled without a section per function sits in a plain "(.text)", and the line after it
# names its first symbol, which the linker needs to move the whole section.
section_row = re.compile(r"^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+\s+.*:\((\.text(?:\..+)?)\)$")
symbol_row = re.compile(r"^\s*[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+\d+\s+([A-Za-z_.$][\w.$]*)$")
prefix = re.compile(r"^\.text(?:\.(?:unlikely|startup|exit|hot))?\.")

def sections(path):
    """(start, end, symbol) of every function's section, sorted by start."""
    out, plain = [], None
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        m = section_row.match(line)
        if m:
            start, size, name = int(m[1], 16), int(m[2], 16), m[3]
            plain = None
            if size and name != ".text":
                out.append((start, start + size, prefix.sub("", name, count=1)))
            elif size:
                plain = (start, start + size)
            continue
        s = symbol_row.match(line) if plain else None
        if s:
            out.append((*plain, s[1]))
            plain = None
    return sorted(out)

def executed(path, binary):
    """Instruction addresses callgrind saw executed inside `binary`."""
    names, current, last, seen = {}, None, 0, set()
    for line in open(path, errors="replace"):
        if line.startswith(("ob=", "cob=")):
            m = re.match(r"\((\d+)\)(?:\s+(.*))?", line.split("=", 1)[1].strip())
            if m[2]:
                names[m[1]] = m[2]
            if line.startswith("ob="):
                current = names.get(m[1])
            continue
        token = line.split(" ", 1)[0].strip()
        if not token or "=" in token:
            continue
        if token.startswith("0x"):
            last = int(token, 16)
        elif token[0] in "+-" and token[1:].isdigit():
            last += int(token)
        elif token != "*":
            continue
        if current == binary:
            seen.add(last)
    return seen

order, listed = [], set()
for out in sorted(glob.glob(os.path.join(traces, "*.out"))):
    cmd = next((l.split(":", 1)[1].split() for l in open(out) if l.startswith("cmd:")), [])
    if not cmd:
        continue
    binary = os.path.realpath(cmd[0])
    name = os.path.basename(binary)
    mapfile = os.path.join(maps, f"{name}.map")
    if not os.path.exists(mapfile):
        continue
    secs = sections(mapfile)
    starts = [s[0] for s in secs]
    used = set()
    for addr in executed(out, binary):
        i = bisect.bisect_right(starts, addr) - 1
        if i >= 0 and addr < secs[i][1]:
            used.add(i)
    for i in sorted(used):
        symbol = secs[i][2]
        if symbol not in listed:
            listed.add(symbol)
            order.append(symbol)
    print(f"{name}: {len(used)} of {len(secs)} functions ran", file=sys.stderr)
if not order:
    sys.exit("no function was found: did the services run under callgrind?")
print("\n".join(order))
PY
mv "$traces/order" link/functions.order
rm -rf "$traces"
if [ -z "${BOOKINFO_LINK_MAP:-}" ]; then rm -rf "$maps"; fi
echo "wrote link/functions.order ($(wc -l <link/functions.order) functions); rebuild to use it"
