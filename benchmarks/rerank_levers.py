"""Levers for ranking on real articles nobody tuned for, each scored leave one case out over the
real cases (fitted on the NTREX calibration half and the other cases), beside NTREX's test half.

One tracing run with word recall for the best 8 candidates (``_wide.trace_wide``); each lever
is then a transformation of those outcomes or a rule over them, so all are compared on the same
candidates:

- ``shipped``: recall for the best 4 within 0.05 of the best cosine, as `trace` computes it (the
  wider run's recall blanked where `trace` would not compute it: the same numbers);
- ``recall top6/0.10``, ``top8/0.10``, ``top8/all``: word recall for more candidates;
- ``operating point 0.15`` / ``0.10``: the traced threshold placed where that share of the real
  cases' unsourced lines is traced (shipped: 0.20);
- ``learned reranker``: a conditional logit over each sentence's best 8 (the shipped confidence,
  cosine gap, margin, recall and its gap, names and their gap, share of the sentence's figures
  stated, a figure or date disagreeing, the credited outlet, carriers, same-document support
  from the article's other sentences, rank, lead sentence), fitted on the other cases' sentences
  and putting its pick first with the best's confidence;
- ``disagreeing figures demoted``: a best candidate that states numbers, none of them the
  sentence's, gives way to the next within 0.05 that does not disagree.

    python benchmarks/rerank_levers.py [--ntrex PATH] [--cases DIR] [--runs 3]
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from _wide import trace_wide, wide_args

from tracer.evaluation._evaluate import OperatingPoint, Outcome, calibrate, decide
from tracer.judgments._agreement import _stated, query_quantities
from tracer.judgments._flags import dates
from tracer.tracing._align import compared
from tracer.tracing._judge import DecisionRule, Scored

MODEL = "multilingual-e5-small"
RERANK_TOP = 8


def narrowed(outcomes: Sequence[Outcome], top: int, within: float) -> list[Outcome]:
    """The outcomes with word recall only where `trace` would compute it for ``top``/``within``."""
    out = []
    for o in outcomes:
        keep = compared(o.candidates, top, within)
        out.append(replace(o, candidates=[c if k else replace(c, recall=None)
                                          for c, k in zip(o.candidates, keep, strict=True)]))  # fmt: skip
    return out


Reorder = Callable[[Outcome, list[Scored], dict[int, list[float]]], list[Scored]]
AfterJudge = Callable[[Outcome, list[Scored]], list[Scored]]
"""A reorder after the judge that needs only the outcome (the other levers' benchmarks)."""


def decided(
    outcomes: Sequence[Outcome], rule: DecisionRule, fix: AfterJudge | None
) -> list[tuple[Outcome, list[Scored]]]:
    """``decide`` with ``fix`` applied to each sentence's candidates (no reranker features needed)."""
    return [(o, fix(o, s) if fix else s) for o, s in decide(outcomes, rule)]


Choose = Callable[[list[Outcome], DecisionRule], tuple[AfterJudge, object]]
"""Picks a fix from the outcomes a rule was fitted on (NTREX's calibration half and the other
cases; a lever that should see only real cases filters on ``query.split``): the fix, and what
was chosen (printed)."""


@dataclass(frozen=True)
class LeftOut:
    """A lever scored leave one case out, and on NTREX's test half with everything fitted."""

    full: dict[str, float]
    ablated: dict[str, float]
    runs: dict[str, float]
    mixed: dict[str, float]
    held_out: list[tuple[DecisionRule, list[tuple[Outcome, list[Scored]]]]]
    """Per case, the rule fitted without it and its sentences (full and ablated) so decided."""
    chosen: list[object]
    """What ``choose`` picked for each left-out case, then for NTREX (last)."""

    def row(self, label: str) -> str:
        return row(label, self.full, self.ablated, self.runs, self.mixed)


def left_out(real: Sequence[Outcome], ntrex: Sequence[Outcome], choose: Choose | None = None) -> LeftOut:
    """Each real case decided by a rule (and ``choose``'s fix) fitted on NTREX's calibration
    half and the other cases; NTREX's test half by those fitted on all of them."""
    calib = [o for o in ntrex if o.query.split == "calib"]
    full_parts, ablated_parts, held_out, chosen = [], [], [], []
    for held in sorted({o.query.split for o in real}):
        train = calib + [o for o in real if o.query.split != held]
        rule, _ = calibrate(train, model=MODEL, margin_k=4)
        fix = None
        if choose is not None:
            fix, picked = choose(train, rule)
            chosen.append(picked)
        done = decided([o for o in real if o.query.split == held], rule, fix)
        held_out.append((rule, done))
        full_parts.append(figures([(o, s) for o, s in done if o.query.doc_id == held], rule))
        ablated_parts.append(figures([(o, s) for o, s in done if o.query.doc_id != held], rule))
    rule, _ = calibrate(calib + list(real), model=MODEL, margin_k=4)
    fix = None
    if choose is not None:
        fix, picked = choose(calib + list(real), rule)
        chosen.append(picked)
    test = decided([o for o in ntrex if o.query.split == "test"], rule, fix)
    lay = {layout: figures([(o, s) for o, s in test if o.query.layout == layout], rule) for layout in ("runs", "mixed")}
    return LeftOut(pooled(full_parts), pooled(ablated_parts), lay["runs"], lay["mixed"], held_out, chosen)


def _promote(scored: list[Scored], pick: Scored) -> list[Scored]:
    if pick is scored[0]:
        return scored
    return [replace(pick, confidence=max(pick.confidence, scored[0].confidence)), *(s for s in scored if s is not pick)]


def features(group: Sequence[tuple[Outcome, list[Scored]]]) -> list[dict[int, list[float]]]:
    """Per sentence of one article: candidate id -> the reranker's features, for its best 8 scored."""
    docs = [{s.candidate.unit.doc_id for s in scored[:3]} for _, scored in group]
    out = []
    for i, (o, scored) in enumerate(group):
        top = scored[:RERANK_TOP]
        rows: dict[int, list[float]] = {}
        if not top:
            out.append(rows)
            continue
        best = max(s.candidate.cosine for s in top)
        wanted, said = query_quantities(o.query.text), dates(o.query.text, "id")
        recalls = [s.candidate.recall or 0.0 for s in top]
        names = [s.candidate.names for s in top]
        for r, s in enumerate(top):
            c = s.candidate
            stated = _stated(c.unit.text, c.unit.doc.lang)
            theirs = dates(c.unit.text, c.unit.doc.lang)
            p = min(max(s.confidence, 1e-6), 1 - 1e-6)
            rows[id(c)] = [
                math.log(p / (1 - p)), float(r == 0), best - c.cosine, c.margin, recalls[r], max(recalls) - recalls[r],
                c.names, max(names) - c.names, len(wanted & stated) / len(wanted) if wanted else 0.0,
                float(bool(wanted) and bool(stated) and not wanted & stated),
                float(bool(said.day_months) and bool(theirs.day_months) and not set(said.day_months) & set(theirs.day_months)),
                float(c.credited), min(c.carriers, 3) / 3,
                sum(c.unit.doc_id in d for j, d in enumerate(docs) if j != i) / max(1, len(group) - 1),
                math.log1p(r), float(c.unit.first == 0),
            ]  # fmt: skip
        out.append(rows)
    return out


def _by_article(decided: list[tuple[Outcome, list[Scored]]]) -> list[list[tuple[Outcome, list[Scored]]]]:
    groups: dict[int, list[tuple[Outcome, list[Scored]]]] = defaultdict(list)
    for o, s in decided:
        groups[o.query.article].append((o, s))
    return list(groups.values())


def with_features(outcomes: Sequence[Outcome], rule: DecisionRule) -> list[tuple[Outcome, list[Scored], dict]]:
    return [(o, s, f) for group in _by_article(decide(outcomes, rule))
            for (o, s), f in zip(group, features(group), strict=True)]  # fmt: skip


def fit_conditional_logit(rows: list[tuple[np.ndarray, np.ndarray]], l2: float = 1.0) -> tuple[np.ndarray, ...]:
    """Softmax over each sentence's candidates, features standardized: Newton's method with
    step halving (the loss never goes up)."""
    stacked = np.vstack([x for x, _ in rows])
    mu, sd = stacked.mean(0), stacked.std(0) + 1e-6
    xs = [(x - mu) / sd for x, _ in rows]
    targets = [y / y.sum() for _, y in rows]

    def loss(w: np.ndarray) -> float:
        total = 0.5 * l2 * float(w @ w)
        for x, t in zip(xs, targets, strict=True):
            z = x @ w
            total += float(np.log(np.exp(z - z.max()).sum()) + z.max() - t @ z)
        return total

    w = np.zeros(stacked.shape[1])
    current = loss(w)
    for _ in range(100):
        grad, hess = l2 * w, l2 * np.eye(len(w))
        for x, t in zip(xs, targets, strict=True):
            z = x @ w
            p = np.exp(z - z.max())
            p /= p.sum()
            grad = grad + x.T @ (p - t)
            mean = p @ x
            hess = hess + (x * p[:, None]).T @ x - np.outer(mean, mean)
        step = np.linalg.solve(hess, grad)
        size = 1.0
        while size > 1e-4 and loss(w - size * step) > current:
            size /= 2
        w, previous, current = w - size * step, current, loss(w - size * step)
        if previous - current < 1e-9:
            break
    return w, mu, sd


def training_rows(featured: list[tuple[Outcome, list[Scored], dict]]) -> list[tuple[np.ndarray, np.ndarray]]:
    rows = []
    for o, scored, feats in featured:
        top = [s for s in scored[:RERANK_TOP] if id(s.candidate) in feats]
        y = np.array([float(o.covers_gold(s.candidate)) for s in top])
        if o.labelled and o.gold is not None and 0 < y.sum() < len(y):
            rows.append((np.array([feats[id(s.candidate)] for s in top]), y))
    return rows


def reranked(model: tuple[np.ndarray, ...]) -> Reorder:
    w, mu, sd = model

    def reorder(o: Outcome, scored: list[Scored], feats: dict[int, list[float]]) -> list[Scored]:
        top = [s for s in scored[:RERANK_TOP] if id(s.candidate) in feats]
        if len(top) < 2:
            return scored
        z = ((np.array([feats[id(s.candidate)] for s in top]) - mu) / sd) @ w
        return _promote(scored, top[int(np.argmax(z))])

    return reorder


def figures_demoted(o: Outcome, scored: list[Scored], feats: dict[int, list[float]]) -> list[Scored]:
    wanted = query_quantities(o.query.text)

    def disagrees(s: Scored) -> bool:
        stated = _stated(s.candidate.unit.text, s.candidate.unit.doc.lang)
        return bool(wanted) and bool(stated) and not wanted & stated

    if not scored or not disagrees(scored[0]):
        return scored
    best = max(s.candidate.cosine for s in scored)
    pick = next((s for s in scored[:4] if best - s.candidate.cosine <= 0.05 and s.candidate.cosine >= 0.5
                 and not disagrees(s)), None)  # fmt: skip
    return scored if pick is None else _promote(scored, pick)


def figures(decided: list[tuple[Outcome, list[Scored]]], rule: DecisionRule) -> dict[str, float]:
    """``score``'s figures for already-decided (and perhaps reordered) outcomes."""
    labelled = [(o, s) for o, s in decided if o.labelled]
    sourced = [(o, s) for o, s in labelled if o.gold is not None]
    unsourced = [(o, s) for o, s in labelled if o.gold is None]
    right = sum(bool(s) and rule.traced(s[0]) and o.covers_gold(s[0].candidate) for o, s in sourced)
    best = sum(bool(s) and o.covers_gold(s[0].candidate) for o, s in sourced)
    three = sum(any(o.covers_gold(x.candidate) for x in s[:3]) for o, s in sourced)
    wrong = sum(bool(s) and rule.traced(s[0]) for o, s in unsourced)
    n_s, n_u = len(sourced), len(unsourced)
    return {"n_sourced": n_s, "n_unsourced": n_u, "top1": right / max(1, n_s), "top1_any": best / max(1, n_s),
            "top3": three / max(1, n_s), "wrong_source": wrong / max(1, n_u)}  # fmt: skip


def pooled(parts: list[dict[str, float]]) -> dict[str, float]:
    n_s, n_u = sum(p["n_sourced"] for p in parts), sum(p["n_unsourced"] for p in parts)
    out = {"n_sourced": n_s, "n_unsourced": n_u}
    shares = (("top1", "n_sourced"), ("top1_any", "n_sourced"), ("top3", "n_sourced"), ("wrong_source", "n_unsourced"))
    for key, n in shares:
        out[key] = sum(round(p[key] * p[n]) for p in parts) / max(1, out[n])
    return out


def row(label: str, full: dict[str, float], ablated: dict[str, float], runs: dict[str, float],
        mixed: dict[str, float]) -> str:  # fmt: skip
    return (f"{label:<30} {full['top1']:.3f} {full['top1_any']:.3f} {full['top3']:.3f} "
            f"{round(full['wrong_source'] * full['n_unsourced']):>2}/{full['n_unsourced']:<3} "
            f"{ablated['top1']:.3f} {ablated['wrong_source']:.3f}   {runs['top1']:.3f} {runs['wrong_source']:.3f} "
            f"{mixed['top1']:.3f} {mixed['wrong_source']:.3f}")  # fmt: skip


def main() -> None:
    args = wide_args()
    _, ntrex_wide, real_wide = trace_wide(args.ntrex, args.cases, args.runs, RERANK_TOP, 1.0)
    names = sorted({o.query.split for o in real_wide})
    print(f"{len(names)} real cases left out one at a time; 'full': traced right, best right, top 3, unsourced "
          "full-case lines traced; 'ablated': traced right, unsourced traced; NTREX test half runs, mixed: "
          "traced right, wrong-source")  # fmt: skip
    print(f"{'':<30} {'full':<27} {'ablated':<15} {'NTREX runs':<13} mixed")

    def lever(label: str, top: int, within: float, point: OperatingPoint | None = None,
              reorder: str | None = None) -> None:  # fmt: skip
        point = point or OperatingPoint()
        real, ntrex = narrowed(real_wide, top, within), narrowed(ntrex_wide, top, within)
        calib = [o for o in ntrex if o.query.split == "calib"]
        full_parts, ablated_parts = [], []
        for held in names:
            train = calib + [o for o in real if o.query.split != held]
            rule, _ = calibrate(train, model=MODEL, margin_k=4, point=point)
            fix: Reorder | None = figures_demoted if reorder == "demote" else None
            if reorder == "learned":
                fix = reranked(fit_conditional_logit(training_rows(with_features(train, rule))))
            held_out = [o for o in real if o.query.split == held]
            decided = [(o, fix(o, s, f) if fix else s) for o, s, f in with_features(held_out, rule)]
            full_parts.append(figures([(o, s) for o, s in decided if o.query.doc_id == held], rule))
            ablated_parts.append(figures([(o, s) for o, s in decided if o.query.doc_id != held], rule))
        rule, _ = calibrate(calib + real, model=MODEL, margin_k=4, point=point)
        test = [o for o in ntrex if o.query.split == "test"]
        fix = figures_demoted if reorder == "demote" else None
        if reorder == "learned":
            fix = reranked(fit_conditional_logit(training_rows(with_features(calib + real, rule))))
        decided = [(o, fix(o, s, f) if fix else s) for o, s, f in with_features(test, rule)]
        lay = {layout: figures([(o, s) for o, s in decided if o.query.layout == layout], rule)
               for layout in ("runs", "mixed")}  # fmt: skip
        print(row(label, pooled(full_parts), pooled(ablated_parts), lay["runs"], lay["mixed"]), flush=True)

    lever("shipped", 4, 0.05)
    lever("recall top6/0.10", 6, 0.10)
    lever("recall top8/0.10", 8, 0.10)
    lever("recall top8/all", 8, 1.0)
    lever("operating point 0.15", 4, 0.05, OperatingPoint(max_wrong_real=0.15))
    lever("operating point 0.10", 4, 0.05, OperatingPoint(max_wrong_real=0.10))
    lever("learned reranker (top 8)", 8, 1.0, reorder="learned")
    lever("disagreeing figures demoted", 4, 0.05, reorder="demote")


if __name__ == "__main__":
    main()
