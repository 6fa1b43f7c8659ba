"""MemoEmbedder: evaluations encode each text once, with the vectors the wrapped embedder gives."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tests.conftest import HashEmbedder
from tracer.model._embed import WordPieces
from tracer.model._memo import MemoEmbedder, remembering
from tracer.tracing._align import embed_queries


class TokenHashEmbedder(HashEmbedder):
    """A stand-in ``TokenEmbedder``: each word's own hashed vector is its piece vector."""

    def token_vectors(self, texts: Sequence[str], *, role: str) -> list[np.ndarray]:
        self.calls.append((f"tokens:{role}", len(texts)))
        return [self.embed(t.split(), role=role) for t in texts]

    def embed_with_tokens(self, texts: Sequence[str], *, role: str) -> tuple[np.ndarray, list[WordPieces]]:
        self.calls.append((f"both:{role}", len(texts)))
        return self.embed(texts, role=role), [
            WordPieces(self.embed(t.split(), role=role), tuple(t.split())) for t in texts
        ]


def test_encodes_only_texts_not_met_before_with_that_role() -> None:
    inner = HashEmbedder()
    memo = MemoEmbedder(inner)
    first = memo.embed(["a b", "c d", "a b"], role="passage")
    np.testing.assert_array_equal(first, inner.embed(["a b", "c d", "a b"], role="passage"))
    inner.calls.clear()
    again = memo.embed(["c d", "e f", "a b"], role="passage")
    assert inner.calls == [("passage", 1)]  # only "e f"
    np.testing.assert_array_equal(again, np.stack([first[1], inner.embed(["e f"], role="passage")[0], first[0]]))
    inner.calls.clear()
    memo.embed(["a b"], role="query")  # another role is another text
    assert inner.calls == [("query", 1)]
    assert memo.embed([], role="query").shape == (0, inner.info.dim)
    assert (memo.info, memo.precision) == (inner.info, inner.precision)


def test_word_piece_methods_only_when_the_wrapped_embedder_has_them() -> None:
    plain = MemoEmbedder(HashEmbedder())
    assert getattr(plain, "token_vectors", None) is None and getattr(plain, "embed_with_tokens", None) is None
    vectors, pieces = embed_queries(plain, ["x y"])  # tracing then goes without word recall
    assert pieces is None and vectors.shape == (1, 64)

    inner = TokenHashEmbedder()
    memo = MemoEmbedder(inner)
    vectors, pieces = embed_queries(memo, ["x y", "z"])
    assert pieces is not None and [p.pieces for p in pieces] == [("x", "y"), ("z",)]
    inner.calls.clear()
    again, pieces_again = memo.embed_with_tokens(["z", "x y"], role="query")  # type: ignore[attr-defined]
    assert not [c for c in inner.calls if c[0].startswith("both")]
    np.testing.assert_array_equal(again, vectors[::-1])
    assert pieces_again[0] is pieces[1]
    first = memo.token_vectors(["p q", "r"], role="passage")  # type: ignore[attr-defined]
    inner.calls.clear()
    second = memo.token_vectors(["r", "p q"], role="passage")  # type: ignore[attr-defined]
    assert not [c for c in inner.calls if c[0].startswith("tokens")]
    assert second[0] is first[1] and second[1] is first[0]


def test_wrapping_twice_wraps_once() -> None:
    memo = remembering(HashEmbedder())
    assert isinstance(memo, MemoEmbedder) and remembering(memo) is memo


def test_memory_starts_afresh_past_its_bound(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tracer.model import _memo

    monkeypatch.setattr(_memo, "MAX_TEXTS", 3)
    inner = HashEmbedder()
    memo = MemoEmbedder(inner)
    memo.embed(["a", "b"], role="passage")
    inner.calls.clear()
    out = memo.embed(["a", "c", "d"], role="passage")  # 2 + 2 new > 3: encoded afresh, all of them
    assert inner.calls == [("passage", 3)]
    np.testing.assert_array_equal(out, inner.embed(["a", "c", "d"], role="passage"))


def test_a_memo_that_indexes_and_traces_keeps_passages_word_pieces_from_one_pass() -> None:
    inner = TokenHashEmbedder()
    memo = MemoEmbedder(inner, passage_pieces=True)
    vectors = memo.embed(["p q", "r"], role="passage")
    assert inner.calls[0] == ("both:passage", 2)  # one pass: vectors and pieces
    np.testing.assert_array_equal(vectors, inner.embed(["p q", "r"], role="passage"))
    inner.calls.clear()
    pieces = memo.token_vectors(["r", "p q"], role="passage")  # type: ignore[attr-defined]
    assert inner.calls == []  # word recall's candidates come from memory
    np.testing.assert_array_equal(pieces[1], inner.embed(["p", "q"], role="passage"))
    inner.calls.clear()
    memo.embed(["a b"], role="query")  # queries take their own path (embed_with_tokens, in tracing)
    assert inner.calls == [("query", 1)]
    plain = MemoEmbedder(TokenHashEmbedder())  # the default: an index-only memo (int8 passages)
    plain.embed(["p q"], role="passage")
    assert plain.inner.calls == [("passage", 1)]  # type: ignore[attr-defined]
    assert remembering(plain, passage_pieces=True) is plain


def test_a_memo_over_a_split_embedder_keeps_the_passage_sides_vectors() -> None:
    """`trace eval` indexes through int8 (or torch) and traces through another export: a memo
    that asks for vectors and word pieces at once still stores the passage side's vectors."""
    from tracer.model._onnx import SplitEmbedder

    query, passage = TokenHashEmbedder(dim=64), TokenHashEmbedder(dim=64)
    passage.embed = lambda texts, *, role, show_progress=False: -HashEmbedder.embed(passage, texts, role=role)  # type: ignore[method-assign]
    memo = MemoEmbedder(SplitEmbedder(query, passage), passage_pieces=True)  # type: ignore[arg-type]
    vectors = memo.embed(["p q", "r"], role="passage")
    np.testing.assert_array_equal(vectors, passage.embed(["p q", "r"], role="passage"))
    pieces = memo.token_vectors(["p q"], role="passage")  # type: ignore[attr-defined]
    np.testing.assert_array_equal(pieces[0], query.embed(["p", "q"], role="passage"))  # word recall: the query side
    np.testing.assert_array_equal(memo.embed(["a"], role="query"), query.embed(["a"], role="query"))
