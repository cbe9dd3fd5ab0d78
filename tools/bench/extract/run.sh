#!/usr/bin/env bash
# Extraction benchmark: Crawlium's main-content extractor and rs-trafilatura 0.2.2 on the
# article-extraction benchmark's 181 pages (data/, MIT), in the same run, scored by the
# benchmark's own evaluate.py (token-shingle F1 of `format: text` against the hand-checked
# article bodies). Fetches nothing but crates; see README.md for the method and the figures.
#   tools/bench/extract/run.sh
#   BENCH_ROUNDS=5 tools/bench/extract/run.sh     # extractions per page (the fastest counts)
set -euo pipefail
cd "$(dirname "$0")/../../.."
root=$PWD
out=${BENCH_OUT:-$root/target/bench-extract}
mkdir -p "$out/output"
BENCH_OUT=$out cargo bench --bench extract
# The peer is a project of its own: its parser (dom_query, html5ever 0.36) stays out of
# Crawlium's build.
peer_target=${CARGO_TARGET_DIR:-$root/target/extract-peer}
cargo build --release --locked --quiet \
  --manifest-path tools/bench/extract/peer/Cargo.toml --target-dir "$peer_target"
"$peer_target/release/extract-peer" tools/bench/extract/data "$out/output/rs_trafilatura.json"
ln -sf "$root/tools/bench/extract/data/ground-truth.json" "$out/ground-truth.json"
cd "$out" && python3 "$root/tools/bench/extract/data/evaluate.py" --n-bootstrap 200
echo "per page, worst first: tools/bench/extract/score.py $out/output/crawlium.json 20"
