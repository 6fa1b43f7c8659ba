"""Shared by the benchmarks that read several decision rules off one tracing run: the NTREX
protocol (both layouts) and the real cases with their ablated variants, traced as `trace`
traces here, with word recall for more candidates than `trace` compares."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tracer import DEFAULT_MODEL, load_embedder
from tracer.evaluation._cases import case_variants, run_cases
from tracer.evaluation._evaluate import Outcome, Protocol, read_parallel_tsv, run_protocols
from tracer.model._embed import Embedder
from tracer.model._onnx import as_traced, int8_embedder, query_precision
from tracer.tracing import _align

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def wide_args() -> argparse.Namespace:
    """The command line these benchmarks share: ``--ntrex PATH --cases DIR --runs N``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--ntrex", type=Path, default=SHARED / "ntrex" / "ntrex-dev.tsv")
    parser.add_argument("--cases", type=Path, default=SHARED / "realcases")
    parser.add_argument("--runs", type=int, default=3)
    return parser.parse_args()


def trace_wide(
    ntrex: Path, cases: Path, runs: int, top: int, within: float
) -> tuple[Embedder, list[Outcome], list[Outcome]]:
    """The torch model, and the NTREX and real-case outcomes traced with word recall for the
    ``top`` best candidates within ``within`` of the best cosine (real cases indexed with int8
    passages as `trace index add` does; articles encoded as `trace` encodes them here)."""
    base = load_embedder(DEFAULT_MODEL)
    passages = int8_embedder(base, lambda message: None)
    embedder = as_traced(base, base, query_precision())
    shipped = _align.ALIGN_TOP, _align.ALIGN_WITHIN
    _align.ALIGN_TOP, _align.ALIGN_WITHIN = top, within
    try:
        with tempfile.TemporaryDirectory() as tmp:
            protocol = Protocol(layouts=("runs", "mixed"))
            traced = run_protocols(read_parallel_tsv(ntrex), embedder, Path(tmp) / "n", protocol, runs)
            real = run_cases(case_variants([cases], (1, 2, 3)), embedder, passages, Path(tmp) / "c", margin_k=4)
    finally:
        _align.ALIGN_TOP, _align.ALIGN_WITHIN = shipped
    return base, traced, real
