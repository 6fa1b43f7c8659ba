"""Speed of the main job on this machine: cold start of `trace` (process start to JSON), warm
per-article time, and embedding throughput for index building.

    python benchmarks/trace_speed.py

Uses the bundled example (16-sentence article, 8 source documents) in a temporary index.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    import index as ix
    from tracer import load_embedder
    from tracer.model._onnx import exported_embedder, query_precision
    from tracer.model._pieces import PieceCache
    from tracer.tracing._judge import rule_for
    from tracer.tracing._trace import trace_text

    tmp = Path(tempfile.mkdtemp(prefix="tracer-bench-"))
    example = ROOT / "tracer" / "example"
    t0 = time.perf_counter()
    embedder = load_embedder()
    load_s = time.perf_counter() - t0
    docs = ix.read_jsonl(example / "sources.jsonl")
    with ix.IndexStore.create(tmp / "index", ix.manifest_for(embedder)) as store, store.write_lock():
        ix.add_documents(store, docs, embedder)

    trace = Path(sys.executable).with_name("trace")
    env = {**os.environ, "TRACER_INDEX": str(tmp / "index")}
    cold = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([str(trace), str(example / "artikel.txt")], env=env, check=True, capture_output=True)
        cold.append(time.perf_counter() - t)

    text = (example / "artikel.txt").read_text(encoding="utf-8")
    # once the cold runs made the export, `trace` embeds articles with it: in float32 through ONNX
    # Runtime, or in bf16 through OpenVINO where the CPU multiplies in it ($TRACER_PRECISION)
    prompts = (embedder.info.query_prompt, embedder.info.passage_prompt)
    fp32 = exported_embedder(embedder.info.name, prompts)
    precision = query_precision()
    traced = fp32 if precision == "float32" else exported_embedder(embedder.info.name, prompts, precision)
    runs = {"torch": embedder, "onnx float32": fp32}
    if precision != "float32":
        runs[f"openvino {precision}"] = traced
    # what `trace serve` does: the warm-up article leaves its originals' word pieces kept
    runs[f"{precision}, originals' pieces kept"] = traced and PieceCache(traced)
    runs[f"{precision}, word recall skipped"] = traced and SentencesOnly(traced)
    warm: dict[str, list[float]] = {backend: [] for backend in runs}
    with ix.IndexStore.open(tmp / "index") as store:
        rule = rule_for(embedder.info.name)
        for backend, used in runs.items():
            if used is None:
                continue
            for _ in range(6):  # the first is a warm-up
                t = time.perf_counter()
                trace_text(text, name="a", embedder=used, index=store, rule=rule, index_info={})
                warm[backend].append(time.perf_counter() - t)

    sentences = [line for doc in docs for line in doc.text.splitlines() if line.strip()] * 20
    t = time.perf_counter()
    embedder.embed(sentences, role="passage")
    rate = len(sentences) / (time.perf_counter() - t)

    print(f"model load (in process)          {load_s:6.2f} s")
    print(f"cold `trace artikel.txt`         {statistics.median(cold):6.2f} s  (median of 3, process start to JSON)")
    for backend, times in warm.items():
        if times:
            print(f"warm per article, {backend:<29} {statistics.median(times[1:]):6.3f} s  (16 sentences, median of 5)")
    print(f"embedding, torch fp32            {rate:6.1f} sentences/s ({len(sentences)} source sentences, batch 32)")


class SentencesOnly:
    """An embedder without word pieces: tracing skips word recall (to time what it costs; the
    verdicts are then not the calibrated ones)."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    @property
    def info(self) -> object:
        return self._inner.info  # type: ignore[attr-defined]

    @property
    def precision(self) -> object:
        return self._inner.precision  # type: ignore[attr-defined]

    def embed(self, texts: list[str], *, role: str, show_progress: bool = False) -> object:
        return self._inner.embed(texts, role=role, show_progress=show_progress)  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
