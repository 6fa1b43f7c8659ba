"""faiss index types at index sizes tracer does not reach with the example: exact flat search
against HNSW and IVF-PQ with exact re-ranking, on one machine in one run: recall@10 and
recall@1 against exact search, query time for a 20-sentence article, build time, and RAM per
vector (the serialized index; "re-rank from stored" reads the candidates' float32 vectors from
storage, which tracer already keeps in SQLite, so they cost no RAM). The last row is the index
tracer itself chooses at that size (index/_vectors.py).

    python benchmarks/vector_index.py [--size 1000000] [--queries 200] [--nprobe 64,128]

"margin error" is how far the judge's margin (best score minus the mean of the next four)
computed from the index's top 10 lies from the exact one.

Past 2M vectors only exact search and tracer's choice run: HNSW and RFlat would hold another
copy of every float32 vector (15 GB at 10M) and this machine has 24 GB.

The vectors: the default model's embeddings of NTREX's English, Russian and Ukrainian
sentences, plus synthetic vectors made by mixing two real ones and adding noise (so the set
keeps the shape of real sentence embeddings); queries are NTREX's Indonesian sentences.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NTREX = ROOT.parent / "shared" / "data" / "ntrex" / "ntrex-dev.tsv"


def synthetic(real, n: int, seed: int = 0):  # type: ignore[no-untyped-def]
    """``real`` followed by ``n - len(real)`` synthetic vectors, in one array (no copies: 15 GB at 10M)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    out[: len(real)] = real
    for start in range(len(real), n, 100_000):
        m = min(100_000, n - start)
        a = real[rng.integers(0, len(real), m)]
        b = real[rng.integers(0, len(real), m)]
        w = rng.uniform(0.55, 0.95, (m, 1)).astype(np.float32)
        v = w * a + (1 - w) * b + rng.normal(0, 0.02, (m, real.shape[1])).astype(np.float32)
        out[start : start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--nprobe", default="", help="more nprobe values to try on tracer's choice, e.g. 64,128")
    args = parser.parse_args()

    import faiss
    import numpy as np

    from index import _vectors
    from tracer import load_embedder
    from tracer.evaluation._evaluate import read_parallel_tsv
    from tracer.tracing._trace import SEARCH_K

    faiss.omp_set_num_threads(2)
    rng = np.random.default_rng(2)
    docs = read_parallel_tsv(NTREX)
    embedder = load_embedder()
    passages = [seg[lang] for d in docs for seg in d.segments for lang in ("en", "ru", "uk")]
    queries = [seg["id"] for d in docs for seg in d.segments][: args.queries]
    real = embedder.embed(passages, role="passage")
    q = embedder.embed(queries, role="query")
    xb = synthetic(real, args.size)
    d = xb.shape[1]
    print(
        f"{len(xb):,} vectors of dim {d} ({len(real):,} real), {len(q)} queries, faiss {faiss.__version__}, 2 threads"
    )

    t = time.perf_counter()
    # exact, no copy of xb; trace searches SEARCH_K deep per sentence
    truth_scores, truth = faiss.knn(q, xb, SEARCH_K, metric=faiss.METRIC_INNER_PRODUCT)
    flat_ms = (time.perf_counter() - t) / len(q) * 20 * 1000
    print(
        f"{'index':<38}{'build s':>9}{'recall@1':>10}{'recall@10':>11}{f'recall@{SEARCH_K}':>11}"
        f"{'ms / 20 sentences':>19}{'bytes/vector':>14}"
        f"{'margin error mean/max':>23}"
    )
    print(f"{'Flat (exact)':<38}{0:>9.0f}{1:>10.3f}{1:>11.3f}{1:>11.3f}{flat_ms:>19.1f}{d * 4:>14}{'0 / 0':>23}")

    sample = xb[np.random.default_rng(1).choice(len(xb), min(len(xb), 100_000), replace=False)]
    nlist = 2048 if len(xb) >= 1_000_000 else 1024
    chosen = _vectors.factory_for(len(xb), d)
    configs = [
        ("HNSW32 (efSearch 64)", "HNSW32", {"efSearch": 64}),
        ("HNSW32 (efSearch 128)", None, {"efSearch": 128}),
        (f"IVF{nlist},PQ48 + exact re-rank", f"IVF{nlist},PQ48,RFlat", {"nprobe": 32, "k_factor": 8}),
        (f"IVF{nlist},PQ48, re-rank from stored", f"IVF{nlist},PQ48", {"nprobe": 32, "rerank": 80}),
    ]
    if len(xb) > 2_000_000:
        configs = []
    if chosen != _vectors.FLAT:
        train_size = min(len(xb), 64 * _vectors.nlist_for(len(xb)))  # as index/_store.py trains it
        configs.append((f"tracer's choice: {chosen} + re-rank", chosen,
                        {"nprobe": _vectors.NPROBE, "rerank": _vectors.RERANK, "train": train_size}))  # fmt: skip
        for nprobe in (int(x) for x in args.nprobe.split(",") if x):
            configs.append((f"  the same, nprobe {nprobe}", None, {"nprobe": nprobe, "rerank": _vectors.RERANK}))
    index = None
    for label, factory, params in configs:
        t = time.perf_counter()
        if factory is not None:
            n_train = params.get("train")
            if n_train is not None:  # tracer's choice, trained as tracer trains it
                index = _vectors.train(factory, d, xb[np.sort(rng.choice(len(xb), n_train, replace=False))])
            else:
                index = faiss.index_factory(d, factory, faiss.METRIC_INNER_PRODUCT)
                if not index.is_trained:
                    index.train(sample)
            for start in range(0, len(xb), 1_000_000):
                index.add(xb[start : start + 1_000_000])
        build = time.perf_counter() - t
        assert index is not None
        base = faiss.downcast_index(index.base_index) if "RFlat" in (factory or "") else index
        if "efSearch" in params:
            faiss.downcast_index(index).hnsw.efSearch = params["efSearch"]
        if "nprobe" in params:
            faiss.extract_index_ivf(base).nprobe = params["nprobe"]
        if "k_factor" in params:
            faiss.downcast_index(index).k_factor = params["k_factor"]
        t = time.perf_counter()
        if "rerank" in params:
            # PQ codes in RAM; the candidates re-ranked exactly with their stored float32 vectors
            # (tracer keeps them in SQLite), so RAM holds only the codes.
            _, cand = index.search(q, params["rerank"])
            exact = np.einsum("qd,qkd->qk", q, xb[cand])
            found = np.take_along_axis(cand, np.argsort(-exact, axis=1)[:, :SEARCH_K], axis=1)
        else:
            _, found = index.search(q, SEARCH_K)
        ms = (time.perf_counter() - t) / len(q) * 20 * 1000
        found_scores = -np.sort(-np.einsum("qd,qkd->qk", q, xb[found]), axis=1)
        r1 = float(np.mean(found[:, 0] == truth[:, 0]))
        r10, rk = (recall(found, truth, n) for n in (10, SEARCH_K))
        # the judge's margin: best cosine minus the mean of the next MARGIN_K (tracer/tracing/_match.py)
        error = np.abs(margins(found_scores) - margins(truth_scores))
        size = faiss.serialize_index(index).nbytes if factory else None
        per = f"{size / len(xb):.0f}" if size else "same"
        errors = f"{error.mean():.4f} / {error.max():.4f}"
        print(f"{label:<38}{build:>9.0f}{r1:>10.3f}{r10:>11.3f}{rk:>11.3f}{ms:>19.1f}{per:>14}{errors:>23}", flush=True)


def recall(found, truth, n: int) -> float:  # type: ignore[no-untyped-def]
    """Share of the exact top ``n`` that the index's top ``n`` holds, averaged over queries."""
    return float(sum(len(set(f[:n]) & set(g[:n])) / n for f, g in zip(found, truth, strict=True)) / len(truth))


def margins(scores, k: int = 4):  # type: ignore[no-untyped-def]
    """Best score minus the mean of the next ``k`` (rows sorted best first), as the judge's margin."""
    return scores[:, 0] - scores[:, 1 : k + 1].mean(axis=1)


if __name__ == "__main__":
    main()
