#!/usr/bin/env bash
# Repository indexing benchmark: Crawlium's first index and one-file re-index of a large real
# source tree against universal-ctags on the same tree, in the same run (see main.rs).
#   tools/bench/repos/run.sh
#   BENCH_TREES=/path/a,/path/b tools/bench/repos/run.sh    # other trees (default: tokio's
#                                                           # source and Python's stdlib)
# Needs git, and universal-ctags (installed with apt-get when missing and possible).
set -euo pipefail
cd "$(dirname "$0")/../../.."
. tools/bench/lib.sh
command -v git >/dev/null || apt_install git
command -v ctags >/dev/null || apt_install universal-ctags || echo "universal-ctags missing: ctags is not compared"
cargo bench --bench repos
