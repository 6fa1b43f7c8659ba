"""The cross-encoder verifier (issue 28's lever; ``_verifier.py``), scored leave one case out over
the real cases beside NTREX's test half, on the same candidates as ``rerank_levers.py``.

The verifier is fine-tuned once from the shipped encoder on NTREX's calibration half and Tatoeba
ind-eng with hard negatives; no real case and no NTREX test document is in its training data.
Each sentence's best ``--top`` candidates (after the shipped judge) are read with the sentence,
and two uses are measured:

- ``verifier reorder``: the best gives way to the candidate within ``delta`` of its cosine with
  the highest cosine + ``a`` x the verifier's score (its confidence kept);
- ``reorder + verifier judge``: then a traced best whose verifier score is below ``low`` becomes
  possible, and a possible one at or above ``high`` is traced.

``a``, ``delta``, ``low`` and ``high`` are chosen on the other real cases (a wrong source counted
three times a right one), never on the case scored; NTREX's test half is scored with them chosen
on all nine cases (not on NTREX's calibration half, which the verifier trained on).

    python benchmarks/verifier.py [--ntrex PATH] [--cases DIR] [--runs 3] [--top 6] [--epochs 1]
                                  [--save DIR | --load DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from _verifier import Verifier, train, training_groups
from _wide import SHARED, trace_wide
from rerank_levers import MODEL, AfterJudge, _promote, decided, figures, pooled, row

from tracer.evaluation._evaluate import Outcome, calibrate, read_parallel_tsv, read_tatoeba
from tracer.tracing._judge import DecisionRule, Scored

REORDER_GRID = list(itertools.product((0.0, 0.005, 0.01, 0.02, 0.04), (0.02, 0.05, 0.1)))
LOW = (-99.0, -6.0, -4.0, -2.0, -1.0, 0.0)
HIGH = (99.0, 4.0, 2.0, 1.0, 0.0)

Scores = dict[tuple[str, str], float]


def ind_eng(root: Path) -> list[tuple[str, str]]:
    """Tatoeba's ind-eng pairs (Indonesian sentences are what the verifier reads first)."""
    ind, eng = read_tatoeba(root)["ind-eng"]
    return [(a.strip(), b.strip()) for a, b in zip(ind, eng, strict=True) if a.strip() and b.strip()]


def verifier_reorder(scores: Scores, top: int, a: float, delta: float) -> AfterJudge:
    def reorder(o: Outcome, scored: list[Scored]) -> list[Scored]:
        if len(scored) < 2 or a == 0.0:
            return scored
        best = scored[0].candidate.cosine
        pool = [s for s in scored[:top] if best - s.candidate.cosine <= delta
                and (o.query.text, s.candidate.unit.text) in scores]  # fmt: skip
        if not pool:
            return scored
        pick = max(pool, key=lambda s: s.candidate.cosine + a * scores[(o.query.text, s.candidate.unit.text)])
        return _promote(scored, pick)

    return reorder


def judged(scores: Scores, rule: DecisionRule, low: float, high: float, then: AfterJudge) -> AfterJudge:
    """Veto a traced best the verifier doubts; trace a possible one it is sure of."""
    below = (rule.threshold + (rule.possible if rule.possible is not None else rule.threshold - 0.1)) / 2

    def reorder(o: Outcome, scored: list[Scored]) -> list[Scored]:
        scored = then(o, scored)
        if not scored:
            return scored
        z = scores.get((o.query.text, scored[0].candidate.unit.text))
        if z is None:
            return scored
        first = scored[0]
        if rule.traced(first) and z < low:
            first = replace(first, confidence=min(first.confidence, below))
        elif not rule.traced(first) and rule.possible is not None and first.confidence >= rule.possible and z >= high:
            first = replace(first, confidence=rule.threshold)
        return [first, *scored[1:]]

    return reorder


def gain(parts: list[tuple[Outcome, list[Scored]]], rule: DecisionRule) -> float:
    """Lines traced right, less three for each line traced wrong (sourced or not)."""
    right = wrong = 0
    for o, s in parts:
        if o.labelled and s and rule.traced(s[0]):
            if o.gold is not None and o.covers_gold(s[0].candidate):
                right += 1
            else:
                wrong += 1
    return right - 3 * wrong


def score_pairs(verifier: Verifier, outcomes: Sequence[Outcome], top: int, cache: Path | None) -> Scores:
    """The verifier's score for each sentence and its best ``top + 4`` candidates (kept in
    ``cache``, a JSON list of [sentence, candidate, score], when given)."""
    known: Scores = {}
    if cache is not None and cache.exists():
        known = {(a, b): v for a, b, v in json.loads(cache.read_text(encoding="utf-8"))}
    pairs = sorted({(o.query.text, c.unit.text) for o in outcomes for c in o.candidates[: top + 4]} - known.keys())
    started = time.monotonic()
    known.update(zip(pairs, verifier.score(pairs), strict=True))
    print(f"verifier: {len(pairs)} pairs scored in {time.monotonic() - started:.0f} s", flush=True)
    if cache is not None:
        cache.write_text(json.dumps([[a, b, v] for (a, b), v in known.items()], ensure_ascii=False), encoding="utf-8")
    return known


