"""Passages' word pieces kept between articles (``tracer.model._pieces``)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import index as ix
import tracer
from tests.conftest import HashEmbedder
from tracer.model._embed import WordPieces
from tracer.model._pieces import PieceCache
from tracer.tracing._judge import rule_for


class HashedPieces(HashEmbedder):
    """HashEmbedder with word pieces: one hashed unit vector per word; records what it encodes."""

    def __init__(self) -> None:
        super().__init__()
        self.encoded: list[tuple[str, tuple[str, ...]]] = []

    def token_vectors(self, texts: Sequence[str], *, role: str) -> list[np.ndarray]:
        self.encoded.append((role, tuple(texts)))
        out = []
        for text in texts:
            words = re.findall(r"\w+", text.lower())
            rows = np.zeros((len(words), self.info.dim), dtype=np.float32)
            for i, w in enumerate(words):
                rows[i, hashlib.sha256(w.encode()).digest()[0] % self.info.dim] = 1.0
            out.append(rows)
        return out

    def embed_with_tokens(self, texts: Sequence[str], *, role: str) -> tuple[np.ndarray, list[WordPieces]]:
        pieces = [tuple(re.findall(r"\w+", t.lower())) for t in texts]
        vectors = self.token_vectors(texts, role=role)
        return self.embed(texts, role=role), [WordPieces(v, p) for v, p in zip(vectors, pieces, strict=True)]


def test_a_passage_is_encoded_once_and_given_back_as_computed() -> None:
    inner = HashedPieces()
    cache = PieceCache(inner)
    first = cache.token_vectors(["a b", "c d e", "a b"], role="passage")
    again = cache.token_vectors(["f", "c d e", "a b"], role="passage")
    assert inner.encoded == [("passage", ("a b", "c d e")), ("passage", ("f",))]  # repeats within a call too
    assert [len(p) for p in first] == [2, 3, 2] and [len(p) for p in again] == [1, 3, 2]
    for got, want in zip(again, inner.token_vectors(["f", "c d e", "a b"], role="passage"), strict=True):
        assert np.array_equal(got, want)
    assert (cache.hits, cache.misses) == (2, 3)
    with pytest.raises(ValueError, match="read-only"):  # a caller cannot change what the next one gets
        again[1][0, 0] = 5.0


def test_threads_share_one_cache_and_its_bound_holds() -> None:
    import threading

    inner = HashedPieces()
    cache = PieceCache(inner, max_bytes=20 * (64 * 4 * 2 + 3))  # about 20 two-word passages
    texts = [f"w{i} x{i}" for i in range(60)]
    want = dict(zip(texts, inner.token_vectors(texts, role="passage"), strict=True))
    errors: list[str] = []

    def work(seed: int) -> None:
        for n in range(40):
            batch = [texts[(seed * 7 + n * k) % len(texts)] for k in range(1, 6)]
            for text, got in zip(batch, cache.token_vectors(batch, role="passage"), strict=True):
                if not np.array_equal(got, want[text]):
                    errors.append(text)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert 0 < cache.size_bytes <= 20 * (64 * 4 * 2 + 3)
    assert cache.size_bytes == sum(v.nbytes + len(k) for k, v in cache._items.items())


def test_article_sentences_are_not_kept() -> None:
    inner = HashedPieces()
    cache = PieceCache(inner)
    cache.token_vectors(["a b"], role="query")
    cache.token_vectors(["a b"], role="query")
    assert inner.encoded == [("query", ("a b",))] * 2 and cache.size_bytes == 0


def test_the_least_recently_used_go_first_within_the_bound() -> None:
    inner = HashedPieces()
    one_word = 64 * 4 + 1  # a one-word passage: 64 float32 and one character of key
    cache = PieceCache(inner, max_bytes=2 * one_word)
    cache.token_vectors(["a", "b"], role="passage")
    cache.token_vectors(["a"], role="passage")  # "a" is now the most recent
    cache.token_vectors(["c"], role="passage")  # so "b" goes
    assert cache.size_bytes == 2 * one_word
    inner.encoded.clear()
    cache.token_vectors(["a", "b", "c"], role="passage")
    assert inner.encoded == [("passage", ("b",))]
    assert cache.size_bytes <= 2 * one_word


def test_zero_bytes_keeps_nothing() -> None:
    inner = HashedPieces()
    cache = PieceCache(inner, max_bytes=0)
    cache.token_vectors(["a"], role="passage")
    cache.token_vectors(["a"], role="passage")
    assert len(inner.encoded) == 2 and cache.size_bytes == 0
    with pytest.raises(ValueError, match="negative"):
        PieceCache(inner, max_bytes=-1)


DOCS = [
    {"url": "https://a.example/kursk", "outlet": "The Guardian", "lang": "en", "published": "2024-11-05",
     "text": "North Korean troops arrived in Kursk region on Tuesday. The White House called them targets."},
]  # fmt: skip
ARTICLE = "North Korean troops arrived in Kursk region on Tuesday.\nThe White House called them targets."


def test_a_tracer_compares_an_original_once_across_articles(tmp_path: Path) -> None:
    embedder = HashedPieces()
    with ix.writer_for(tmp_path / "index", embedder, "torch") as writer:
        writer.add([ix.document_from_record(r) for r in DOCS])
    rule = rule_for(embedder.info.name)
    with tracer.Tracer(tmp_path / "index", embedder, rule) as t:
        embedder.encoded.clear()
        first = t.trace(ARTICLE, name="a.txt").to_dict()
        passages = [texts for role, texts in embedder.encoded if role == "passage"]
        assert passages and all(passages)
        embedder.encoded.clear()
        second = t.trace(ARTICLE, name="a.txt").to_dict()
        assert [role for role, _ in embedder.encoded] == ["query"]  # the originals' pieces were kept
    with tracer.Tracer(tmp_path / "index", embedder, rule, piece_cache_mb=0) as t:
        embedder.encoded.clear()
        uncached = t.trace(ARTICLE, name="a.txt").to_dict()
        assert [role for role, _ in embedder.encoded] == ["query", "passage"]
    recalls = [[m["recall"] for m in s["matches"]] for s in first["sentences"]]
    assert any(r is not None for rs in recalls for r in rs)
    for report in (second, uncached):
        assert [[m["recall"] for m in s["matches"]] for s in report["sentences"]] == recalls
        assert [s["status"] for s in report["sentences"]] == [s["status"] for s in first["sentences"]]


@pytest.mark.slow
def test_kept_pieces_equal_the_encoders_own(real_embedder) -> None:
    texts = ["North Korean troops arrived in Kursk.", "Шойгу занимал пост с 2012 года.", "Short."]
    cache = PieceCache(real_embedder)
    cache.token_vectors(texts[:1], role="passage")
    got = cache.token_vectors(texts, role="passage")  # the first kept, the others encoded in another batch
    for a, b in zip(got, real_embedder.token_vectors(texts, role="passage"), strict=True):
        assert a.shape == b.shape and np.abs(a - b).max(initial=0.0) < 1e-5
