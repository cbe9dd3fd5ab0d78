#!/usr/bin/env bash
# Protocol benchmark: wrk against stateless Streamable HTTP, then the Rust client benchmark
# (stdio and HTTP). Prints figures; asserts nothing. Needs wrk (apt-get install wrk).
#   tools/bench/protocol/run.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/../../.."
secs=${1:-10}
conns=${2:-64}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/crawlium
port=$((20000 + RANDOM % 20000))
dir=$(mktemp -d)
RUST_LOG=warn CRAWLIUM_DATA_DIR="$dir" "$bin" --port "$port" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
# Check that the request really succeeds before measuring it.
lua_body=$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" tools/bench/protocol/call.lua)
curl -sf "http://127.0.0.1:$port/mcp" -H 'Content-Type: application/json' \
  -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2026-07-28' \
  -H 'Mcp-Method: tools/call' -H 'Mcp-Name: server_status' -d "$lua_body" | grep -q structuredContent
echo "== wrk: stateless HTTP tools/call server_status, ${secs}s, 1 thread, $conns connections (release build)"
wrk -t1 -c"$conns" -d"${secs}s" --latency -s tools/bench/protocol/call.lua "http://127.0.0.1:$port/mcp" \
  | grep -E "Requests/sec|Latency|50%|99%|Non-2xx|Socket errors|requests in|wrong answers"
kill $pid; wait $pid 2>/dev/null || true
echo "== Rust client benchmark (cargo bench --bench protocol)"
BENCH_SECS=${BENCH_SECS:-5} cargo bench --quiet --bench protocol
