"""Embedding backends, side by side in one run: throughput of the default model in torch
float32, as float32 and int8 ONNX, and in bf16 through OpenVINO (where the CPU has it),
agreement of their vectors, and what int8 passages (articles still traced in float32) do to
tracing quality on the NTREX protocol test half.

    python benchmarks/embed_backends.py [--sentences 600] [--rounds 3] [--runs 3] [--budgets 128,2048]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NTREX = ROOT.parent / "shared" / "data" / "ntrex" / "ntrex-dev.tsv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds; the median is reported")
    parser.add_argument("--runs", type=int, default=3, help="NTREX protocol runs per backend (0: throughput only)")
    parser.add_argument("--budgets", default="", help="also time int8 at these padded tokens per batch, e.g. 128,2048")
    args = parser.parse_args()

    from tracer import load_embedder
    from tracer.evaluation._evaluate import read_parallel_tsv, run_protocols, score_by_lang
    from tracer.model._onnx import OnnxEmbedder, SplitEmbedder, bf16_available, ensure_export
    from tracer.tracing._judge import rule_for

    docs = read_parallel_tsv(NTREX)
    texts = [seg[lang] for d in docs for seg in d.segments for lang in ("en", "ru", "uk")][: args.sentences]
    base = load_embedder()
    t = time.perf_counter()
    directory = ensure_export(base)
    prepare = time.perf_counter() - t
    int8 = OnnxEmbedder(base.info, directory, "int8")
    split = SplitEmbedder(base, int8)  # articles in torch float32, sources in int8, as int8_embedder() gives

    backends = {"torch float32": base, "ONNX float32": OnnxEmbedder(base.info, directory, "float32"), "ONNX int8": int8}
    if bf16_available():
        backends["OpenVINO bf16"] = OnnxEmbedder(base.info, directory, "bf16")
    for tokens in filter(None, args.budgets.split(",")):
        backends[f"int8, {tokens} tok"] = OnnxEmbedder(base.info, directory, "int8", int(tokens))
    rates: dict[str, list[float]] = {name: [] for name in backends}
    vectors = {}
    for emb in backends.values():
        emb.embed(texts[:32], role="passage")  # warm up
    for _ in range(args.rounds):  # interleaved, so a noisy neighbour slows every backend alike
        for name, emb in backends.items():
            t = time.perf_counter()
            vectors[name] = emb.embed(texts, role="passage")
            rates[name].append(len(texts) / (time.perf_counter() - t))
    rows = [(name, float(np.median(r))) for name, r in rates.items()]
    cosines = {name: (vectors["torch float32"] * vectors[name]).sum(axis=1) for name in ("ONNX int8", "OpenVINO bf16")
               if name in vectors}  # fmt: skip
    print(f"{len(texts)} NTREX sentences (en/ru/uk), batches of 32 sentences (torch) and of 512 padded tokens (ONNX), {os.cpu_count()} cores, median of {args.rounds} interleaved rounds; "
          f"int8 ONNX model ready in {prepare:.1f} s (exported on first use, then cached)")  # fmt: skip
    for name, rate in rows:
        spread = "/".join(f"{r:.0f}" for r in rates[name])
        print(f"  {name:<16} {rate:6.1f} sentences/s  {rate / rows[0][1]:.2f}x  (rounds: {spread})")
    for name, cos in cosines.items():
        print(f"  cosine {name} vs torch float32: mean {cos.mean():.5f}, min {cos.min():.5f}")
    if not args.runs:
        return
    rule = rule_for(base.info.name)
    print(
        f"\nNTREX protocol, test half, {args.runs} runs (passages embedded by the backend, articles by torch float32):"
    )
    for name, emb in (("torch float32", base), ("ONNX int8", split)):
        with tempfile.TemporaryDirectory() as tmp:
            outcomes = run_protocols(docs, emb, Path(tmp), runs=args.runs)
        result = score_by_lang([o for o in outcomes if o.query.split == "test"], rule)
        o, per = result["overall"], result["per_lang"]
        langs = "/".join(f"{per[x]['top1']:.3f}" for x in ("en", "ru", "uk"))  # type: ignore[index]
        print(f"  {name:<16} top-1 traced {o['top1']:.3f} ({langs}), best candidate right {o['top1_any']:.3f}, "
              f"wrong-source {o['wrong_source']:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
