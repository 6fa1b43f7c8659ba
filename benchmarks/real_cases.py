"""The decision on real compiled articles, honestly: each real case is scored by a rule fitted
without it (leave one case out: NTREX calibration half in both layouts plus the other cases and
their ablated variants), beside the NTREX test half per layout. Also prints the figures of the
rule fitted on everything (what `trace calibrate ... --cases` ships), in-sample for the cases.

    python benchmarks/real_cases.py [--ntrex PATH] [--cases DIR] [--runs 3] [--ablate 1,2,3]
                                    [--queries auto|float32|bf16|int8 | --pieces int8] [--floor 0.04,0.05]

Real cases are indexed as `trace index add` does (int8 passages), NTREX as `trace calibrate` does
(torch float32 passages), and every article is traced through the same path as `trace`, in the
precision `trace` uses on this machine (``--queries auto``: $TRACER_PRECISION, else bf16 through
OpenVINO where the CPU multiplies in bfloat16, else float32).
``--queries int8`` traces with the int8 export instead (article sentences and the compared
passages' word pieces, ~2x faster to encode): what tracing at the index's precision would give;
``--pieces int8`` only the compared passages' word pieces.
``--floor X,...`` also scores each left-out fold with its threshold raised, where needed, to
where X of the NTREX calibration half's unsourced sentences would be traced: a floor from
hundreds of composed sentences under a threshold fitted on two cases' few dozen lines.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

from tracer import DEFAULT_MODEL, ConfigError, load_embedder
from tracer.evaluation._cases import case_variants, run_cases
from tracer.evaluation._evaluate import (
    Protocol,
    calibrate,
    pooled_score,
    read_parallel_tsv,
    run_protocols,
    score,
    threshold_for,
)
from tracer.model._onnx import OnnxEmbedder, SplitEmbedder, ensure_export, int8_embedder, query_precision
from tracer.tracing._judge import rule_for

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def row(label: str, figures: dict[str, float]) -> str:
    return (f"{label:<44} {figures['n_sourced']:>5} {figures['top1']:>6.3f} {figures['top1_any']:>6.3f} "
            f"{figures['top3']:>6.3f} {figures['n_unsourced']:>5} {figures['wrong_source']:>7.3f}")  # fmt: skip


class PassagePieces:
    """``base`` in everything but the compared passages' word pieces, which ``pieces`` encodes."""

    def __init__(self, base: object, pieces: object) -> None:
        self._base, self._pieces = base, pieces

    @property
    def info(self):  # type: ignore[no-untyped-def]
        return self._base.info  # type: ignore[attr-defined]

    @property
    def precision(self):  # type: ignore[no-untyped-def]
        return self._base.precision  # type: ignore[attr-defined]

    def embed(self, texts, *, role, show_progress=False):  # type: ignore[no-untyped-def]
        return self._base.embed(texts, role=role, show_progress=show_progress)  # type: ignore[attr-defined]

    def embed_with_tokens(self, texts, *, role):  # type: ignore[no-untyped-def]
        return self._base.embed_with_tokens(texts, role=role)  # type: ignore[attr-defined]

    def token_vectors(self, texts, *, role):  # type: ignore[no-untyped-def]
        return self._pieces.token_vectors(texts, role=role)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ntrex", type=Path, default=SHARED / "ntrex" / "ntrex-dev.tsv")
    parser.add_argument("--cases", type=Path, default=SHARED / "realcases")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ablate", default="1,2,3")
    parser.add_argument("--queries", choices=("auto", "float32", "int8", "bf16"), default="auto",
                        help="the precision tracing encodes with (auto: what `trace` does on this machine)")  # fmt: skip
    parser.add_argument("--pieces", choices=("float32", "int8"), default="float32",
                        help="the precision of the compared passages' word pieces alone")  # fmt: skip
    parser.add_argument("--floor", default="", help="comma-separated NTREX wrong-source floors for the left-out folds")
    args = parser.parse_args()
    embedder = load_embedder(DEFAULT_MODEL)
    passages = int8_embedder(embedder, lambda message: None)
    int8 = passages.passage  # the index's int8 export, one session for every use below
    queries = query_precision() if args.queries == "auto" else args.queries
    if queries != "float32":
        query = int8 if queries == "int8" else OnnxEmbedder(embedder.info, ensure_export(embedder), "bf16")
        embedder, passages = SplitEmbedder(query, embedder), SplitEmbedder(query, passages.passage)  # type: ignore[assignment]
    elif args.pieces == "int8":
        embedder = PassagePieces(embedder, int8)  # type: ignore[assignment]
    seeds = [int(s) for s in args.ablate.split(",") if s]
    k = Protocol().margin_k
    with tempfile.TemporaryDirectory() as tmp:
        protocol = Protocol(layouts=("runs", "mixed"))
        ntrex = run_protocols(read_parallel_tsv(args.ntrex), embedder, Path(tmp) / "ntrex", protocol, args.runs)
        real = run_cases(case_variants([args.cases], seeds), embedder, passages, Path(tmp) / "cases", margin_k=k)
    calib = [o for o in ntrex if o.query.split == "calib"]
    test = [o for o in ntrex if o.query.split == "test"]
    names = sorted({o.query.split for o in real})
    header = f"{'':<44} {'lines':>5} {'top1':>6} {'best':>6} {'top3':>6} {'unsrc':>5} {'wrong':>7}"

    def report(rule, held: list[str]) -> None:
        for name in held:
            full = [o for o in real if o.query.doc_id == name]
            abl = [o for o in real if o.query.split == name and o.query.doc_id != name]
            print(row(f"  {name}", score(full, rule)))
            if abl:
                print(row(f"  {name} ablated ({len(seeds)} seeds)", score(abl, rule)))
        for layout in protocol.layouts:
            print(row(f"  NTREX test, {layout}", score([o for o in test if o.query.layout == layout], rule)))

    print(
        f"model {embedder.info.name}, articles encoded in {queries}; "
        "'top1' = traced to an accepted original, 'best' = best candidate right, 'top3' = an accepted one "
        "among the best three, 'wrong' = share of the lines without a source that were traced"
    )
    print(
        "\nthe headline: leave one case out (each case scored by a rule fitted on the NTREX calibration "
        "half and the other cases, never on itself)"
    )
    print(header)
    pooled = {"full": [], "ablated": []}
    folds = []
    for held in names:
        train = calib + [o for o in real if o.query.split != held]
        rule, _ = calibrate(train, model=embedder.info.name, margin_k=k)
        folds.append((held, rule))
        print(f" held out: {held} (threshold {rule.threshold:.3f}, possible from {rule.possible:.3f})")
        report(rule, [held])
        decided = [o for o in real if o.query.split == held]
        pooled["full"].append(([o for o in decided if o.query.doc_id == held], rule))
        pooled["ablated"].append(([o for o in decided if o.query.doc_id != held], rule))
    print(" pooled over the held-out cases:")
    for part, groups in pooled.items():
        print(row(f"  real cases, {part}", pooled_score(groups)))
    for floor in [float(x) for x in args.floor.split(",") if x.strip()]:
        raised = [(held, replace(rule, threshold=max(rule.threshold, threshold_for(calib, rule, floor))))
                  for held, rule in folds]  # fmt: skip
        thresholds = ", ".join(f"{rule.threshold:.3f}" for _, rule in raised)
        print(f" pooled, thresholds no lower than {floor:.0%} NTREX calibration wrong-source ({thresholds}):")
        for part in ("full", "ablated"):
            groups = [([o for o in real if o.query.split == held and (o.query.doc_id == held) == (part == "full")],
                       rule) for held, rule in raised]  # fmt: skip
            print(row(f"  real cases, {part}", pooled_score(groups)))
    print("\nshipped rule (tracer/calibration.json; the cases it was fitted on are in-sample)")
    try:
        shipped = rule_for(embedder.info.name)
        print(header)
        report(shipped, names)
    except ConfigError as exc:
        print(f"  not comparable: {exc}")
    rule, _ = calibrate(calib + real, model=embedder.info.name, margin_k=k)
    print(
        f"\nfitted on everything (threshold {rule.threshold:.3f}, possible from {rule.possible:.3f}; cases in-sample)"
    )
    print(header)
    report(rule, names)


if __name__ == "__main__":
    main()
