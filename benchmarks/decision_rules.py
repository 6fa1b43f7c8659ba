"""Which sentence evidence should decide "traced" vs "no_source"? Each rule is fitted the way
`trace calibrate` fits the shipped one (NTREX calibration half in both layouts plus the real
cases, the article stage always on top) with one case left out, and scored on that case, its
ablated variants and the NTREX test half:

    python benchmarks/decision_rules.py [--ntrex PATH] [--cases DIR] [--runs 3]
"""

from __future__ import annotations

from dataclasses import replace

from _wide import trace_wide, wide_args

from tracer.evaluation._evaluate import Outcome, calibrate, pooled_score
from tracer.tracing import _align

RULES = {
    "cosine": ("cosine",),
    "cosine + margin over claims": ("cosine", "margin"),
    "+ carrying outlets": ("cosine", "margin", "carriers"),
    "+ names agreement": ("cosine", "margin", "carriers", "names"),
    "+ word recall, best 6 compared": ("cosine", "margin", "carriers", "names", "recall"),
    "+ credited outlet, best 6 compared": ("cosine", "margin", "carriers", "names", "recall", "credited"),
}
FULL = "+ credited outlet, best 6 compared"
WIDEST = (6, 1.0)
"""The data are traced with word recall for the best 6 candidates whatever their cosine ..."""
COMPARED = {"best 4 within 0.05 (tracer)": (4, 0.05), "best 2 compared": (2, 1.0)}
"""... and narrower choices are read off it (recall dropped past them), for the full rule."""


def main() -> None:
    args = wide_args()
    embedder, ntrex, real = trace_wide(args.ntrex, args.cases, args.runs, *WIDEST)
    calib = [o for o in ntrex if o.query.split == "calib"]
    test = [o for o in ntrex if o.query.split == "test"]
    names = sorted({o.query.split for o in real})
    print(f"model {embedder.info.name}; real cases left out one at a time; NTREX test half, both layouts")
    print(f"{'sentence evidence':<48} {'real top1':>9} {'ablated top1':>12} {'ablated wrong':>13} "
          f"{'NTREX top1':>10} {'NTREX wrong':>11}")  # fmt: skip
    rows = [(label, features, calib, test, real) for label, features in RULES.items()]
    for label, (top, within) in COMPARED.items():
        rows.append((f"+ credited outlet, {label}", RULES[FULL],
                     *(compared_only(part, top, within) for part in (calib, test, real))))  # fmt: skip
    for label, features, calib_, test_, real_ in rows:
        full, abl, nt = [], [], []
        for held in names:
            rule, _ = calibrate(calib_ + [o for o in real_ if o.query.split != held], model=embedder.info.name,
                                margin_k=4, features=features)  # fmt: skip
            mine = [o for o in real_ if o.query.split == held]
            full.append(([o for o in mine if o.query.doc_id == held], rule))
            abl.append(([o for o in mine if o.query.doc_id != held], rule))
            nt.append((test_, rule))
        f, a, n = pooled_score(full), pooled_score(abl), pooled_score(nt)
        print(f"{label:<48} {f['top1']:>9.3f} {a['top1']:>12.3f} {a['wrong_source']:>13.3f} "
              f"{n['top1']:>10.3f} {n['wrong_source']:>11.3f}")  # fmt: skip


def compared_only(outcomes: list[Outcome], top: int, within: float) -> list[Outcome]:
    """The outcomes as if only the ``top`` best candidates within ``within`` of the best cosine
    had been compared word by word."""
    out = []
    for o in outcomes:
        keep = _align.compared(o.candidates, top, within)
        cands = [c if k else replace(c, recall=None) for c, k in zip(o.candidates, keep, strict=True)]
        out.append(replace(o, candidates=cands))
    return out


if __name__ == "__main__":
    main()
