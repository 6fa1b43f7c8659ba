"""Speaker agreement against the candidate's neighbour sentences (issue 28's last unbuilt lever),
scored leave one case out over the real cases beside NTREX's test half, on the same candidates
as ``rerank_levers.py``.

A sentence that names who speaks ("kata Peskov", "Peskov mengatakan") is checked against each
candidate's context: the candidate sentence alone, the sentences either side of it (a quote's
speaker is often named in the sentence before), or its whole page with the title. Measured:

- ``counts``: among each sourced line's best 4, right and wrong candidates whose context names
  the speaker, per context;
- ``promote``: after the shipped judge, a best candidate whose context leaves the speaker out
  gives way to the next within ``delta`` of its cosine whose context names them;
- ``promote + veto``: as ``promote``, and a traced best whose context still leaves the speaker
  out (no candidate within reach names them) is shown as possible instead.

The context and ``delta`` are chosen on the other cases (right traced minus wrongly traced),
never on the case scored.

    python benchmarks/speaker_neighbours.py [--ntrex PATH] [--cases DIR] [--runs 3]
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace

from _wide import trace_wide, wide_args
from agreement_counts import speakers
from rerank_levers import MODEL, RERANK_TOP, AfterJudge, Choose, _promote, decided, left_out, narrowed

import index
from index._ingest import units_for
from tracer._types import SourceUnit
from tracer.evaluation._evaluate import Outcome, calibrate
from tracer.judgments._agreement import name_agreement
from tracer.tracing._judge import DecisionRule, Scored

CONTEXTS = ("sentence", "neighbours", "page")
GRID = list(itertools.product(CONTEXTS, (0.02, 0.05, 0.1), (False, True)))


class Pages:
    """Each indexed page's text, title and sentence spans, recorded as the benchmark indexes."""

    def __init__(self) -> None:
        self.text: dict[str, str] = {}
        self.spans: dict[str, dict[int, tuple[int, int]]] = {}

    def record(self, docs: Iterable[index.Document]) -> list[index.Document]:
        docs = list(docs)
        for d in docs:
            if d.meta.url not in self.text:
                self.text[d.meta.url] = f"{d.meta.title}\n{d.text}"
                self.spans[d.meta.url] = {f: (s, e) for f, la, s, e, _ in units_for(d, 1) if f == la}
        return docs

    def context(self, unit: SourceUnit, kind: str) -> str:
        if kind == "sentence":
            return unit.text
        url = unit.doc.url
        if kind == "page" or url not in self.spans:
            return self.text.get(url, unit.text)
        spans, body = self.spans[url], self.text[url].split("\n", 1)[1]
        start = spans.get(unit.first - 1, spans.get(unit.first, (unit.start, unit.end)))[0]
        end = spans.get(unit.last + 1, spans.get(unit.last, (unit.start, unit.end)))[1]
        return body[start:end]


def names_speaker(pages: Pages, kind: str) -> Callable[[Outcome, Scored], bool | None]:
    """None when the sentence names no speaker; else whether the candidate's context names them."""

    def check(o: Outcome, s: Scored) -> bool | None:
        named = speakers(o.query.text)
        if not named:
            return None
        c = s.candidate
        return name_agreement(named, pages.context(c.unit, kind), c.unit.doc.lang) > 0

    return check


def speaker_fix(pages: Pages, rule: DecisionRule, kind: str, delta: float, veto: bool) -> AfterJudge:
    check = names_speaker(pages, kind)

    def fix(o: Outcome, scored: list[Scored]) -> list[Scored]:
        if not scored or check(o, scored[0]) in (None, True):
            return scored
        best = scored[0].candidate.cosine
        pick = next((s for s in scored[1:4] if best - s.candidate.cosine <= delta and check(o, s)), None)
        if pick is not None:
            return _promote(scored, pick)
        if veto and rule.traced(scored[0]):
            below = min(scored[0].confidence, rule.threshold - 1e-6)
            return [replace(scored[0], confidence=below), *scored[1:]]
        return scored

    return fix


def net(parts: list[tuple[Outcome, list[Scored]]], rule: DecisionRule) -> int:
    """Right traced minus wrongly traced (a wrong source, or a source for an unsourced line)."""
    out = 0
    for o, s in parts:
        if o.labelled and s and rule.traced(s[0]):
            out += 1 if o.gold is not None and o.covers_gold(s[0].candidate) else -1
    return out


def counts(real: list[Outcome], pages: Pages, rule: DecisionRule) -> None:
    full = [o for o in real if o.query.doc_id == o.query.split]
    for kind in CONTEXTS:
        check, tally, lines = names_speaker(pages, kind), Counter(), 0
        for o, scored in decided(full, rule, None):
            if not (o.labelled and o.gold is not None) or check(o, scored[0]) is None:
                continue
            lines += 1
            for s in scored[:4]:
                tally[
                    ("right" if o.covers_gold(s.candidate) else "wrong", "names" if check(o, s) else "leaves out")
                ] += 1
        print(f"counts, {kind}: {lines} sourced full-case lines name who speaks; best 4: {dict(sorted(tally.items()))}")


def main() -> None:
    args = wide_args()
    pages = Pages()
    add = index.add_documents
    index.add_documents = lambda store, docs, *a, **k: add(store, pages.record(docs), *a, **k)  # type: ignore[assignment]
    try:
        _, ntrex_wide, real_wide = trace_wide(args.ntrex, args.cases, args.runs, RERANK_TOP, 1.0)
    finally:
        index.add_documents = add  # type: ignore[assignment]
    real, ntrex = narrowed(real_wide, 4, 0.05), narrowed(ntrex_wide, 4, 0.05)  # as `trace` computes recall
    calib = [o for o in ntrex if o.query.split == "calib"]
    rule, _ = calibrate(calib + real, model=MODEL, margin_k=4)
    counts(real, pages, rule)
    test_speakers = sum(bool(speakers(o.query.text)) for o in ntrex if o.query.split == "test")
    print(f"NTREX test half: {test_speakers} traced sentences name who speaks")

    def chooser(grid: list[tuple[str, float, bool]]) -> Choose:
        def choose(train: list[Outcome], rule: DecisionRule) -> tuple[AfterJudge, object]:
            train_real = [o for o in train if o.query.split != "calib"]
            pick = max(grid, key=lambda g: net(decided(train_real, rule, speaker_fix(pages, rule, *g)), rule))
            return speaker_fix(pages, rule, *pick), pick

        return choose

    print(f"{'':<30} {'full':<27} {'ablated':<15} {'NTREX runs':<13} mixed")
    print(left_out(real, ntrex).row("shipped"), flush=True)
    for label, grid in (("promote", [g for g in GRID if not g[2]]), ("promote + veto", GRID)):
        lever = left_out(real, ntrex, chooser(grid))
        print(lever.row(label), flush=True)
        print(f"  (context, delta, veto) chosen per left-out case, then for NTREX: {lever.chosen}")


if __name__ == "__main__":
    main()
