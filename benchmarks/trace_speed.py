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
    with ix.IndexStore.open(tmp / "index") as store:
        rule = rule_for(embedder.info.name)
        warm = []
        for _ in range(5):
            t = time.perf_counter()
            trace_text(text, name="a", embedder=embedder, index=store, rule=rule, index_info={})
            warm.append(time.perf_counter() - t)

    sentences = [line for doc in docs for line in doc.text.splitlines() if line.strip()] * 20
    t = time.perf_counter()
    embedder.embed(sentences, role="passage")
    rate = len(sentences) / (time.perf_counter() - t)

    print(f"model load (in process)          {load_s:6.2f} s")
    print(f"cold `trace artikel.txt`         {statistics.median(cold):6.2f} s  (median of 3, process start to JSON)")
    print(f"warm per article (16 sentences)  {statistics.median(warm):6.3f} s  (median of 5)")
    print(f"embedding, torch fp32            {rate:6.1f} sentences/s ({len(sentences)} source sentences, batch 32)")


if __name__ == "__main__":
    main()
