#!/usr/bin/env bash
# Runs Autobahn|Testsuite against eddy-ws, both ways, and fails on any case that is not OK:
#   server: wstest -m fuzzingclient drives examples/echo-server
#   client: examples/autobahn-client drives wstest -m fuzzingserver
# each on the native driver (agent eddy-ws) and on the article's bridge, tungstenite over
# GrowableSyncStream (agent eddy-ws-compat, `--compat`).
# Usage: scripts/autobahn.sh [server|client|all]   (default all)
# Full reports go to target/autobahn/; the summaries (index.json) are copied to autobahn/.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=${1:-all}
wstest=$(scripts/autobahn-install.sh | tail -n 1)
out="$root/target/autobahn"
mkdir -p "$out"
cargo build --release -q -p eddy-ws --features tungstenite --examples
bin="$root/target/release/examples"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_port() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "port $1 never opened" >&2
  return 1
}

# Every case runs, 12.* and 13.* (permessage-deflate) included.
exclude='[]'

run_server() {
  local native=9101 compat=9103
  RUST_LOG=warn "$bin/echo-server" "127.0.0.1:$native" &
  pids+=($!)
  RUST_LOG=warn "$bin/echo-server" --compat "127.0.0.1:$compat" &
  pids+=($!)
  wait_port "$native"
  wait_port "$compat"
  cat >"$out/fuzzingclient.json" <<JSON
{"outdir": "$out/server", "servers": [{"agent": "eddy-ws", "url": "ws://127.0.0.1:$native"},
                                      {"agent": "eddy-ws-compat", "url": "ws://127.0.0.1:$compat"}],
 "cases": ["*"], "exclude-cases": $exclude, "exclude-agent-cases": {}}
JSON
  (cd "$out" && timeout 900 "$wstest" -m fuzzingclient -s "$out/fuzzingclient.json" >"$out/server.log" 2>&1)
  cp "$out/server/index.json" autobahn/server-index.json
}

run_client() {
  local port=9102
  cat >"$out/fuzzingserver.json" <<JSON
{"url": "ws://127.0.0.1:$port", "outdir": "$out/client", "cases": ["*"],
 "exclude-cases": $exclude, "exclude-agent-cases": {}}
JSON
  (cd "$out" && exec "$wstest" -m fuzzingserver -s "$out/fuzzingserver.json" >"$out/client.log" 2>&1) &
  pids+=($!)
  wait_port "$port"
  RUST_LOG=warn timeout 900 "$bin/autobahn-client" --server "ws://127.0.0.1:$port" --agent eddy-ws
  RUST_LOG=warn timeout 900 "$bin/autobahn-client" --server "ws://127.0.0.1:$port" --agent eddy-ws-compat --compat
  cp "$out/client/index.json" autobahn/client-index.json
}

case "$mode" in
  server) run_server; python3 scripts/autobahn_check.py autobahn/server-index.json ;;
  client) run_client; python3 scripts/autobahn_check.py autobahn/client-index.json ;;
  all)
    # The two halves share nothing (ports, reports, processes) and each is one single-threaded
    # wstest: run side by side, they take about the time of the longer one.
    (trap cleanup EXIT; run_server) &
    server=$!
    run_client
    wait "$server"
    python3 scripts/autobahn_check.py autobahn/server-index.json autobahn/client-index.json
    ;;
  *) echo "usage: $0 [server|client|all]" >&2; exit 2 ;;
esac
