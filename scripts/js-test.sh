#!/usr/bin/env bash
# The TypeScript SDK (clients/js): generates its protocol codes from eddy-wire and fails if the
# committed copy is stale, type-checks, bundles (printing the min+gz size; over 12 KB fails),
# then runs its unit and end-to-end suites in Node and the end-to-end suite in headless
# Chromium, each against a real release eddy-server; then the dashboard built on it, checked
# fresh against the copy embedded in the server and driven in Chromium. Installs chromium (apt)
# and the dev dependencies (npm ci) when missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

. scripts/ensure-chromium.sh
cargo build --release -q -p eddy-server

cd clients/js
npm ci --silent --no-audit --no-fund
npm run --silent build
git diff --exit-code -- src/codes.ts || {
  echo "clients/js/src/codes.ts is stale: run 'npm run build' in clients/js and commit it" >&2
  exit 1
}
timeout 600 node test/run-node.mjs
timeout 600 node test/run-browser.mjs

# The dashboard (clients/dashboard): rebuilt and compared with the copy compiled into
# eddy-server (crates/server/dashboard), then driven in headless Chromium against the server
# built above; screenshots under target/dashboard/.
cd ../dashboard
npm ci --silent --no-audit --no-fund
npm run --silent build
git diff --exit-code -- ../../crates/server/dashboard || {
  echo "crates/server/dashboard is stale: run 'npm run build' in clients/dashboard and commit it" >&2
  exit 1
}
timeout 600 node --experimental-websocket test/screenshot.mjs
