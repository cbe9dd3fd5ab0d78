#!/usr/bin/env bash
# Crawl benchmark: Crawlium (`crawlium crawl`, SQLite and PostgreSQL) against Scrapy and
# spider-rs on a generated local site, site crawl and sitemap crawl, in the same run. Prints
# pages/s and peak RSS per run and the ratios; asserts nothing (WARNING lines for short runs).
#   tools/bench/crawl/run.sh [pages]        # default 5000
#   RUNS=3            repeat every run, keep the best (default 1)
#   TOOLS=scrapy,spider,sqlite,postgres     which runs to do (default all four; spider-rs
#                                           crawls in site mode only: it follows links)
#   BENCH_VENV=DIR    Scrapy's venv (default ~/.cache/crawlium-bench-venv; made when missing)
#   BENCH_SERVER=python                     serve with python3 -m http.server, not nginx
#   CRAWLIUM_BIN=PATH a crawlium binary to use as it is (default: cargo build --release)
# Needs python3 (3.11), PostgreSQL on 127.0.0.1:5432 (trust auth, database test) for the
# postgres runs, and nginx (installed with apt-get when missing and possible).
set -euo pipefail
cd "$(dirname "$0")/../../.."
pages=${1:-5000}
runs=${RUNS:-1}
tools=",${TOOLS:-scrapy,spider,sqlite,postgres},"
here=tools/bench/crawl
venv=${BENCH_VENV:-$HOME/.cache/crawlium-bench-venv}
max_depth=4
concurrency=16
schema=bench_crawl
pg_url="postgres://postgres@127.0.0.1:5432/test?options=-c%20search_path%3D$schema"
want() { [[ $tools == *",$1,"* ]]; }

. tools/bench/lib.sh

# --- Crawlium ------------------------------------------------------------------------------
bin=${CRAWLIUM_BIN:-${CARGO_TARGET_DIR:-target}/release/crawlium}
if want sqlite || want postgres; then
  if [ -z "${CRAWLIUM_BIN:-}" ]; then
    cargo build --release --quiet || { echo "error: cargo build --release failed (or use TOOLS=scrapy)" >&2; exit 1; }
  fi
  if ! "$bin" crawl --help >/dev/null 2>&1; then
    echo "error: '$bin crawl' does not exist yet (the CLI crawl subcommand this benchmark drives:" >&2
    echo "  crawlium --data-dir DIR [--database-url URL] crawl URL [--sitemap] [--max-pages N]" >&2
    echo "  [--max-depth D] [--max-concurrent N] --json). Run only Scrapy with TOOLS=scrapy." >&2
    exit 1
  fi
fi
if want postgres; then
  command -v psql >/dev/null || { echo "error: psql is missing (apt-get install postgresql-client)" >&2; exit 1; }
  psql -h 127.0.0.1 -U postgres -d test -qAtc 'select 1' >/dev/null ||
    { echo "error: PostgreSQL is not reachable as postgres@127.0.0.1:5432/test; or use TOOLS=scrapy,sqlite" >&2; exit 1; }
fi

# --- spider-rs -----------------------------------------------------------------------------
# A project of its own (tools/bench/crawl/spider): spider's dependency tree stays out of
# Crawlium's build.
spider_target=${CARGO_TARGET_DIR:-$PWD/target/spider-peer}
spider_bin=$spider_target/release/spider-peer
if want spider; then
  cargo build --release --locked --quiet --manifest-path "$here/spider/Cargo.toml" \
    --target-dir "$spider_target" ||
    { echo "error: building the spider-rs peer failed (or leave it out: TOOLS=scrapy,sqlite,postgres)" >&2; exit 1; }
fi

# --- Scrapy --------------------------------------------------------------------------------
if want scrapy && ! "$venv/bin/python" -c 'import scrapy' 2>/dev/null; then
  echo "==> installing Scrapy into $venv" >&2
  python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$venv"; }
  "$venv/bin/pip" install -q --disable-pip-version-check 'scrapy>=2.19,<3'
fi

# --- The site and its server ---------------------------------------------------------------
tmp=$(mktemp -d)
chmod 755 "$tmp" # nginx's worker may run as nobody
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(free_port)
site="$tmp/site"
python3 "$here/gen_site.py" "$site" "127.0.0.1:$port" --pages "$pages"

server=${BENCH_SERVER:-nginx}
if [ "$server" = nginx ] && ! command -v nginx >/dev/null; then
  echo "==> installing nginx" >&2
  apt_install nginx-light || apt_install nginx || true
  command -v nginx >/dev/null || { echo "WARNING: nginx could not be installed; serving with python3 -m http.server" >&2; server=python; }
