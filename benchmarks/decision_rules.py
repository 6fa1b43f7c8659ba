"""Which evidence should decide "traced" vs "no_source"? Each rule is fitted on the NTREX
calibration half at the same operating point (at most 2% wrong-source) and scored on the
test half, with the default model, both pooled over the same protocol runs as `trace
calibrate` and `trace eval` (3 runs, seeds 1-3):

    python benchmarks/decision_rules.py [PATH/ntrex-dev.tsv] [--model NAME] [--runs 3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tracer import DEFAULT_MODEL, load_embedder
from tracer._evaluate import Protocol, calibrate, read_parallel_tsv, run_protocols, score_by_lang

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ntrex" / "ntrex-dev.tsv"
RULES = {
    "cosine threshold": ("cosine",),
    "margin threshold": ("margin",),
    "cosine + margin": ("cosine", "margin"),
    "+ article coherence": ("cosine", "margin", "neighbour", "article"),
    "+ sentence order": ("cosine", "margin", "neighbour", "article", "sequence"),
    "+ order on both sides (tracer)": ("cosine", "margin", "neighbour", "article", "sequence", "sides"),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--max-wrong-source", type=float, default=0.02)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    embedder = load_embedder(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        outcomes = run_protocols(read_parallel_tsv(args.data), embedder, Path(tmp), runs=args.runs)
    calib = [o for o in outcomes if o.query.split == "calib"]
    test = [o for o in outcomes if o.query.split == "test"]
    print(f"model {embedder.info.name}, fitted at <= {args.max_wrong_source:.0%} wrong-source on the calibration half")
    print(f"{'rule':<30} {'top1':>6} {'en':>6} {'ru':>6} {'uk':>6} {'wrong-source':>13} {'wrong pick':>11}")
    for name, features in RULES.items():
        rule, _ = calibrate(calib, model=embedder.info.name, margin_k=Protocol().margin_k,
                            max_wrong_source=args.max_wrong_source, features=features)  # fmt: skip
        result = score_by_lang(test, rule)
        o, per = result["overall"], result["per_lang"]
        print(f"{name:<30} {o['top1']:>6.3f} {per['en']['top1']:>6.3f} {per['ru']['top1']:>6.3f} "
              f"{per['uk']['top1']:>6.3f} {o['wrong_source']:>13.3f} {o['wrong_pick']:>11.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
