"""Does what we embed for an Indonesian sentence change which candidate ranks first on real
compiled articles? Best candidate right (an accepted page and sentence, as score_case.py
counts it), by cosine alone, on the real cases and their ablated variants, for:

- the sentence as written;
- without the newsroom's credit ("..., dikutip dari AFP, Kamis (14/8).": tracer's default);
- also without "(24/7/2025)"-style dates, which originals never write so;
- the best of the sentence and its clauses (split at commas and conjunctions), a clause's
  cosine counted 0.05 lower: long Indonesian sentences merge facts from several originals.

    python benchmarks/query_variants.py [--cases DIR] [--ablate 1,2,3]
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

from tracer import DEFAULT_MODEL, load_embedder
from tracer.evaluation._cases import _labels, case_variants
from tracer.model._onnx import int8_embedder
from tracer.tracing._match import find_candidates
from tracer.tracing._trace import article_sentences, query_texts

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
DATE = re.compile(r"\s*\(\d{1,2}/\d{1,2}(?:/\d{2,4})?\)")
CLAUSE = re.compile(r",\s+|\s+(?:dan|serta|sementara|namun|tetapi|setelah|sebelum)\s+")
CLAUSE_PENALTY = 0.05


def clauses(text: str) -> list[str]:
    parts = [p.strip() for p in CLAUSE.split(text) if len(p.split()) >= 4]
    return parts if len(parts) >= 2 else []


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=Path, default=SHARED / "realcases")
    parser.add_argument("--ablate", default="1,2,3")
    args = parser.parse_args()
    from index import IndexStore, add_documents, manifest_for, read_jsonl

    embedder = load_embedder(DEFAULT_MODEL)
    passages = int8_embedder(embedder, lambda message: None)
    seeds = [int(s) for s in args.ablate.split(",") if s]
    variants = case_variants([args.cases], seeds)
    names = ("as written", "credits left out (tracer)", "credits and dates left out", "+ best of its clauses")
    right = {n: {"full": 0, "ablated": 0} for n in names}
    total = {"full": 0, "ablated": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for n, case in enumerate(variants):
            part = "ablated" if case.removed else "full"
            docs = [d for d in read_jsonl(case.sources) if d.meta.url not in case.removed]
            with IndexStore.create(Path(tmp) / str(n), manifest_for(passages)) as store:
                with store.write_lock():
                    add_documents(store, docs, passages, batch_docs=256)
                for article in case.articles:
                    sentences = [s.text for s in article_sentences(article.text, article.name)]
                    stripped = query_texts(sentences)
                    texts = {names[0]: sentences, names[1]: stripped, names[2]: [DATE.sub("", t) for t in stripped]}
                    best = {}
                    for name, queries in texts.items():
                        found = find_candidates(store, embedder.embed(queries, role="query"), k=24, margin_k=4)
                        best[name] = [c[0].unit if c else None for c in found]
                    split = [clauses(t) for t in texts[names[2]]]
                    flat = [c for cs in split for c in cs]
                    by_clause = (
                        find_candidates(store, embedder.embed(flat, role="query"), k=24, margin_k=4) if flat else []
                    )
                    whole = find_candidates(store, embedder.embed(texts[names[2]], role="query"), k=24, margin_k=4)
                    pos, merged = 0, []
                    for i, cs in enumerate(split):
                        options = [(c.cosine, c.unit) for c in whole[i][:1]]
                        options += [(c.cosine - CLAUSE_PENALTY, c.unit) for found in by_clause[pos : pos + len(cs)]
                                    for c in found[:1]]  # fmt: skip
                        pos += len(cs)
                        merged.append(max(options, key=lambda o: o[0])[1] if options else None)
                    best[names[3]] = merged
                    for i, queries in enumerate(_labels(sentences, article.queries)):
                        for q in queries:
                            if not q.accept:
                                continue
                            total[part] += 1
                            for name in names:
                                unit = best[name][i]
                                right[name][part] += unit is not None and any(a.covers(unit) for a in q.accept)
    print(
        f"best candidate right by cosine, real cases ({total['full']} lines) and ablated variants ({total['ablated']})"
    )
    for name in names:
        print(f"{name:<30} {right[name]['full'] / total['full']:.3f}  {right[name]['ablated'] / total['ablated']:.3f}")


if __name__ == "__main__":
    main()
