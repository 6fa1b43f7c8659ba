"""The cross-encoder verifier fine-tuned on the real cases themselves, leave one case out: for
each case, a verifier trained from the shipped encoder on the other cases' sentences against
their own candidates (the accepted originals against the same-story pages tracer ranked beside
them: the hard negatives real articles bring), then scoring the held-out case's candidates.

The reorder's weights are fixed beforehand (the verifier is in-sample on every other case, so
they cannot be chosen there): the best gives way to the candidate within ``delta`` of its
cosine with the highest cosine + ``a`` x the verifier's score; every (a, delta) measured is
printed. NTREX is traced once (``--runs 1``) only to fit each fold's decision rule.

    python benchmarks/verifier_folds.py [--cases DIR] [--top 6] [--epochs 3]
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Sequence
from pathlib import Path

from _verifier import Group, Verifier, train
from _wide import SHARED, trace_wide
from rerank_levers import MODEL, decided, figures, pooled
from verifier import coverage, verifier_reorder

from tracer.evaluation._evaluate import Outcome, calibrate

GRID = list(itertools.product((0.005, 0.01, 0.02, 0.05), (0.02, 0.05, 0.1)))


def case_groups(outcomes: Sequence[Outcome], top: int) -> list[Group]:
    """Each sourced line with a right candidate among its best ``top``: the best-ranked right one
    against every wrong one there (lines repeated across ablated variants counted once)."""
    seen, groups = set(), []
    for o in outcomes:
        if not (o.labelled and o.gold is not None):
            continue
        cands = o.candidates[:top]
        right = [c for c in cands if o.covers_gold(c)]
        wrong = [c.unit.text for c in cands if not o.covers_gold(c)]
        if not right or not wrong:
            continue
        texts = (right[0].unit.text, *dict.fromkeys(t for t in wrong if t != right[0].unit.text))
        if (o.query.text, texts) not in seen:
            seen.add((o.query.text, texts))
            groups.append(Group(o.query.text, texts))
    return groups


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ntrex", type=Path, default=SHARED / "ntrex" / "ntrex-dev.tsv")
    parser.add_argument("--cases", type=Path, default=SHARED / "realcases")
    parser.add_argument("--top", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    base, ntrex, real = trace_wide(args.ntrex, args.cases, 1, 4, 0.05)
    verifier = Verifier(base)
    initial = {k: v.clone() for k, v in verifier.state_dict().items()}
    names = sorted({o.query.split for o in real})
    calib = [o for o in ntrex if o.query.split == "calib"]
    scores: dict[tuple[str, str], float] = {}
    for held in names:
        verifier.load_state_dict(initial)
        for p in verifier.parameters():
            p.requires_grad_(True)
        groups = case_groups([o for o in real if o.query.split != held], args.top)
        started = time.monotonic()
        train(verifier, groups, epochs=args.epochs, groups_per_step=4, log=lambda m: None)
        held_out = [o for o in real if o.query.split == held]
        pairs = sorted({(o.query.text, c.unit.text) for o in held_out for c in o.candidates[: args.top + 4]})
        scores.update(zip(pairs, verifier.score(pairs), strict=True))
        print(f"{held}: trained on {len(groups)} groups in {time.monotonic() - started:.0f} s, {len(pairs)} pairs scored",
              flush=True)  # fmt: skip
    coverage(real, scores, args.top)

    print(f"{'':<30} full: traced right, best right, top 3, unsourced traced; ablated: traced right, unsourced")
    for label, params in [("shipped", None), *((f"a={a} delta={d}", (a, d)) for a, d in GRID)]:
        full_parts, ablated_parts = [], []
        for held in names:
            rule, _ = calibrate(calib + [o for o in real if o.query.split != held], model=MODEL, margin_k=4)
            fix = verifier_reorder(scores, args.top, *params) if params else None
            done = decided([o for o in real if o.query.split == held], rule, fix)
            full_parts.append(figures([(o, s) for o, s in done if o.query.doc_id == held], rule))
            ablated_parts.append(figures([(o, s) for o, s in done if o.query.doc_id != held], rule))
        f, a = pooled(full_parts), pooled(ablated_parts)
        print(f"{label:<30} {f['top1']:.3f} {f['top1_any']:.3f} {f['top3']:.3f} "
              f"{round(f['wrong_source'] * f['n_unsourced']):>2}/{f['n_unsourced']:<3} {a['top1']:.3f} {a['wrong_source']:.3f}",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
