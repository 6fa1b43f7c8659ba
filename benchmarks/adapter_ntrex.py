"""Does adapting the model to news pay? Trains a LoRA adapter on Tatoeba plus the Indonesian
pairs (ind -> eng/rus/ukr) of the NTREX calibration half, then runs one protocol run (seed 1)
and reports the calibration half (documents the adapter saw) and the test half (documents it
never saw), with a rule fitted on the calibration half as `trace calibrate` fits it; the
shipped adapter (Tatoeba only) goes through the same steps for comparison.

    python benchmarks/adapter_ntrex.py OUT_DIR      # ~12 min of training on 2 cores, then ~1 min
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"


def main() -> None:
    from tracer.evaluation._evaluate import (
        calibrate,
        read_parallel_tsv,
        run_protocol,
        score_by_lang,
        split_of,
        tatoeba_pairs,
    )
    from tracer.model._embed import load_embedder, load_sentence_transformer, resolve
    from tracer.model._tune import TuneSettings, train_adapter

    out = Path(sys.argv[1])
    docs = read_parallel_tsv(DATA / "ntrex" / "ntrex-dev.tsv")
    pairs = tatoeba_pairs(DATA / "tatoeba")
    n_tatoeba = len(pairs)
    pairs += [
        (seg["id"], seg[lang])
        for d in docs
        if split_of(d.doc_id) == "calib"
        for seg in d.segments
        for lang in ("en", "ru", "uk")
        if seg["id"] and seg[lang]
    ]
    print(f"{len(pairs) - n_tatoeba} NTREX calibration-half pairs + {n_tatoeba} Tatoeba pairs")
    if not out.exists():
        spec = resolve("multilingual-e5-small-base")
        model = load_sentence_transformer(spec.target)
        t = time.perf_counter()
        train_adapter(model, pairs, "query: ", out, TuneSettings(), base_name=spec.name)
        print(f"trained in {time.perf_counter() - t:.0f} s")
    from tracer import DEFAULT_MODEL

    for label, name in (("shipped adapter (Tatoeba)", DEFAULT_MODEL), ("+ NTREX calibration half", str(out))):
        embedder = load_embedder(name)
        with tempfile.TemporaryDirectory() as tmp:
            outcomes = run_protocol(docs, embedder, Path(tmp) / "index")
        calib = [o for o in outcomes if o.query.split == "calib"]
        test = [o for o in outcomes if o.query.split == "test"]
        rule, _ = calibrate(calib, model=embedder.info.name, margin_k=4)
        for half, part in (("calibration half", calib), ("test half", test)):
            o = score_by_lang(part, rule)["overall"]
            print(f"{label:<28} {half:<17} top-1 traced {o['top1']:.3f}, best candidate right "
                  f"{o['top1_any']:.3f}, wrong-source {o['wrong_source']:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
