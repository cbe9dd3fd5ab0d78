#!/usr/bin/env python3
"""Measures one crawl run, and prints the comparison table (Python 3.11, stdlib only).

    measure.py run --tool T --mode M --backend B --expect N --results R.jsonl
                   [--feed OUT.jsonl] [--log LOG] -- COMMAND ARGS...
    measure.py table R.jsonl

run: starts COMMAND, waits for it with wait4(2) and appends one JSON record to R.jsonl: wall
seconds (measured here, process start to exit), peak RSS (ru_maxrss of the process, what
`/usr/bin/time -v` reports as "Maximum resident set size"), CPU seconds, exit code and pages.
Pages are the lines of --feed (Scrapy's JSON lines output) or, without --feed, `progress.done`
of the JSON object COMMAND prints on stdout (crawlium crawl --json), or its `pages` (the
spider-rs peer). Prints one line, and a
WARNING line when the run failed or did not get N pages. Exits 0 either way.

table: keeps the best run (highest pages/s) of each tool/mode/backend, prints the table, the
Crawlium/Scrapy ratios of pages/s and peak RSS per mode and backend, and the Crawlium/spider-rs
ratios (site mode: spider-rs only follows links).
"""

import argparse
import json
import os
import subprocess
import sys
import time

TARGET_SPEEDUP = 5.0
TARGET_RSS_RATIO = 0.5
# Against spider-rs (link discovery only, nothing extracted or stored): issue 16's targets.
SPIDER_TARGET_SPEED = 0.5
SPIDER_TARGET_RSS = 2.0


def last_json_object(text):
    """The summary object in COMMAND's stdout: the whole of it, or its last JSON line."""
    text = text.strip()
    try:
        value = json.loads(text)
        if isinstance(value, dict):
            return value
    except ValueError:
        pass
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
                if isinstance(value, dict):
                    return value
            except ValueError:
                continue
    return None


def dig(obj, *keys):
    for key in keys:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def tail(path, lines=8):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).rstrip()
    except OSError:
        return ""


def run(args):
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        sys.exit("measure.py run: no command after --")
    log = open(args.log or os.devnull, "w")
    out_path = (args.log + ".stdout") if args.log else None
    out = open(out_path, "w+") if out_path else subprocess.PIPE
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=out, stderr=log, stdin=subprocess.DEVNULL)
    stdout_text = ""
    if out is subprocess.PIPE:
        stdout_text = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    secs = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    log.close()
    if out_path:
        out.seek(0)
        stdout_text = out.read()
        out.close()

    record = {
        "tool": args.tool,
        "mode": args.mode,
        "backend": args.backend,
        "rc": proc.returncode,
        "secs": round(secs, 3),
        "rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_secs": round(usage.ru_utime + usage.ru_stime, 2),
        "expect": args.expect,
    }
    if args.feed:
        urls, lines = set(), 0
        try:
            with open(args.feed) as f:
                for line in f:
                    if line.strip():
                        lines += 1
                        try:
                            urls.add(json.loads(line).get("url"))
                        except ValueError:
                            pass
        except OSError:
            pass
        record["pages"] = lines
        record["unique_urls"] = len(urls)
    else:
        summary = last_json_object(stdout_text)
        done = dig(summary, "progress", "done")
        if done is None:
            done = dig(summary, "pages")
        record["pages"] = done if isinstance(done, int) else 0
        record["status"] = dig(summary, "status")
        record["failed"] = dig(summary, "progress", "failed")
        record["skipped"] = dig(summary, "progress", "skipped")
        record["self_pages_per_sec"] = dig(summary, "stats", "pagesPerSec")
        record["self_peak_mb"] = dig(summary, "stats", "memory", "peakMb")
        record["self_elapsed_ms"] = dig(summary, "stats", "elapsedMs")
        if summary is None:
            record["stdout_tail"] = stdout_text.strip()[-400:]
    record["pages_per_sec"] = round(record["pages"] / secs, 1) if secs > 0 else 0.0
    with open(args.results, "a") as f:
        f.write(json.dumps(record) + "\n")

    name = f"{args.tool} {args.mode} {args.backend}".replace(" -", "")
    extra = ""
    if record.get("self_pages_per_sec") is not None:
        extra = (
            f" (own stats: {record['self_pages_per_sec']} pages/s, "
            f"peak {record.get('self_peak_mb')} MB)"
        )
    print(
        f"  {name}: {record['pages']} pages in {secs:.2f} s = {record['pages_per_sec']} pages/s, "
        f"peak RSS {record['rss_mb']} MB, CPU {record['cpu_secs']} s{extra}",
        flush=True,
    )
    if proc.returncode != 0:
        print(f"WARNING: {name} exited with {proc.returncode}", flush=True)
        last = tail(args.log) if args.log else ""
        if last:
            print("  " + last.replace("\n", "\n  "), flush=True)
    if record["pages"] != args.expect:
        detail = ""
        if record.get("unique_urls") not in (None, record["pages"]):
            detail = f", {record['unique_urls']} unique URLs"
        if record.get("failed") or record.get("skipped"):
            detail += f", failed {record.get('failed')}, skipped {record.get('skipped')}"
        if "stdout_tail" in record:
            detail += f", no JSON summary on stdout: {record['stdout_tail']!r}"
        print(f"WARNING: {name} got {record['pages']} pages, not {args.expect}{detail}", flush=True)


