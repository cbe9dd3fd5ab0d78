#!/usr/bin/env python3
"""Cluster benchmark (Python 3.11, stdlib only; run by tools/bench/cluster/run.sh).

    bench.py BIN [--pages N] [--seconds S] [--rounds R]

Starts Crawlium replicas (the release binary BIN) clustered on the machine's Redis and a fresh
PostgreSQL schema, nginx as the round-robin balancer and as the fixture sites' server, and
prints three figures; it asserts nothing:

1. browser_navigate p50 called on the browser's owner (direct) and on another replica
   (forwarded to the owner), alternating, R rounds: the forwarding overhead.
2. Stateless server_status calls/s through nginx with 1 and with 3 replicas (wrk).
3. Crawl pages/s with 1 and with 3 replicas: three sitemap jobs (one per fixture host, N
   pages each) started through nginx, timed from the first start to the last end.
"""

import argparse
import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
PG = "postgres://postgres@127.0.0.1:5432/test"
REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
SECRET = "bench-cluster-secret-0123456789abcdef"
META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, path="/health", limit=30.0):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"error: nothing answered on port {port}{path} within {limit} s")


class Client:
    """Stateless (2026-07-28) tool calls over one kept-alive connection."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, tool, args):
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": tool, "arguments": args, "_meta": META},
            }
        )
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2026-07-28",
            "Mcp-Method": "tools/call",
            "Mcp-Name": tool,
        }
        if "browserId" in args:
            headers["Mcp-Param-BrowserId"] = args["browserId"]
        self.conn.request("POST", "/mcp", body, headers)
        response = self.conn.getresponse()
        text = response.read().decode()
        if text.lstrip().startswith("{"):
            answer = json.loads(text)
        else:
            data = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
            answer = json.loads(data[-1])
        result = answer.get("result") or sys.exit(f"error: {tool}: {answer}")
        if result.get("isError"):
            sys.exit(f"error: {tool}: {result['content'][0]['text']}")
        return result.get("structuredContent", {})


class Run:
    """Processes of one benchmark run, stopped at the end."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []

    def spawn(self, args, env=None, log=None):
        out = open(log, "w") if log else subprocess.DEVNULL
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=out)
        self.procs.append(proc)
        return proc

    def nginx(self, name, server_blocks, upstream=None):
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        up = ""
        if upstream:
            servers = "".join(f"    server {u} max_fails=0;\n" for u in upstream)
            # As docker/nginx.conf: no upstream keepalive, so a POST to a replica that just
            # died is retried on the next one (a dead cached connection would be a 502).
            up = f"  upstream crawlium {{\n{servers}  }}\n"
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(
                f"user root;\nworker_processes 1;\nmaster_process off;\ndaemon off;\n"
                f"pid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n"
                f"events {{ worker_connections 4096; }}\n"
                f"http {{\n  access_log off;\n  default_type text/html;\n"
                f"  keepalive_requests 100000;\n"
                f"  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n"
                f"  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n"
                f"  scgi_temp_path {d}/scgi;\n{up}{server_blocks}}}\n"
            )
        self.spawn(["nginx", "-p", d, "-c", conf])

    def balancer(self, ports):
        port = free_port()
        self.nginx(
            f"balancer-{port}",
            f"  server {{\n    listen 127.0.0.1:{port};\n    location / {{\n"
            f"      proxy_pass http://crawlium;\n      proxy_http_version 1.1;\n"
            f'      proxy_set_header Connection "";\n      proxy_set_header Host $http_host;\n'
            f"      proxy_buffering off;\n      proxy_connect_timeout 2s;\n"
            f"      proxy_next_upstream error timeout non_idempotent;\n"
            f"      proxy_next_upstream_tries 3;\n"
            f"      proxy_read_timeout 3600s;\n    }}\n  }}\n",
            upstream=[f"127.0.0.1:{p}" for p in ports],
        )
        wait_for(port, "/health")
        return port

    def replicas(self, binary, n, schema, cluster, extra=None):
        ports = []
        for i in range(n):
            port = free_port()
            env = dict(os.environ)
            env.update(
                {
                    "RUST_LOG": "warn",
                    "CRAWLIUM_DATA_DIR": os.path.join(self.tmp, f"{cluster}-{i}"),
                    "DATABASE_URL": f"{PG}?options=-c%20search_path%3D{schema}",
                    "REDIS_URL": REDIS,
                    "CRAWLIUM_CLUSTER_SECRET": SECRET,
                    "CRAWLIUM_CLUSTER_NAME": cluster,
                    "CRAWLIUM_ALLOW_PRIVATE_NETWORKS": "true",
                    "CRAWL_HOST_CONCURRENCY": "16",
                }
            )
            env.update(extra or {})
            log = os.path.join(self.tmp, f"{cluster}-{i}.log")
            self.spawn([binary, "--port", str(port)], env=env, log=log)
            ports.append(port)
        for port in ports:
            wait_for(port, "/health")
        # Every replica sees the others before anything is measured.
        deadline = time.time() + 20
        while time.time() < deadline:
            seen = [len(Client(p).call("server_status", {})["cluster"]["replicas"]) for p in ports]
            if all(s == n for s in seen):
                break
            time.sleep(0.2)
        return ports

    def stop(self):
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs = []


