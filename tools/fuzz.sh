#!/usr/bin/env bash
# Fuzzes the parsers that read what the web, clients and browsers send (src/fuzz.rs).
#
#   tools/fuzz.sh                 # every target, 60 s each
#   tools/fuzz.sh url 600         # one target for 10 minutes
#   tools/fuzz.sh all 600         # every target, 10 minutes each
#
# Targets: sitemap robots url net_policy extract chunk snapshot socks sse_message.
# With a nightly toolchain (`rustup toolchain list`) the targets run under libFuzzer with
# cargo-fuzz (installed when missing), their corpus in fuzz/corpus/TARGET (seeded from
# fuzz/seeds/TARGET), failures in fuzz/artifacts/TARGET. Without one they run on stable as
# property tests (seeds mutated at random). Either way a failure stops the script: copy the
# failing input into fuzz/regressions/TARGET/ (the ordinary test suite replays those) and fix
# it. Each target's line says how many inputs ran.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(sitemap robots url net_policy extract chunk snapshot socks sse_message)
target="${1:-all}"
seconds="${2:-60}"
if [ "$target" = all ]; then selected=("${TARGETS[@]}"); else selected=("$target"); fi
for t in "${selected[@]}"; do
  [[ " ${TARGETS[*]} " == *" $t "* ]] || { echo "unknown target '$t'; one of: ${TARGETS[*]}" >&2; exit 2; }
done

log() { printf '==> %s\n' "$*" >&2; }

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz"
    cargo +nightly install cargo-fuzz --locked -q
  fi
  for t in "${selected[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    log "fuzzing $t for ${seconds} s (libFuzzer)"
    # -rss_limit_mb: a parser that needs more than 2 GB for one input has failed.
    (cd fuzz && cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=262144 \
      -print_final_stats=1) 2> "fuzz/$t.log" || { tail -40 "fuzz/$t.log" >&2; exit 1; }
    runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "fuzz/$t.log" | grep -oE '[0-9]+$' || echo "?")
    corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
    echo "fuzz $t: $runs runs in $seconds s, corpus $corpus inputs, no failure"
  done
else
  log "no nightly toolchain: running the targets as property tests on stable"
  for t in "${selected[@]}"; do
    FUZZ_TARGET="$t" FUZZ_SECONDS="$seconds" cargo test -q --lib --features fuzzing \
      fuzz::tests::stable_fuzzing -- --ignored --nocapture 2>&1 | grep -E '^fuzz |panicked|failed' || exit 1
  done
fi
