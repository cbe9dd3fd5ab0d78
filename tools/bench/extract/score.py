#!/usr/bin/env python3
"""Per-page scores of one extractor's output, worst first, with the benchmark's own metric
(data/evaluate.py): what to look at when the F1 moves.

    tools/bench/extract/score.py target/bench-extract/output/crawlium.json [N]
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "data"))
import evaluate  # noqa: E402

truth = json.loads((Path(__file__).parent / "data/ground-truth.json").read_text())
prediction, _ = evaluate.load_prediction(Path(sys.argv[1]))
worst = int(sys.argv[2]) if len(sys.argv) > 2 else 15
rows = []
for key, item in truth.items():
    tp, fp, fn = evaluate.string_shingle_matching(
        true=item.get("articleBody", ""), pred=prediction[key].get("articleBody", ""))
    precision = evaluate.precision_score(tp, fp, fn)
    recall = evaluate.recall_score(tp, fp, fn)
    rows.append((min(precision, recall), precision, recall, key, item["url"]))
rows.sort()
for _, precision, recall, key, url in rows[:worst]:
    print(f"P {precision:.2f}  R {recall:.2f}  {key[:12]}  {url}")
