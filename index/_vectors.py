"""Which faiss index holds the vectors, chosen by size, and exact search over it.

Up to ``EXACT_LIMIT`` vectors an exact ``IDMap2,Flat`` index (1.5 KB of RAM per vector; every
vector is read for every article). Beyond it, ``IVF{nlist},PQ{m}``: product-quantized codes
(~60 B per vector at dimension 384) find candidates, and the best ``RERANK`` of them per query
are re-scored exactly with the vectors SQLite keeps anyway (float16, ``STORED``). Measured on 2
cores (benchmarks/vector_index.py, 20 queries): at 100k vectors flat 59 ms, IVF-PQ 2.1 ms with
recall@1 1.000 and recall@24 0.999 against exact search; at 1M flat 0.65 s, IVF-PQ 6.3 ms.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import faiss
import numpy as np

EXACT_LIMIT = 50_000
"""Vectors up to which search is exact; past it the index switches to IVF-PQ. At 100k, flat
search was the largest cost of a served article after the encoder (27 ms of ~0.25 s) and kept
`trace serve` under 4 articles/s at 4 clients (`benchmarks/serve_load.py`); IVF-PQ's top 24
differs from the exact one in 1 of 1,000 candidates there (1 in 200 at 60k, 1 in 40 at 400k),
its best never."""
MIN_IVF = 1_024
"""Fewer vectors than this never get IVF-PQ (its codebooks need a few hundred to train)."""
MAX_NLIST = 4_096
RERANK = 80
"""Candidates per query re-scored exactly (recall@1 1.000 at 1M in the benchmark)."""
NPROBE = 32
FLAT = "IDMap2,Flat"
POLICY = f"{FLAT} up to {EXACT_LIMIT} vectors, then IVF-PQ with exact re-ranking"

VectorsOf = Callable[[np.ndarray], np.ndarray]
"""Float32 vectors of the given ids, row for row (read from SQLite)."""

STORED = "float16"
"""How SQLite keeps each unit's vector (the copy that rebuilds the vector file and re-scores
IVF-PQ candidates exactly). float16 halves float32's 1,536 B per unit at dimension 384; its
rounding (under 5e-4 of each value) changed no verdict and no figure on the real cases (440
sentences) or NTREX (6,105), and one best source of the 6,545 (benchmarks/vector_storage.py).
Indexes from before it keep float32: each blob is read by its length, so both can share one index."""
_STORED_TYPES = {"float16": np.dtype("<f2"), "float32": np.dtype("<f4")}


def stored_type(name: object) -> np.dtype | None:
    """The numpy type a manifest's ``stored_vectors`` names, or None if it names none we read."""
    return _STORED_TYPES.get(name) if isinstance(name, str) else None


def decode(blobs: list[bytes], dim: int) -> np.ndarray:
    """Float32 rows of stored vector blobs, float16 or float32 told apart by length (checked
    first with :func:`bad_blob`)."""
    sizes = {t.itemsize * dim: t for t in _STORED_TYPES.values()}
    lengths = {len(b) for b in blobs}
    if len(lengths) == 1:  # the usual case: one read of every row
        raw = np.frombuffer(b"".join(blobs), dtype=sizes[lengths.pop()])
        return raw.reshape(len(blobs), dim).astype(np.float32)
    out = np.empty((len(blobs), dim), np.float32)
    for row, blob in enumerate(blobs):
        out[row] = np.frombuffer(blob, dtype=sizes[len(blob)])
    return out


def bad_blob(blobs: list[object], dim: int) -> int | None:
    """Row of the first blob that is no stored vector of dimension ``dim``, or None."""
    sizes = {t.itemsize * dim for t in _STORED_TYPES.values()}
    return next((n for n, b in enumerate(blobs) if not isinstance(b, bytes) or len(b) not in sizes), None)


def nlist_for(n: int) -> int:
    """The power of two at or below 4 sqrt(n), at most ``MAX_NLIST`` (training cost grows with
    it): 512 lists from 50k vectors, 1024 from 65k, 2048 from 262k, 4096 from ~1M."""
    return int(min(MAX_NLIST, max(16, 2 ** math.floor(math.log2(4 * math.sqrt(max(n, 1)))))))


