"""What faiss's polysemous training costs when tracer trains its IVF-PQ vector index, and
that leaving it out changes no search result tracer reads.

    python benchmarks/ivf_training.py [--lists 512,4096] [--dim 384]

faiss's index factory turns polysemous training on for IVF-PQ. It reorders each sub-quantizer's
codes so that Hamming distances between codes approximate real ones, which only a
Hamming-filtered search (``polysemous_ht``) uses; tracer searches by ADC and re-ranks the
candidates exactly (index/_vectors.py). For each list count, on synthetic clustered unit vectors
(64 a list, as tracer samples them), this trains ``IVFn,PQm`` both ways and compares the top
``RERANK`` candidates of 200 queries at tracer's ``NPROBE``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    import faiss
    import numpy as np

    from index import _vectors

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lists", default="512,4096")
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads, dim {args.dim}")
    print("factory            train vectors  polysemous  without  same candidates")
    for nlist in (int(x) for x in args.lists.split(",")):
        n = 64 * nlist
        centers = rng.standard_normal((nlist, args.dim)).astype(np.float32)
        xb = centers[rng.integers(0, nlist, n)] + 0.6 * rng.standard_normal((n, args.dim)).astype(np.float32)
        xb /= np.linalg.norm(xb, axis=1, keepdims=True)
        queries = xb[rng.choice(n, 200, replace=False)] + 0.1 * rng.standard_normal((200, args.dim)).astype(np.float32)
        factory = f"IVF{nlist},PQ{_vectors.pq_m(args.dim)}"
        found, seconds = [], []
        for polysemous in (True, False):
            index = faiss.index_factory(args.dim, factory, faiss.METRIC_INNER_PRODUCT)
            faiss.downcast_index(faiss.extract_index_ivf(index)).do_polysemous_training = polysemous
            t = time.perf_counter()
            index.train(xb)
            seconds.append(time.perf_counter() - t)
            index.add(xb)
            faiss.extract_index_ivf(index).nprobe = _vectors.NPROBE
            found.append(index.search(queries, _vectors.RERANK)[1])
        same = np.mean([set(a) == set(b) for a, b in zip(*found, strict=True)])
        print(f"{factory:<18} {n:>13,} {seconds[0]:>9.1f}s {seconds[1]:>7.1f}s  {same:.3f} of queries")


if __name__ == "__main__":
    main()
