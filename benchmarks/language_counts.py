"""Where wrong sources come from, by the language of the traced candidate: per language, the
sentences traced right and traced wrongly (a wrong page, or a page for a sentence without a
source), on NTREX's test half (both layouts) and the real cases left out, with the rule each is
scored with in ``rerank_levers.py``; and what a per-language raise of the threshold, chosen on
the other cases and NTREX's calibration half, does to them.

    python benchmarks/language_counts.py [--ntrex PATH] [--cases DIR] [--runs 3]
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace

from _wide import trace_wide, wide_args
from rerank_levers import MODEL, RERANK_TOP, AfterJudge, decided, left_out, narrowed

from tracer.evaluation._evaluate import Outcome, calibrate
from tracer.tracing._judge import DecisionRule, Scored

LANGS = ("en", "ru", "uk")
GRID = (0.0, 0.03, 0.06, 0.1)


def by_language(parts: list[tuple[Outcome, list[Scored]]], rule: DecisionRule) -> Counter[tuple[str, str]]:
    out: Counter[tuple[str, str]] = Counter()
    for o, s in parts:
        if o.labelled and s and rule.traced(s[0]):
            right = o.gold is not None and o.covers_gold(s[0].candidate)
            out[(s[0].candidate.unit.doc.lang, "right" if right else "wrong")] += 1
    return out


def raised(rule: DecisionRule, offsets: dict[str, float]) -> AfterJudge:
    """A traced best in language L needs ``offsets[L]`` more confidence (else it is possible)."""

    def fix(o: Outcome, scored: list[Scored]) -> list[Scored]:
        if not scored or not rule.traced(scored[0]):
            return scored
        best = scored[0]
        if best.confidence < rule.threshold + offsets.get(best.candidate.unit.doc.lang, 0.0):
            return [replace(best, confidence=rule.threshold - 1e-6), *scored[1:]]
        return scored

    return fix


def applied(base: list[tuple[Outcome, list[Scored]]], fix: AfterJudge) -> list[tuple[Outcome, list[Scored]]]:
    return [(o, fix(o, s)) for o, s in base]


def net(parts: list[tuple[Outcome, list[Scored]]], rule: DecisionRule) -> int:
    counts = by_language(parts, rule)
    return sum(v if k[1] == "right" else -2 * v for k, v in counts.items())


def main() -> None:
    args = wide_args()
    _, ntrex_wide, real_wide = trace_wide(args.ntrex, args.cases, args.runs, RERANK_TOP, 1.0)
    real, ntrex = narrowed(real_wide, 4, 0.05), narrowed(ntrex_wide, 4, 0.05)
    calib = [o for o in ntrex if o.query.split == "calib"]
    test = [o for o in ntrex if o.query.split == "test"]
    rule, _ = calibrate(calib + real, model=MODEL, margin_k=4)
    for layout in ("runs", "mixed"):
        counts = by_language(decided([o for o in test if o.query.layout == layout], rule, None), rule)
        print(f"NTREX test, {layout}, traced by candidate language: {dict(sorted(counts.items()))}")
    grids = [dict(zip(LANGS, g, strict=True)) for g in itertools.product(GRID, repeat=3)]

    def choose(train: list[Outcome], rule: DecisionRule) -> tuple[AfterJudge, object]:
        base = decided(train, rule, None)
        pick = max(grids, key=lambda g: net(applied(base, raised(rule, g)), rule))
        return raised(rule, pick), tuple(pick.values())

    print(f"{'':<30} {'full':<27} {'ablated':<15} {'NTREX runs':<13} mixed")
    for label, lever in (("shipped", left_out(real, ntrex)), ("per-language threshold", left_out(real, ntrex, choose))):
        print(lever.row(label), flush=True)
        counts = sum((by_language(done, fold) for fold, done in lever.held_out), Counter())
        print(f"  real cases left out, traced by candidate language: {dict(sorted(counts.items()))}")
        if lever.chosen:
            print(f"  offsets (en, ru, uk) chosen per left-out case, then for NTREX: {lever.chosen}")


if __name__ == "__main__":
    main()