def pq_m(dim: int) -> int:
    """Sub-quantizers: about dim / 8 bytes per vector (48 for dimension 384), dividing dim."""
    for m in (dim // 8, 48, 32, 24, 16, 12, 8, 4, 2, 1):
        if m >= 1 and dim % m == 0:
            return m
    return 1


def factory_for(n: int, dim: int, exact_limit: int = EXACT_LIMIT) -> str:
    if n <= max(exact_limit, MIN_IVF - 1):
        return FLAT
    return f"IVF{nlist_for(n)},PQ{pq_m(dim)}"


def is_exact(index: faiss.Index) -> bool:
    return not isinstance(faiss.downcast_index(index), faiss.IndexIVF)


def describe(index: faiss.Index) -> str:
    if is_exact(index):
        return FLAT
    ivf = faiss.extract_index_ivf(index)
    return f"IVF{ivf.nlist},PQ{faiss.downcast_index(index).pq.M}"


def needs_rebuild(index: faiss.Index, n: int, exact_limit: int = EXACT_LIMIT) -> bool:
    """Whether ``index`` no longer suits ``n`` vectors: past the limit, back below half of it
    (hysteresis: an index near the limit does not flip back and forth), or grown enough (about
    4x) that twice as many lists are due."""
    if is_exact(index):
        return factory_for(n, index.d, exact_limit) != FLAT
    if n <= max(exact_limit, MIN_IVF) // 2:
        return True
    return nlist_for(n) >= 2 * faiss.extract_index_ivf(index).nlist


def ids_in(index: faiss.Index) -> np.ndarray:
    """The ids an index holds, whatever its type."""
    if index.ntotal == 0:
        return np.zeros(0, np.int64)
    if is_exact(index):
        return faiss.vector_to_array(faiss.downcast_index(index).id_map).astype(np.int64)
    invlists = faiss.extract_index_ivf(index).invlists
    parts = [
        faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
        for i in range(invlists.nlist)
        if invlists.list_size(i)
    ]
    return np.concatenate(parts).astype(np.int64)


def train(factory: str, dim: int, sample: np.ndarray) -> faiss.Index:
    """``factory``'s index trained on ``sample``. Without polysemous training: faiss's factory
    turns it on for IVF-PQ, but it only reorders codes for Hamming-filtered search, which tracer
    never asks for (it searches by ADC and re-ranks exactly), and it was most of the training
    time (`benchmarks/ivf_training.py`)."""
    index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    ivf = faiss.try_extract_index_ivf(index)
    ivf = faiss.downcast_index(ivf) if ivf is not None else None
    if isinstance(ivf, faiss.IndexIVFPQ):  # by type: a name test would also match "OPQ8,IVF16,Flat"
        ivf.do_polysemous_training = False
    if not index.is_trained:
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
    return index


@functools.cache
def _configure() -> None:
    """Exact searches of a few dozen queries go through BLAS (faiss's default here sends them to
    its own SIMD loop, which ran 60-86 ms beside ONNX Runtime at 100k vectors instead of ~20 ms;
    `benchmarks/serve_load.py`). Both paths compute exact inner products. Once per process."""
    faiss.cvar.distance_compute_blas_threshold = 1


def search(index: faiss.Index, queries: np.ndarray, k: int, vectors_of: VectorsOf) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` by inner product; exact for every index type (IVF-PQ candidates re-scored)."""
    _configure()
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    n = len(queries)
    if index.ntotal == 0:
        return np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64)
    k = min(k, index.ntotal)
    if is_exact(index):
        return index.search(queries, k)
    faiss.extract_index_ivf(index).nprobe = NPROBE
    _, candidates = index.search(queries, max(k, RERANK))
    wanted = np.unique(candidates[candidates >= 0])
    table = dict(zip(wanted.tolist(), range(len(wanted)), strict=True))
    vectors = vectors_of(wanted)
    scores = np.full((n, k), -np.inf, np.float32)
    ids = np.full((n, k), -1, np.int64)
    for row in range(n):
        cand = candidates[row][candidates[row] >= 0]
        exact = vectors[[table[int(c)] for c in cand]] @ queries[row]
        best = np.argsort(-exact, kind="stable")[:k]
        scores[row, : len(best)], ids[row, : len(best)] = exact[best], cand[best]
    return scores, ids
