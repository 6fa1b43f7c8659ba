"""Does adapting the model to news pay? Trains LoRA adapters on Tatoeba plus pairs from the
NTREX calibration half, then measures each against the shipped adapter (Tatoeba only):

- `ntrex`: plus the calibration half's Indonesian sentences with their en/ru/uk originals;
- `news`: the same pairs made to look like compiled news, each with a hard negative: half of
  the sentences that split into clauses also as their longest clause alone (compression),
  15% of adjacent pairs also merged into one sentence against both originals, and every pair
  scored against another sentence of the same document (same story, another claim).

Figures: on the real cases and their ablated variants (the yardstick), the best candidate by
cosine right (an accepted page and sentence, as score_case.py counts it) and an accepted one
among the best 3; on one NTREX protocol run (seed 1, runs and mixed layouts), the calibration
half (documents the adapters saw) and the test half (documents they never saw), with a rule
fitted on the calibration half as `trace calibrate` fits it.

    python benchmarks/adapter_ntrex.py OUT_DIR   # ~12 + ~20 min of training on 2 cores, then ~2 min per model
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
CLAUSE = re.compile(r",\s+|\s+(?:dan|serta|sementara|namun|tetapi|setelah|sebelum|yang)\s+")


def other_sentence(originals: list[str], skip: set[int], rng: random.Random) -> str | None:
    """A hard negative: another sentence of the same document."""
    others = [k for k in range(len(originals)) if k not in skip and originals[k]]
    return originals[rng.choice(others)] if others else None


def ntrex_pairs(docs: list, news: bool, seed: int = 0) -> list:
    from tracer.evaluation._evaluate import split_of
    from tracer.model._tune import Pair

    rng = random.Random(seed)
    pairs = []
    for doc in docs:
        if split_of(doc.doc_id) != "calib":
            continue
        segments = [s for s in doc.segments if s["id"]]
        for lang in ("en", "ru", "uk"):
            originals = [s[lang] for s in segments]
            for i, segment in enumerate(segments):
                if not originals[i]:
                    continue
                if not news:
                    pairs.append(Pair(segment["id"], originals[i]))
                    continue
                pairs.append(Pair(segment["id"], originals[i], other_sentence(originals, {i}, rng)))
                clauses = [c.strip() for c in CLAUSE.split(segment["id"]) if len(c.split()) >= 5]
                if len(clauses) >= 2 and rng.random() < 0.5:
                    pairs.append(Pair(max(clauses, key=len), originals[i], other_sentence(originals, {i}, rng)))
                if i + 1 < len(segments) and originals[i + 1] and rng.random() < 0.15:
                    merged = f"{segment['id']} {segments[i + 1]['id']}"
                    negative = other_sentence(originals, {i, i + 1}, rng)
                    pairs.append(Pair(merged, f"{originals[i]} {originals[i + 1]}", negative))
    return pairs


def real_case_ranking(embedder: object, cases: Path, workdir: Path) -> dict[str, tuple[float, float]]:
    """Best candidate right by cosine, and an accepted one among the best 3, full and ablated."""
    from index import IndexStore, add_documents, manifest_for, read_jsonl
    from tracer.evaluation._cases import _labels, case_variants
    from tracer.model._onnx import int8_embedder
    from tracer.tracing._match import find_candidates
    from tracer.tracing._trace import article_sentences, query_texts

    passages = int8_embedder(embedder, lambda message: None)
    right = {part: [0, 0, 0] for part in ("full", "ablated")}  # best, in best 3, lines
    for n, case in enumerate(case_variants([cases], [1, 2, 3])):
        counts = right["ablated" if case.removed else "full"]
        docs = [d for d in read_jsonl(case.sources) if d.meta.url not in case.removed]
        with IndexStore.create(workdir / f"case-{n}", manifest_for(passages)) as store:
            with store.write_lock():
                add_documents(store, docs, passages, batch_docs=256)
            for article in case.articles:
                sentences = [s.text for s in article_sentences(article.text, article.name)]
                vectors = embedder.embed(query_texts(sentences), role="query")  # type: ignore[attr-defined]
                found = find_candidates(store, vectors, k=24, margin_k=4)
                for i, queries in enumerate(_labels(sentences, article.queries)):
                    for q in queries:
                        if q.accept:
                            units = [c.unit for c in found[i][:3]]
                            counts[0] += bool(units) and any(a.covers(units[0]) for a in q.accept)
                            counts[1] += any(a.covers(u) for a in q.accept for u in units)
                            counts[2] += 1
    return {part: (c[0] / c[2], c[1] / c[2]) for part, c in right.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path, help="directory for the trained adapters (reused if present)")
    parser.add_argument("--ntrex", type=Path, default=SHARED / "ntrex" / "ntrex-dev.tsv")
    parser.add_argument("--tatoeba", type=Path, default=SHARED / "tatoeba")
    parser.add_argument("--cases", type=Path, default=SHARED / "realcases")
    args = parser.parse_args()
    from tracer import DEFAULT_MODEL
    from tracer.evaluation._evaluate import (
        Protocol,
        calibrate,
        read_parallel_tsv,
        run_protocol,
        score_by_lang,
        tatoeba_pairs,
    )
    from tracer.model._embed import load_embedder, load_sentence_transformer, resolve
    from tracer.model._tune import Pair, TuneSettings, train_adapter

    docs = read_parallel_tsv(args.ntrex)
    tatoeba = [Pair(x, y) for x, y in tatoeba_pairs(args.tatoeba)]
    models = [("shipped adapter (Tatoeba)", DEFAULT_MODEL)]
    for name, news in (("ntrex", False), ("news", True)):
        out = args.out / name
        models.append((f"+ NTREX calibration half, {name}", str(out)))
        if out.exists():
            continue
        pairs = tatoeba + ntrex_pairs(docs, news)
        negatives = sum(p.negative is not None for p in pairs)
        print(f"{name}: {len(tatoeba)} Tatoeba pairs + {len(pairs) - len(tatoeba)} NTREX pairs, "
              f"{negatives} with a hard negative", flush=True)  # fmt: skip
        spec = resolve("multilingual-e5-small-base")
        t = time.perf_counter()
        train_adapter(load_sentence_transformer(spec.target), pairs, "query: ", out, TuneSettings(),
                      base_name=spec.name)  # fmt: skip
        print(f"{name}: trained in {time.perf_counter() - t:.0f} s", flush=True)
    for label, name in models:
        embedder = load_embedder(name)
        with tempfile.TemporaryDirectory() as tmp:
            real = real_case_ranking(embedder, args.cases, Path(tmp))
            outcomes = run_protocol(docs, embedder, Path(tmp) / "ntrex", Protocol(layouts=("runs", "mixed")))
        print(f"{label}: real cases best candidate right {real['full'][0]:.3f} full, {real['ablated'][0]:.3f} "
              f"ablated; in the best 3 {real['full'][1]:.3f} / {real['ablated'][1]:.3f}")  # fmt: skip
        calib = [o for o in outcomes if o.query.split == "calib"]
        test = [o for o in outcomes if o.query.split == "test"]
        rule, _ = calibrate(calib, model=embedder.info.name, margin_k=4)
        for half, part in (("calibration half", calib), ("test half", test)):
            o = score_by_lang(part, rule)["overall"]
            print(f"  NTREX {half:<17} top-1 traced {o['top1']:.3f}, best candidate right "
                  f"{o['top1_any']:.3f}, wrong-source {o['wrong_source']:.3f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