def psql(sql):
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qAtc", sql],
        check=True,
        stdout=subprocess.DEVNULL,
        env=dict(os.environ, PGOPTIONS="-c client_min_messages=warning"),
    )


def fresh_schema():
    schema = f"bench_cluster_{uuid.uuid4().hex[:8]}"
    psql(f"CREATE SCHEMA {schema}")
    return schema


@contextlib.contextmanager
def cluster(binary, tmp, n, tag, extra=None):
    """`n` replicas on a fresh schema; yields the run and their ports, then stops them and
    drops the schema."""
    run = Run(tmp)
    schema = fresh_schema()
    try:
        yield run, run.replicas(binary, n, schema, f"{tag}{uuid.uuid4().hex[:6]}", extra)
    finally:
        run.stop()
        psql(f"DROP SCHEMA {schema} CASCADE")


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def navigate_overhead(binary, tmp, page_url, rounds):
    with cluster(binary, tmp, 2, "nav") as (_, (a, b)):
        direct, forwarded = Client(a), Client(b)
        browser = direct.call("browser_open", {})["browserId"]
        args = {"browserId": browser, "url": page_url, "snapshot": False}
        for _ in range(10):
            direct.call("browser_navigate", args)
            forwarded.call("browser_navigate", args)
        times = {"direct": [], "forwarded": []}
        for _ in range(rounds):
            for name, client in (("direct", direct), ("forwarded", forwarded)):
                started = time.perf_counter()
                client.call("browser_navigate", args)
                times[name].append((time.perf_counter() - started) * 1000)
        p50 = {k: statistics.median(v) for k, v in times.items()}
        print(f"== browser_navigate, {rounds} calls each, alternating (ms)")
        for name, values in times.items():
            print(
                f"  {name:9}  p50 {p50[name]:7.2f}  p90 {percentile(values, 0.9):7.2f}"
                f"  min {min(values):7.2f}"
            )
        print(f"  forwarding overhead at p50: {p50['forwarded'] - p50['direct']:.2f} ms")


def status_throughput(binary, tmp, seconds):
    lua = os.path.join(ROOT, "tools", "bench", "protocol", "call.lua")
    print(f"== stateless server_status through nginx, wrk -t1 -c64 -d{seconds}s")
    for n in (1, 3):
        with cluster(binary, tmp, n, "st") as (run, ports):
            port = run.balancer(ports)
            out = subprocess.run(
                ["wrk", "-t1", "-c64", f"-d{seconds}s", "--latency", "-s", lua,
                 f"http://127.0.0.1:{port}/mcp"],
                capture_output=True, text=True, check=True,
            ).stdout
            rps = next(l.split()[1] for l in out.splitlines() if l.startswith("Requests/sec"))
            p50 = next(l.split()[1] for l in out.splitlines() if l.strip().startswith("50%"))
            wrong = next((l for l in out.splitlines() if l.startswith("wrong answers")), "")
            print(f"  {n} replica(s): {rps} calls/s, p50 {p50}, {wrong}")


