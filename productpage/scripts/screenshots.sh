#!/usr/bin/env bash
# Screenshots of /productpage in headless Chromium for six cases (and one with its trace link,
# docs/screenshots/trace-link.png), written to
# docs/screenshots/productpage-<case>.png. Run from the workspace root:
#     bash productpage/scripts/screenshots.sh
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/docs/screenshots"
base="${SCREENSHOT_BASE_PORT:-19400}"
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [ -z "$browser" ]; then
  echo "chromium not found (Debian package: chromium)" >&2
  exit 1
fi
mkdir -p "$out"

cd "$root"
cargo build -q -p productpage --example screenshot_fixture
fixture="$root/target/debug/examples/screenshot_fixture"
log="$(mktemp)"
"$fixture" "$base" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  grep -q '^ready' "$log" && break
  sleep 0.1
done
grep -q '^ready' "$log" || { cat "$log" >&2; exit 1; }

i=0
for case in anonymous jason v1 v2 v3 down; do
  port=$((base + i))
  profile="$(mktemp -d)"
  "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$profile" --window-size="${SCREENSHOT_SIZE:-1280,960}" \
    --screenshot="$out/productpage-$case.png" "http://127.0.0.1:$port/productpage" \
    >/dev/null 2>&1
  rm -rf "$profile"
  echo "wrote docs/screenshots/productpage-$case.png"
  i=$((i + 1))
done

# The page with its trace link (TRACE_UI_URL), taken by the browser test in a participating setup.
TRACE_LINK_SCREENSHOT="$out/trace-link.png" \
  cargo test -q -p productpage --test browser the_trace_link_in_a_real_browser >/dev/null
echo "wrote docs/screenshots/trace-link.png"
