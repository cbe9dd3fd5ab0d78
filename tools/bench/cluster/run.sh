#!/usr/bin/env bash
# Cluster benchmark: forwarded vs direct browser_navigate, stateless server_status calls/s
# through nginx with 1 and 3 replicas, and crawl pages/s with 1 and 3 replicas on three
# fixture hosts (one job each) and on one slow host (one job). Prints figures; asserts
# nothing (bench.py says what each figure is).
#   tools/bench/cluster/run.sh [pages per host] [wrk seconds]     # default 2000, 10
#   BENCH_STEPS=crawl,slow   only those measurements (navigate, status, crawl, slow)
#   CRAWLIUM_BIN=PATH  a crawlium binary to use as it is (default: cargo build --release)
# Needs Redis on 127.0.0.1:6379 (or REDIS_URL), PostgreSQL on 127.0.0.1:5432 (trust auth,
# database test), Chromium, nginx and wrk (the last three installed with apt-get when missing).
set -euo pipefail
cd "$(dirname "$0")/../../.."
. tools/bench/lib.sh
for tool in nginx:nginx-light wrk:wrk chromium:chromium psql:postgresql-client; do
  command -v "${tool%%:*}" >/dev/null || apt_install "${tool#*:}" ||
    { echo "error: ${tool%%:*} is missing (apt-get install ${tool#*:})" >&2; exit 1; }
done
bin=${CRAWLIUM_BIN:-${CARGO_TARGET_DIR:-target}/release/crawlium}
[ -n "${CRAWLIUM_BIN:-}" ] || cargo build --release --quiet
echo "== cluster benchmark: $(nproc) cores, $("$bin" --version) (release); load average now: $(cut -d" " -f1-3 /proc/loadavg)"
exec python3 tools/bench/cluster/bench.py "$bin" --pages "${1:-2000}" --seconds "${2:-10}" \
  ${BENCH_STEPS:+--steps "$BENCH_STEPS"}