def table(args):
    records = []
    with open(args.results) as f:
        records = [json.loads(line) for line in f if line.strip()]
    best = {}
    runs = {}
    for r in records:
        key = (r["tool"], r["mode"], r["backend"])
        runs[key] = runs.get(key, 0) + 1
        if key not in best or r["pages_per_sec"] > best[key]["pages_per_sec"]:
            best[key] = r
    order = {"scrapy": 0, "spider": 1, "crawlium": 2}
    border = {"-": 0, "sqlite": 1, "postgres": 2}
    keys = sorted(best, key=lambda k: (k[1] != "site", order.get(k[0], 9), border.get(k[2], 9)))
    header = f"{'tool':<9} {'mode':<8} {'backend':<9} {'pages':>6} {'seconds':>8} {'pages/s':>8} {'peak RSS MB':>12} {'CPU s':>7} {'runs':>5}"
    print(header)
    print("-" * len(header))
    for key in keys:
        r = best[key]
        print(
            f"{r['tool']:<9} {r['mode']:<8} {r['backend']:<9} {r['pages']:>6} {r['secs']:>8.2f} "
            f"{r['pages_per_sec']:>8.1f} {r['rss_mb']:>12.1f} {r['cpu_secs']:>7.2f} {runs[key]:>5}"
            + ("  FAILED" if r["rc"] != 0 else "")
        )
    for peer, modes, speed_target, rss_target, title in (
        ("scrapy", ("site", "sitemap"), TARGET_SPEEDUP, TARGET_RSS_RATIO, "Crawlium / Scrapy (best runs)"),
        (
            "spider",
            ("site",),
            SPIDER_TARGET_SPEED,
            SPIDER_TARGET_RSS,
            "Crawlium (everything stored) / spider-rs (links only; best runs)",
        ),
    ):
        lines = ratios(best, peer, modes, speed_target, rss_target)
        if lines:
            print(f"\n{title}")
            print("\n".join(lines))


def ratios(best, peer, modes, speed_target, rss_target):
    """Crawlium's pages/s and peak RSS over `peer`'s best run, per mode and backend, with the
    CPU each spent per page and whether the targets hold."""

    def cpu_per_page(r):
        return 1000 * r["cpu_secs"] / max(r["pages"], 1)

    lines = []
    for mode in modes:
        theirs = best.get((peer, mode, "-"))
        for backend in ("sqlite", "postgres"):
            ours = best.get(("crawlium", mode, backend))
            if not theirs or not ours or not theirs["pages_per_sec"] or not theirs["rss_mb"]:
                continue
            speed = ours["pages_per_sec"] / theirs["pages_per_sec"]
            rss = ours["rss_mb"] / theirs["rss_mb"]
            lines.append(
                f"{mode:<8} {backend:<9} pages/s x{speed:.2f}  peak RSS x{rss:.2f}  CPU per page "
                f"{cpu_per_page(ours):.3f} ms vs {cpu_per_page(theirs):.3f} ms  "
                f"(target: pages/s >= x{speed_target:g}: {'yes' if speed >= speed_target else 'no'}, "
                f"RSS <= x{rss_target:g}: {'yes' if rss <= rss_target else 'no'})"
            )
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--tool", required=True)
    r.add_argument("--mode", required=True)
    r.add_argument("--backend", default="-")
    r.add_argument("--expect", type=int, required=True)
    r.add_argument("--results", required=True)
    r.add_argument("--feed")
    r.add_argument("--log")
    r.add_argument("command", nargs=argparse.REMAINDER)
    t = sub.add_parser("table")
    t.add_argument("results")
    args = ap.parse_args()
    run(args) if args.cmd == "run" else table(args)


if __name__ == "__main__":
    main()