# A static file server that answers every request after 100 ms, one thread per connection.
SLOW_SERVER = """
import functools, http.server, sys, time
class Slow(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.1)
        super().do_GET()
    def log_message(self, *args):
        pass
handler = functools.partial(Slow, directory=sys.argv[2])
Slow.protocol_version = "HTTP/1.1"
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"""


def crawl_throughput(binary, tmp, sites, title, extra=None):
    """Starts one crawl_sitemap job per site through nginx, with 1 then 3 replicas, and
    prints pages/s from the first start to the last end."""
    print(f"== {title}")
    for n in (1, 3):
        with cluster(binary, tmp, n, "cr", extra) as (run, ports):
            port = run.balancer(ports)
            client = Client(port)
            started = time.perf_counter()
            jobs = [
                client.call(
                    "crawl_sitemap",
                    {"url": f"http://{host}/", "maxPages": pages,
                     "maxConcurrent": 16, "wait": False},
                )["jobId"]
                for host, pages in sites
            ]
            done = {}
            while len(done) < len(jobs):
                for job in jobs:
                    if job in done:
                        continue
                    status = client.call("job_status", {"jobId": job})
                    if status["status"] not in ("queued", "running"):
                        done[job] = (status, time.perf_counter())
                time.sleep(0.2)
            elapsed = max(at for _, at in done.values()) - started
            pages = sum(s["progress"]["done"] for s, _ in done.values())
            states = sorted({s["status"] for s, _ in done.values()})
            print(
                f"  {n} replica(s): {pages} pages in {elapsed:.1f} s = {pages / elapsed:.0f} "
                f"pages/s ({', '.join(states)})"
            )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--slow-pages", type=int, default=1000)
    parser.add_argument("--steps", default="navigate,status,crawl,slow",
                        help="which measurements to run, comma-separated")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        # Three fixture hosts (one nginx, three ports), each its own generated site, and a
        # fourth that answers every request after 100 ms (a slow site: waiting, not CPU, is
        # the limit), served by Python threads.
        fixture = Run(tmp)
        blocks, sites = "", []
        for i in range(4):
            port = free_port()
            root = os.path.join(tmp, f"site{i}")
            pages = opts.pages if i < 3 else opts.slow_pages
            subprocess.run(
                [sys.executable, os.path.join(ROOT, "tools", "bench", "crawl", "gen_site.py"),
                 root, f"127.0.0.1:{port}", "--pages", str(pages), "--seed", str(i)],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            if i < 3:
                blocks += (
                    f"  server {{\n    listen 127.0.0.1:{port};\n    root {root};\n"
                    f"    index index.html;\n  }}\n"
                )
            else:
                fixture.spawn([sys.executable, "-c", SLOW_SERVER, str(port), root])
            sites.append((f"127.0.0.1:{port}", pages))
        slow_site = sites.pop()
        fixture.nginx("fixtures", blocks)
        wait_for(int(slow_site[0].split(":")[1]), "/robots.txt")
        wait_for(int(sites[0][0].split(":")[1]), "/robots.txt")
        try:
            steps = opts.steps.split(",")
            if "navigate" in steps:
                navigate_overhead(opts.binary, tmp, f"http://{sites[0][0]}/", opts.rounds)
            if "status" in steps:
                status_throughput(opts.binary, tmp, opts.seconds)
            if "crawl" in steps:
                crawl_throughput(
                    opts.binary, tmp, sites,
                    f"crawl_sitemap, {len(sites)} hosts x {opts.pages} pages, one job per host",
                )
            # One job; the host allows 48 requests at once, a run makes at most 16.
            if "slow" in steps:
                crawl_throughput(
                    opts.binary, tmp, [slow_site],
                    f"crawl_sitemap, one job of {opts.slow_pages} pages on a slow host (100 ms "
                    f"per response), host concurrency 48",
                    {"CRAWL_HOST_CONCURRENCY": "48"},
                )
        finally:
            fixture.stop()


if __name__ == "__main__":
    main()
