"""Warm per-article tracing time as the index grows (10k, 100k, 1M units), through the real
store and the real trace pipeline: embed the article, search the vector index that the store
chooses for its size (exact flat up to 50k, then IVF-PQ re-ranked from SQLite), judge, report.

The index holds 12 NTREX documents (en/ru/uk, real vectors, sentences and windows) that a
20-sentence Indonesian article is composed from, plus synthetic documents whose vectors mix
two real sentence vectors of the other 61 NTREX documents with noise (the shape of real
embeddings, no meaning).

Also printed: the index directory's size on disk per unit (SQLite with every vector in float32,
plus the faiss file) and the process's peak RSS so far.

    python benchmarks/trace_scale.py [--sizes 10000,100000,1000000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NTREX = ROOT.parent / "shared" / "data" / "ntrex" / "ntrex-dev.tsv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--dir", type=Path, default=None, help="where the index is built (default: a temp dir)")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]

    import faiss
    import numpy as np

    import index as ix
    from index._store import NewDocument, NewUnit
    from tracer import SourceDoc, load_embedder
    from tracer.evaluation._evaluate import read_parallel_tsv
    from tracer.model._onnx import exported_embedder
    from tracer.tracing._judge import rule_for
    from tracer.tracing._trace import trace_text

    base = load_embedder()
    query_embedder = exported_embedder(base.info.name, (base.info.query_prompt, base.info.passage_prompt)) or base
    docs = read_parallel_tsv(NTREX)[:12]
    langs = ("en", "ru", "uk")
    sources = [
        ix.Document(SourceDoc(url=f"https://ntrex.example/{d.doc_id}", outlet=d.doc_id.split(".")[0], lang=langs[i % 3],
                              title=d.doc_id, published=None), "\n".join(seg[langs[i % 3]] for seg in d.segments))
        for i, d in enumerate(docs)
    ]  # fmt: skip
    article = "\n".join(seg["id"] for d in docs[:4] for seg in d.segments[:5])  # one sentence per line
    # the other 61 documents' sentences: mixtures of the article's own sources would be near-copies
    real = base.embed([seg[lang] for d in read_parallel_tsv(NTREX)[12:] for seg in d.segments for lang in langs],
                      role="passage")  # fmt: skip
    rng = np.random.default_rng(0)
    tmp = Path(tempfile.mkdtemp(prefix="tracer-scale-", dir=args.dir))
    print(f"20-sentence article, {base.info.name}, queries embedded by {type(query_embedder).__name__}")
    print(
        f"{'units':>10} {'vector index':<16} {'warm trace s':>13} {'traced':>7} {'index build s':>14} {'RAM/vector B':>13}"
        f" {'disk/unit B':>12} {'peak RSS GB':>12}"
    )
    try:
        with ix.IndexStore.create(tmp / "index", ix.manifest_for(base)) as store, store.write_lock():
            ix.add_documents(store, sources, base)
            n_synthetic = 0
            for size in sizes:
                t = time.perf_counter()
                while store.describe()["units"] < size:  # type: ignore[operator]
                    batch = []
                    for _ in range(1_000):
                        a = real[rng.integers(0, len(real), 10)]
                        b = real[rng.integers(0, len(real), 10)]
                        w = rng.uniform(0.55, 0.95, (10, 1)).astype(np.float32)
                        v = w * a + (1 - w) * b + rng.normal(0, 0.02, a.shape).astype(np.float32)
                        v /= np.linalg.norm(v, axis=1, keepdims=True)
                        url = f"https://synthetic.example/{n_synthetic}"
                        units = [NewUnit(k, k, 0, 1, "synthetic", v[k]) for k in range(10)]
                        doc = SourceDoc(url=url, outlet="Synthetic", lang="en", title="synthetic", published=None)
                        batch.append(NewDocument(doc, "synthetic", hashlib.sha256(url.encode()).hexdigest(), units))
                        n_synthetic += 1
                    store.write_batch(batch)
                store.publish()
                build = time.perf_counter() - t
                with ix.IndexStore.open(tmp / "index") as reader:
                    rule = rule_for(base.info.name)
                    kind = reader.vector_index_type
                    ram = faiss.serialize_index(reader.vector_index()).nbytes / reader.vector_index().ntotal
                    times, traced = [], 0
                    for _ in range(6):
                        t = time.perf_counter()
                        report = trace_text(article, name="a", embedder=query_embedder, index=reader, rule=rule,
                                            index_info={})  # fmt: skip
                        times.append(time.perf_counter() - t)
                        traced = sum(s.status == "traced" for s in report.sentences)
                    units = reader.describe()["units"]
                disk = sum(f.stat().st_size for f in (tmp / "index").rglob("*") if f.is_file())
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
                print(f"{units:>10,} {kind:<16} {statistics.median(times[1:]):>13.3f} {traced:>4}/20 {build:>14.0f} {ram:>13.0f}"
                      f" {disk / units:>12.0f} {peak:>12.2f}", flush=True)  # fmt: skip

    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # 10M units take ~17 GB


if __name__ == "__main__":
    main()
