"""The vector index follows the index's size: exact up to a limit, IVF-PQ with exact re-ranking
beyond it, and the same ids and exact scores either way."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

import index as ix
from index import _vectors
from index._store import IndexStore
from tests.conftest import HashEmbedder
from tests.test_store import doc


def corpus(n_docs: int, seed: int = 0) -> list[ix.Document]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(3000)]
    return [
        doc(f"https://a.example/{d}", " ".join(" ".join(rng.sample(words, 8)).capitalize() + "." for _ in range(3)))
        for d in range(n_docs)
    ]


def build(path: Path, embedder: HashEmbedder, docs: list[ix.Document], limit: int) -> None:
    with IndexStore.create(path, ix.manifest_for(embedder), exact_limit=limit) as store, store.write_lock():
        ix.add_documents(store, docs, embedder)
        store.publish()


def test_sizes_choose_the_index_type() -> None:
    assert _vectors.factory_for(50_000, 384) == "IDMap2,Flat"
    assert _vectors.factory_for(50_001, 384) == "IVF512,PQ48"
    assert _vectors.factory_for(100_060, 384) == "IVF1024,PQ48"  # serve_load.py's grown index
    assert _vectors.factory_for(1_000_000, 384) == "IVF2048,PQ48"
    assert _vectors.factory_for(10_000_000, 384) == "IVF4096,PQ48"  # nlist capped: training cost
    assert _vectors.factory_for(2_000, 64, exact_limit=1_000) == "IVF128,PQ8"
    assert _vectors.factory_for(900, 64, exact_limit=100) == "IDMap2,Flat"  # too few to train codebooks
    assert _vectors.pq_m(768) == 96


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, HashEmbedder]:
    path = tmp_path_factory.mktemp("ivf") / "index"
    embedder = HashEmbedder(dim=64)
    build(path, embedder, corpus(400), limit=1_000)  # 400 documents: 2,000 units
    return path, embedder


@pytest.mark.heavy
def test_past_the_limit_search_stays_exact(big: tuple[Path, HashEmbedder]) -> None:
    path, embedder = big
    queries = embedder.embed([d.text.split(". ")[1] for d in corpus(400)[:100]], role="query")
    with IndexStore.open(path, exact_limit=1_000) as store:
        assert store.vector_index_type == "IVF128,PQ8"
        assert store.stats()["vector_index"] == "IVF128,PQ8"
        ids, vectors = store._vectors()
        exact = queries @ vectors.T
        scores, found = store.search(queries, 5)
    truth = ids[np.argmax(exact, axis=1)]
    assert np.mean(found[:, 0] == truth) >= 0.97
    # scores are exact inner products of the returned vectors, best first
    by_id = dict(zip(ids.tolist(), vectors, strict=True))
    for q, row_ids, row_scores in zip(queries, found, scores, strict=True):
        assert np.allclose([by_id[int(i)] @ q for i in row_ids], row_scores, atol=1e-5)
        assert list(row_scores) == sorted(row_scores, reverse=True)


def test_the_published_ivf_file_is_reused_and_caught_up(big: tuple[Path, HashEmbedder], tmp_path: Path) -> None:
    import shutil

    import faiss

    path, embedder = tmp_path / "index", big[1]
    shutil.copytree(big[0], path)
    (published,) = path.glob("vectors-*.faiss")
    centroids = _centroids(faiss.read_index(str(published)))
    with IndexStore.create(path, ix.manifest_for(embedder), exact_limit=1_000) as store, store.write_lock():
        ix.add_documents(store, [doc("https://a.example/0", "Replaced text about Kursk. Nothing else.")], embedder)
        ix.add_documents(store, [doc("https://b.example/new", "A new story from Seoul. It has two sentences.")],
                         embedder)  # fmt: skip
    with IndexStore.open(path, exact_limit=1_000) as store:
        index = store.vector_index()
        ids, vectors = store._vectors()
        assert np.array_equal(_centroids(index), centroids)  # caught up, not retrained
        assert np.array_equal(np.sort(_vectors.ids_in(index)), ids)  # replaced units gone, new ones in
        assert np.allclose(store.unit_vectors(ids[-10:].tolist()), vectors[-10:])  # exact, not PQ-decoded
        for text, url in (
            ("replaced text about kursk", "https://a.example/0"),
            ("new story from seoul", "https://b.example/new"),
        ):
            _, found = store.search(embedder.embed([text], role="query"), 1)
            assert store.units([int(found[0][0])])[int(found[0][0])].doc.url == url


def _centroids(index) -> np.ndarray:  # type: ignore[no-untyped-def]
    import faiss

    quantizer = faiss.downcast_index(faiss.extract_index_ivf(index).quantizer)
    return faiss.vector_to_array(quantizer.codes).copy()


def test_a_shrunken_index_goes_back_to_exact_search(big: tuple[Path, HashEmbedder]) -> None:
    path = big[0]
    with IndexStore.open(path, exact_limit=1_000) as store:
        ivf = store.vector_index()
    assert not _vectors.needs_rebuild(ivf, 2_000, exact_limit=1_000)
    assert not _vectors.needs_rebuild(ivf, 900, exact_limit=1_000)  # hysteresis: no flip-flopping at the limit
    assert _vectors.needs_rebuild(ivf, 500, exact_limit=1_000)
    assert _vectors.needs_rebuild(ivf, 2_000 * 16, exact_limit=1_000)  # outgrown its lists: retrain
    with IndexStore.open(path, exact_limit=5_000) as store:  # a higher limit: exact again
        assert store.vector_index_type == "IDMap2,Flat"  # named before loading...
        assert _vectors.describe(store.vector_index()) == "IDMap2,Flat"  # ...as loading makes it


def test_stats_name_the_vector_index_without_loading_it(big: tuple[Path, HashEmbedder], monkeypatch) -> None:
    with IndexStore.open(big[0], exact_limit=1_000) as store:
        monkeypatch.setattr(store, "vector_index", lambda: pytest.fail("stats loaded the vector index"))
        assert store.stats()["vector_index"] == "IVF128,PQ8"


def test_only_a_writer_trains_a_file_built_under_a_higher_limit(tmp_path: Path, monkeypatch) -> None:
    """An index published flat (an older tracer's limit) is searched as it is by readers, who
    would otherwise train IVF-PQ on every open; the next writer retrains and publishes it."""
    path, embedder = tmp_path / "index", HashEmbedder(dim=64)
    build(path, embedder, corpus(400), limit=5_000)  # 2,000 units, published flat
    queries = embedder.embed([d.text.split(". ")[1] for d in corpus(400)[:20]], role="query")
    with IndexStore.open(path, exact_limit=1_000) as store:
        monkeypatch.setattr(_vectors, "train", lambda *a: pytest.fail("a reader trained a vector index"))
        assert store.vector_index_type == "IDMap2,Flat"
        ids, vectors = store._vectors()
        _, found = store.search(queries, 1)
        assert np.array_equal(found[:, 0], ids[np.argmax(queries @ vectors.T, axis=1)])  # exact, as before
        monkeypatch.undo()
    notices: list[str] = []
    with IndexStore.create(path, ix.manifest_for(embedder), exact_limit=1_000) as store, store.write_lock():
        store.notify = notices.append
        ix.add_documents(store, [doc("https://b.example/new", "A new story from Seoul. It has two sentences.")],
                         embedder)  # fmt: skip
    assert notices == ["training a new vector index (IVF128,PQ8) on 2,003 of the index's 2,003 vectors "
                       "(up to a minute; again each time the index grows ~4x)"]  # fmt: skip
    with IndexStore.open(path, exact_limit=1_000) as store:
        assert store.vector_index_type == "IVF128,PQ8"


def test_ivf_pq_is_trained_without_polysemous_codes() -> None:
    """faiss's factory turns polysemous training on for IVF-PQ (13 s on 2,000 vectors here, ~38 s
    at PQ48); tracer's searches never filter by Hamming distance, so it is left out."""
    import faiss

    sample = np.random.default_rng(0).standard_normal((2_000, 64)).astype(np.float32)
    index = _vectors.train("IVF16,PQ8", 64, sample)
    ivf = faiss.downcast_index(faiss.extract_index_ivf(index))
    assert index.is_trained and not ivf.do_polysemous_training and ivf.polysemous_ht == 0