fi
if [ "$server" = nginx ]; then
  mkdir -p "$tmp/nginx"
  mime=/etc/nginx/mime.types
  [ -f "$mime" ] || mime=$(dirname "$(nginx -V 2>&1 | sed -n 's/.*--conf-path=\([^ ]*\).*/\1/p')")/mime.types
  cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
  include $mime;
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.0.1:$port;
    root $site;
    index index.html;
  }
}
EOF
  nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" &
  server_pid=$!
  server_name="nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), worker_processes 1"
else
  python3 -m http.server "$port" --bind 127.0.0.1 --directory "$site" >/dev/null 2>&1 &
  server_pid=$!
  server_name="python3 -m http.server (nginx unavailable or BENCH_SERVER=python)"
fi
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -sf "$base/robots.txt" >/dev/null && break; sleep 0.1; done
curl -sf "$base/robots.txt" >/dev/null || { echo "error: the site server did not come up on $base" >&2; exit 1; }

# --- The runs ------------------------------------------------------------------------------
results="$tmp/results.jsonl"
: >"$results"
measure() { python3 "$here/measure.py" run --expect "$pages" --results "$results" "$@"; }
scrapy_run() { # mode
  local out="$tmp/scrapy-$1.jsonl"
  measure --tool scrapy --mode "$1" --feed "$out" --log "$tmp/scrapy-$1.log" -- \
    "$venv/bin/python" "$here/scrapy_spider.py" "$1" "$base/" "$out" \
    --max-pages "$pages" --max-depth "$max_depth" --concurrency "$concurrency"
  rm -f "$out"
}
spider_run() {
  measure --tool spider --mode site --log "$tmp/spider.log" -- \
    "$spider_bin" "$base/" "$pages" "$max_depth" "$concurrency"
}
crawlium_run() { # mode backend
  local data="$tmp/data-$1-$2" db=() sitemap=()
  rm -rf "$data" && mkdir -p "$data"
  if [ "$2" = postgres ]; then
    psql -h 127.0.0.1 -U postgres -d test -qc "SET client_min_messages = warning;
      DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema" >/dev/null
    db=(--database-url "$pg_url")
  fi
  [ "$1" = sitemap ] && sitemap=(--sitemap)
  # The site is on 127.0.0.1: private networks must be allowed (flag or env, same setting).
  # Per-host politeness cap raised to the crawl's concurrency, as Scrapy's
  # CONCURRENT_REQUESTS_PER_DOMAIN is: the whole site is one host.
  CRAWLIUM_ALLOW_PRIVATE_NETWORKS=true CRAWL_HOST_CONCURRENCY=$concurrency RUST_LOG=${RUST_LOG:-warn} \
    measure --tool crawlium --mode "$1" --backend "$2" --log "$tmp/crawlium-$1-$2.log" -- \
    "$bin" --data-dir "$data" "${db[@]}" crawl "$base/" "${sitemap[@]}" \
    --max-pages "$pages" --max-depth "$max_depth" --max-concurrent "$concurrency" --json
  rm -rf "$data"
}

echo "== crawl benchmark: $pages pages, $runs run(s) each, $concurrency concurrent, depth <= $max_depth, $(nproc) cores"
echo "   server: $server_name on $base; load average now: $(cut -d" " -f1-3 /proc/loadavg)"
want spider && echo "   spider-rs: $(sed -n 's/^spider = { version = "=\([^"]*\)".*/\1/p' "$here/spider/Cargo.toml") (default features off; links only)"
want scrapy && echo "   scrapy: $("$venv/bin/python" -c 'import scrapy; print(scrapy.__version__)') ($("$venv/bin/python" -V))"
{ want sqlite || want postgres; } && echo "   crawlium: $("$bin" --version) (release)"
for mode in site sitemap; do
  echo "== $mode"
  for r in $(seq 1 "$runs"); do
    [ "$runs" -gt 1 ] && echo "  run $r/$runs"
    if want scrapy; then scrapy_run "$mode"; fi
    if want spider && [ "$mode" = site ]; then spider_run; fi
    if want sqlite; then crawlium_run "$mode" sqlite; fi
    if want postgres; then crawlium_run "$mode" postgres; fi
  done
done
if want postgres; then
  psql -h 127.0.0.1 -U postgres -d test -qc "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null
fi
echo "== results (best of $runs; seconds are wall time from process start to exit)"
python3 "$here/measure.py" table "$results"
