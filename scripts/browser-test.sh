#!/usr/bin/env bash
# Browser interop: headless Chromium (Debian's package) opens tests/browser/index.html from a tiny
# local HTTP server and talks to the eddy-ws echo server (permessage-deflate on, as Chromium
# offers it): text, JSON, binary up to 1 MiB, each echo checked. Installs chromium (apt) and
# playwright-core (npm, into .cache/browser) when missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

. scripts/ensure-chromium.sh
cache="$root/.cache/browser"
if [ ! -d "$cache/node_modules/playwright-core" ]; then
  mkdir -p "$cache"
  npm install --silent --no-audit --no-fund --prefix "$cache" playwright-core@1 >/dev/null
fi
cp tests/browser/run.mjs "$cache/run.mjs"

cargo build --release -q -p eddy-ws --examples
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
ws_port=9201 http_port=9202
RUST_LOG=warn target/release/examples/echo-server "127.0.0.1:$ws_port" &
pids+=($!)
python3 -m http.server "$http_port" --bind 127.0.0.1 --directory tests/browser >/dev/null 2>&1 &
pids+=($!)
for port in $ws_port $http_port; do
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
done
timeout 120 node "$cache/run.mjs" "http://127.0.0.1:$http_port/index.html?ws=$ws_port"
