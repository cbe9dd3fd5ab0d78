#!/usr/bin/env bash
# Browser benchmark: Crawlium against playwright-mcp and chrome-devtools-mcp through MCP stdio,
# one Python client (the official `mcp` SDK), the same local pages, in the same run. Prints
# p50/p95 latency of navigate, snapshot, click and screenshot for each, Crawlium's browser_open on a warm pool,
# and 1/16/32 concurrent Crawlium handles doing navigate + screenshot loops (loops/s, errors,
# RSS per handle); asserts nothing (WARNING lines for missed targets).
#   tools/bench/browser/run.sh
#   ITER=30           calls per operation after one warm-up call (default 30)
#   DURATION=30       seconds of loops per concurrency level (default 30)
#   HANDLES=1,16,32   concurrency levels, comma-separated (default 1,16,32; empty: none)
#   TOOLS=crawlium,playwright,devtools      which servers to run (default all three)
#   BENCH_VENV=DIR    the Python client's venv (default ~/.cache/crawlium-bench-venv; made or
#                     completed when `mcp` is missing)
#   BENCH_NPM=DIR     where @playwright/mcp and chrome-devtools-mcp are installed (default
#                     ~/.cache/crawlium-bench-npm)
#   CRAWLIUM_BIN=PATH a crawlium binary to use as it is (default: cargo build --release)
#   CHROMIUM=PATH     the Chromium both servers drive (default /usr/bin/chromium)
#   BENCH_RESULTS=FILE  also keep the raw results (JSON) there
#   CRAWLIUM_DENY_HOSTS=HOSTS  given to Crawlium: turns its net guard on (request interception
#                     and the SOCKS5 proxy), to measure what the guard costs
# Needs python3 (3.11), node + npm (for the peers), Chromium, and cargo unless
# CRAWLIUM_BIN is given.
set -euo pipefail
cd "$(dirname "$0")/../../.."
here=tools/bench/browser
iter=${ITER:-30}
duration=${DURATION:-30}
handles=${HANDLES-1,16,32}
tools=${TOOLS:-crawlium,playwright,devtools}
venv=${BENCH_VENV:-$HOME/.cache/crawlium-bench-venv}
npm_dir=${BENCH_NPM:-$HOME/.cache/crawlium-bench-npm}
chromium=${CHROMIUM:-/usr/bin/chromium}
playwright_version=0.0.83
devtools_version=1.11.0
want() { [[ ",$tools," == *",$1,"* ]]; }

. tools/bench/lib.sh

[ -x "$chromium" ] || { echo "error: no Chromium at $chromium (apt-get install chromium, or set CHROMIUM)" >&2; exit 1; }

# --- Crawlium ------------------------------------------------------------------------------
bin=${CRAWLIUM_BIN:-${CARGO_TARGET_DIR:-target}/release/crawlium}
if want crawlium; then
  if [ -z "${CRAWLIUM_BIN:-}" ]; then
    cargo build --release --quiet || { echo "error: cargo build --release failed (or use TOOLS=playwright)" >&2; exit 1; }
  fi
  "$bin" --version >/dev/null 2>&1 || { echo "error: cannot run $bin" >&2; exit 1; }
  bin=$(realpath "$bin") # the servers run in their own directories
fi

# --- The Python client ---------------------------------------------------------------------
if ! "$venv/bin/python" -c 'import mcp.client.stdio' 2>/dev/null; then
  echo "==> installing the mcp SDK into $venv" >&2
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$venv"; }
  "$venv/bin/pip" install -q --disable-pip-version-check 'mcp>=2.3,<3'
fi

