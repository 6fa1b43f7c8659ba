"""Do verdicts change when SQLite keeps each unit's vector in float16 instead of float32?

The real cases (full articles and ablated variants, seeds 1-3) and the NTREX protocol (both
layouts) are indexed twice, once per stored type, with the same encodings (each text encoded
once), and traced through the shipped rule. Printed: sentences whose verdict (traced, possible,
no source), best source sentence, or confidence (beyond 1e-3) differs, the largest cosine
difference, each set's figures, and the bytes per unit of the ``units`` table.

    python benchmarks/vector_storage.py [--ntrex PATH] [--cases DIR] [--runs 3]
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path

from _wide import wide_args

import index
from tracer import DEFAULT_MODEL, load_embedder
from tracer.evaluation._cases import case_variants, run_cases
from tracer.evaluation._evaluate import Outcome, Protocol, decide, read_parallel_tsv, run_protocols, score
from tracer.model._memo import remembering
from tracer.model._onnx import as_traced, int8_embedder, query_precision
from tracer.tracing._judge import rule_for


def traced(stored: str, run: object) -> tuple[list[Outcome], float]:
    """``run(workdir)``'s outcomes with indexes that keep ``stored`` vectors, and units-table
    bytes per unit over every index it built."""
    make = index.manifest_for
    index.manifest_for = lambda *a, **k: {**make(*a, **k), "stored_vectors": stored}  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            outcomes = run(Path(tmp))  # type: ignore[operator]
            size = units = 0
            for db in Path(tmp).rglob("index.sqlite"):
                with sqlite3.connect(db) as conn:
                    n, b = conn.execute("SELECT COUNT(*), SUM(length(vector)) FROM units").fetchone()
                units, size = units + n, size + (b or 0)
    finally:
        index.manifest_for = make  # type: ignore[assignment]
    return outcomes, size / max(1, units)


def compare(label: str, a: list[Outcome], b: list[Outcome]) -> None:
    rule = rule_for(DEFAULT_MODEL)
    da, db = decide(a, rule), decide(b, rule)
    verdict = best = conf = 0
    cos = 0.0
    for (oa, sa), (ob, sb) in zip(da, db, strict=True):
        assert oa.query.text == ob.query.text
        verdict += rule.status(sa) != rule.status(sb)
        if sa and sb:
            ua, ub = sa[0].candidate.unit, sb[0].candidate.unit
            best += (ua.doc.url, ua.first, ua.last) != (ub.doc.url, ub.first, ub.last)
            conf += abs(sa[0].confidence - sb[0].confidence) > 1e-3
            cos = max(cos, abs(sa[0].candidate.cosine - sb[0].candidate.cosine))
    fa, fb = score(a, rule), score(b, rule)
    keys = ("top1", "top1_any", "wrong_source")
    print(f"{label}: {len(da)} sentences; verdict differs {verdict}, best source differs {best}, confidence "
          f"differs by > 1e-3 {conf}, largest best-cosine difference {cos:.2e}; float32 "
          + " ".join(f"{k} {fa[k]:.3f}" for k in keys) + "; float16 " + " ".join(f"{k} {fb[k]:.3f}" for k in keys),
          flush=True)  # fmt: skip


def main() -> None:
    args = wide_args()
    base = load_embedder(DEFAULT_MODEL)
    passages = remembering(int8_embedder(base, lambda message: None))
    queries = remembering(as_traced(base, base, query_precision()))
    cases = case_variants([args.cases], (1, 2, 3))
    docs = read_parallel_tsv(args.ntrex)
    protocol = Protocol(layouts=("runs", "mixed"))
    for label, run in (
        ("real cases and ablated variants", lambda d: run_cases(cases, queries, passages, d, margin_k=4)),
        (
            f"NTREX protocol, {args.runs} runs, both layouts",
            lambda d: run_protocols(docs, queries, d, protocol, args.runs),
        ),
    ):
        start = time.perf_counter()
        wide, wide_b = traced("float32", run)
        half, half_b = traced("float16", run)
        print(f"{label}: units table {wide_b:.0f} B/unit (float32) -> {half_b:.0f} B/unit (float16); "
              f"{time.perf_counter() - start:.0f} s")  # fmt: skip
        compare(label, wide, half)


if __name__ == "__main__":
    main()