def coverage(real: Sequence[Outcome], scores: Scores, top: int) -> None:
    """Which signal alone puts a right candidate first, among each sourced line's best ``top`` by
    cosine where one is right (no decision rule: what a reorder could reach)."""
    for label, full in (("full", True), ("ablated", False)):
        n, counts = 0, {"cosine": 0, "verifier": 0, "cosine + 0.01 verifier": 0}
        for o in real:
            if not (o.labelled and o.gold is not None) or (o.query.doc_id == o.query.split) != full:
                continue
            cands = [c for c in o.candidates[:top] if (o.query.text, c.unit.text) in scores]
            if not any(o.covers_gold(c) for c in cands):
                continue
            n += 1
            z = [scores[(o.query.text, c.unit.text)] for c in cands]
            for name, values in (("cosine", [c.cosine for c in cands]), ("verifier", z),
                                 ("cosine + 0.01 verifier", [c.cosine + 0.01 * x for c, x in zip(cands, z, strict=True)])):  # fmt: skip
                counts[name] += o.covers_gold(cands[max(range(len(cands)), key=values.__getitem__)])
        print(f"coverage, {label}: {n} sourced lines with a right candidate in the best {top}; right first by "
              + ", ".join(f"{k} {v}" for k, v in counts.items()), flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ntrex", type=Path, default=SHARED / "ntrex" / "ntrex-dev.tsv")
    parser.add_argument("--cases", type=Path, default=SHARED / "realcases")
    parser.add_argument("--tatoeba", type=Path, default=SHARED / "tatoeba")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--save", type=Path)
    parser.add_argument("--load", type=Path)
    args = parser.parse_args()

    base, ntrex, real = trace_wide(args.ntrex, args.cases, args.runs, 4, 0.05)  # recall as `trace` computes it
    verifier = Verifier(base)
    if args.load:
        from safetensors.torch import load_file

        verifier.load_state_dict(load_file(args.load / "verifier.safetensors"))
    else:
        started = time.monotonic()
        groups = training_groups(read_parallel_tsv(args.ntrex), ind_eng(args.tatoeba), base)
        print(f"verifier: {len(groups)} training groups ({sum(len(g.texts) for g in groups)} pairs)", flush=True)
        train(verifier, groups, epochs=args.epochs)
        print(f"verifier: trained in {time.monotonic() - started:.0f} s", flush=True)
        if args.save:
            from safetensors.torch import save_file

            args.save.mkdir(parents=True, exist_ok=True)
            save_file({k: v.contiguous() for k, v in verifier.state_dict().items()}, args.save / "verifier.safetensors")
    test = [o for o in ntrex if o.query.split == "test"]
    kept = args.save or args.load  # the verifier's directory keeps its scores too
    scores = score_pairs(verifier, [*real, *test], args.top, kept / "scores.json" if kept else None)
    coverage(real, scores, args.top)

    names = sorted({o.query.split for o in real})
    calib = [o for o in ntrex if o.query.split == "calib"]
    print(f"{'':<30} {'full':<27} {'ablated':<15} {'NTREX runs':<13} mixed")

    def choose(train_real: list[Outcome], rule: DecisionRule, judge: bool) -> tuple[AfterJudge, tuple]:
        a, delta = max(
            REORDER_GRID,
            key=lambda p: (
                figures(decided(train_real, rule, verifier_reorder(scores, args.top, *p)), rule)["top1_any"],
                -p[0],
            ),
        )
        fix = verifier_reorder(scores, args.top, a, delta)
        if not judge:
            return fix, (a, delta)
        low, high = max(itertools.product(LOW, HIGH),
                        key=lambda p: gain(decided(train_real, rule, judged(scores, rule, *p, fix)), rule))  # fmt: skip
        return judged(scores, rule, low, high, fix), (a, delta, low, high)

    for label, mode in (("shipped", None), ("verifier reorder", False), ("reorder + verifier judge", True)):
        full_parts, ablated_parts, chosen = [], [], []
        for held in names:
            fold = calib + [o for o in real if o.query.split != held]
            rule, _ = calibrate(fold, model=MODEL, margin_k=4)
            fix = None
            if mode is not None:
                fix, params = choose([o for o in real if o.query.split != held], rule, mode)
                chosen.append(params)
            held_out = decided([o for o in real if o.query.split == held], rule, fix)
            full_parts.append(figures([(o, s) for o, s in held_out if o.query.doc_id == held], rule))
            ablated_parts.append(figures([(o, s) for o, s in held_out if o.query.doc_id != held], rule))
        rule, _ = calibrate(calib + real, model=MODEL, margin_k=4)
        fix = None
        if mode is not None:
            fix, params = choose(real, rule, mode)
            chosen.append(params)
        done = decided(test, rule, fix)
        lay = {
            layout: figures([(o, s) for o, s in done if o.query.layout == layout], rule) for layout in ("runs", "mixed")
        }
        print(row(label, pooled(full_parts), pooled(ablated_parts), lay["runs"], lay["mixed"]), flush=True)
        if chosen:
            print(f"  chosen per left-out case, then for NTREX: {chosen}", flush=True)


if __name__ == "__main__":
    main()