# --- playwright-mcp ------------------------------------------------------------------------
pw_cli="$npm_dir/node_modules/@playwright/mcp/cli.js"
if want playwright; then
  command -v node >/dev/null && command -v npm >/dev/null ||
    { echo "error: node and npm are needed for playwright-mcp (apt-get install nodejs npm), or use TOOLS=crawlium" >&2; exit 1; }
  if [ "$(node "$pw_cli" --version 2>/dev/null)" != "Version $playwright_version" ]; then
    echo "==> installing @playwright/mcp@$playwright_version into $npm_dir" >&2
    mkdir -p "$npm_dir"
    [ -f "$npm_dir/package.json" ] || echo '{"private": true}' >"$npm_dir/package.json"
    # It drives the given Chromium (--executable-path): no browser download.
    (cd "$npm_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --silent "@playwright/mcp@$playwright_version")
  fi
fi

# --- chrome-devtools-mcp -------------------------------------------------------------------
devtools_cli="$npm_dir/node_modules/chrome-devtools-mcp/build/src/bin/chrome-devtools-mcp.js"
if want devtools; then
  command -v node >/dev/null && command -v npm >/dev/null ||
    { echo "error: node and npm are needed for chrome-devtools-mcp (apt-get install nodejs npm), or leave devtools out of TOOLS" >&2; exit 1; }
  installed=$(node -p "require('$npm_dir/node_modules/chrome-devtools-mcp/package.json').version" 2>/dev/null || true)
  if [ "$installed" != "$devtools_version" ]; then
    echo "==> installing chrome-devtools-mcp@$devtools_version into $npm_dir" >&2
    mkdir -p "$npm_dir"
    [ -f "$npm_dir/package.json" ] || echo '{"private": true}' >"$npm_dir/package.json"
    # It drives the given Chromium (--executablePath): no browser download.
    (cd "$npm_dir" && npm install --no-audit --no-fund --silent "chrome-devtools-mcp@$devtools_version")
  fi
fi

# --- The pages, their server, and cleaning up ----------------------------------------------
tmp=$(mktemp -d)
server_pid=""
# Processes whose command line names the servers' scratch dir: the driver gives each server
# TMPDIR=$tmp/work/<server>/tmp, so every Chromium profile (--user-data-dir) is in there.
leftovers() {
  local dir cmd
  for dir in /proc/[0-9]*; do
    [ "${dir#/proc/}" = "$$" ] && continue
    cmd=$(tr '\0' ' ' 2>/dev/null <"$dir/cmdline") || continue
    [[ $cmd == *"$tmp/work/"* ]] && echo "${dir#/proc/}"
  done
  return 0
}
cleanup() {
  # The SDK stops each MCP server's process group on a normal exit, and Crawlium's Chromium
  # dies with Crawlium; if the driver died, kill the groups it recorded (each pgid is a
  # server's pid), then anything still running from the scratch dir.
  local pgid cmd
  if [ -f "$tmp/pids" ]; then
    while read -r pgid; do
      cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pgid/cmdline") || continue
      case $cmd in
        "$bin serve"* | "node $pw_cli"* | "node $devtools_cli"*) kill -KILL -- "-$pgid" 2>/dev/null || true ;;
      esac
    done <"$tmp/pids"
  fi
  local left
  left=$(leftovers)
  [ -z "$left" ] || kill -KILL $left 2>/dev/null || true
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(free_port)
python3 "$here/pages.py" "$tmp/site"
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$tmp/site" >/dev/null 2>&1 &
server_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -sf "$base/form.html" >/dev/null && break; sleep 0.1; done
curl -sf "$base/form.html" >/dev/null || { echo "error: the page server did not come up on $base" >&2; exit 1; }

# --- The run -------------------------------------------------------------------------------
echo "== browser benchmark: $iter calls per operation, ${handles:-no} concurrent handles for ${duration} s, $(nproc) cores"
echo "   pages: python3 -m http.server on $base; load average now: $(cut -d" " -f1-3 /proc/loadavg)"
echo "   chromium: $("$chromium" --version 2>/dev/null | head -1)"
echo "   client: mcp $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))') ($("$venv/bin/python" -V))"
want playwright && echo "   playwright-mcp: @playwright/mcp $playwright_version (node $(node --version)), --headless --isolated"
want devtools && echo "   chrome-devtools-mcp: $devtools_version (node $(node --version)), --headless --isolated"
want crawlium && echo "   crawlium: $("$bin" --version) (release), BROWSER_POOL_MAX=4 BROWSER_MAX_CONTEXTS=8${CRAWLIUM_DENY_HOSTS:+ CRAWLIUM_DENY_HOSTS=$CRAWLIUM_DENY_HOSTS}"
mkdir -p "$tmp/work"
"$venv/bin/python" "$here/bench.py" --base "$base" --work "$tmp/work" --crawlium "$bin" \
  --playwright-cli "$pw_cli" --devtools-cli "$devtools_cli" --chromium "$chromium" --tools "$tools" --iter "$iter" \
  --duration "$duration" --handles "$handles" --pids "$tmp/pids" --results "$tmp/results.json"
if [ -n "${BENCH_RESULTS:-}" ]; then cp "$tmp/results.json" "$BENCH_RESULTS"; fi
echo "   load average at the end: $(cut -d" " -f1-3 /proc/loadavg)"
# Nothing of a server may outlive it.
left=$(leftovers | tr '\n' ' ')
if [ -n "$left" ]; then
  echo "WARNING: processes outlived their MCP server (killed on exit): $left"
fi
# Show what the servers logged when something went wrong.
if grep -qE 'WARN|ERROR|panick' "$tmp/work/crawlium.log" 2>/dev/null; then
  echo "== crawlium's log (warnings and errors, first 20 lines)"
  grep -E 'WARN|ERROR|panick' "$tmp/work/crawlium.log" | head -20
fi
