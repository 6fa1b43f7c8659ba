"""The FreeDict lexical channel (issue 28's hybrid ranking lever), scored leave one case out over
the real cases beside NTREX's test half, on the same candidates as ``rerank_levers.py``.

Each Indonesian sentence's content words are glossed to English through FreeDict's
English-Indonesian dictionary (``_gloss.py``); a candidate's gloss score is the idf-weighted
share of those words whose gloss it states. Two uses are measured:

- ``coverage``: how many of the sourced lines' right English originals would win on gloss
  alone, on cosine alone, and on cosine + 0.1 x gloss, among each sentence's English candidates
  in the best 8 (no decision rule: an upper bound on what the channel can reorder);
- ``gloss reorder``: after the shipped judge, the best candidate gives way to the English
  candidate within ``delta`` of its cosine with the highest cosine + ``a`` x gloss; ``a`` and
  ``delta`` are chosen on the other cases (grid below), never on the case scored.

    python benchmarks/gloss_channel.py [--ntrex PATH] [--cases DIR] [--runs 3]

Needs Debian's ``dict-freedict-eng-ind`` (/usr/share/dictd/freedict-eng-ind.*).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from _gloss import Gloss, load_glossary
from _wide import trace_wide, wide_args
from rerank_levers import RERANK_TOP, AfterJudge, _promote, decided, left_out, narrowed

from tracer.evaluation._evaluate import Outcome
from tracer.tracing._judge import DecisionRule, Scored

GRID = list(itertools.product((0.05, 0.1, 0.2, 0.3), (0.03, 0.05, 0.1)))


def gloss_reorder(gloss: Gloss, a: float, delta: float) -> AfterJudge:
    def reorder(o: Outcome, scored: list[Scored]) -> list[Scored]:
        if not scored or scored[0].candidate.unit.doc.lang != "en":
            return scored
        best = scored[0].candidate.cosine
        pool = [
            s for s in scored[:RERANK_TOP] if s.candidate.unit.doc.lang == "en" and best - s.candidate.cosine <= delta
        ]
        pick = max(pool, key=lambda s: s.candidate.cosine + a * gloss.score(o.query.text, s.candidate.unit.text))
        return _promote(scored, pick)

    return reorder


def hits(parts: list[tuple[Outcome, list[Scored]]], rule: DecisionRule) -> int:
    return sum(bool(s) and rule.traced(s[0]) and o.covers_gold(s[0].candidate) for o, s in parts
               if o.labelled and o.gold is not None)  # fmt: skip


def coverage(real: Sequence[Outcome], gloss: Gloss) -> None:
    """Among English candidates of the best 8: which signal puts a right one first."""
    full = [o for o in real if o.query.doc_id == o.query.split]
    for label, subset in (("full", full), ("ablated", [o for o in real if o.query.doc_id != o.query.split])):
        counts = {"cosine": 0, "gloss": 0, "cosine+0.1 gloss": 0}
        n = 0
        for o in subset:
            if not (o.labelled and o.gold is not None):
                continue
            en = [c for c in o.candidates[:RERANK_TOP] if c.unit.doc.lang == "en"]
            if not any(o.covers_gold(c) for c in en):
                continue
            n += 1
            g = [gloss.score(o.query.text, c.unit.text) for c in en]
            for name, values in (("cosine", [c.cosine for c in en]), ("gloss", g),
                                 ("cosine+0.1 gloss", [c.cosine + 0.1 * x for c, x in zip(en, g, strict=True)])):  # fmt: skip
                counts[name] += o.covers_gold(en[max(range(len(en)), key=values.__getitem__)])
        print(f"coverage, {label}: {n} sourced lines with a right English candidate in the best 8; right first by "
              + ", ".join(f"{k} {v}" for k, v in counts.items()))  # fmt: skip


def main() -> None:
    args = wide_args()
    glossary = load_glossary()
    _, ntrex_wide, real_wide = trace_wide(args.ntrex, args.cases, args.runs, RERANK_TOP, 1.0)
    real, ntrex = narrowed(real_wide, 4, 0.05), narrowed(ntrex_wide, 4, 0.05)  # as `trace` computes recall
    gloss = Gloss(glossary, (o.query.text for o in [*real, *ntrex]))
    print(f"FreeDict: {len(glossary)} Indonesian forms glossed")
    coverage(real_wide, gloss)

    def choose(train: list[Outcome], rule: DecisionRule) -> tuple[AfterJudge, object]:
        train_real = [o for o in train if o.query.split != "calib"]
        a, delta = max(GRID, key=lambda p: hits(decided(train_real, rule, gloss_reorder(gloss, *p)), rule))
        return gloss_reorder(gloss, a, delta), (a, delta)

    print(f"{'':<30} {'full':<27} {'ablated':<15} {'NTREX runs':<13} mixed")
    print(left_out(real, ntrex).row("shipped"), flush=True)
    lever = left_out(real, ntrex, choose)
    print(lever.row("gloss reorder"), flush=True)
    print(f"  (a, delta) chosen per left-out case, then for NTREX: {lever.chosen}")


if __name__ == "__main__":
    main()
