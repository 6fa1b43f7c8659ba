"""Word-level recall between a sentence and its best candidates (``tracer.tracing._align``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from tracer._types import SourceDoc, SourceUnit
from tracer.model._embed import WordPieces
from tracer.tracing._align import embed_queries, rarity_weights, token_recall, with_recall
from tracer.tracing._match import Candidate

E = np.eye(4, dtype=np.float32)


def test_recall_is_the_mean_best_counterpart_of_the_sentence_pieces() -> None:
    assert token_recall(E[[0, 1]], E[[0, 1, 2]]) == 1.0  # every piece found: extra passage words cost nothing
    assert token_recall(E[[0, 1]], E[[0]]) == 0.5  # half the sentence has no counterpart
    half = np.array([[0.6, 0.8, 0, 0]], dtype=np.float32)
    assert abs(token_recall(E[[0, 3]], half) - 0.3) < 1e-6  # soft: a partial counterpart counts partly
    assert token_recall(E[:0], E) == 0.0 and token_recall(E, E[:0]) == 0.0


def _candidate(text: str, uid: int, cosine: float) -> Candidate:
    doc = SourceDoc(f"https://example.org/{uid}", "Example", "en", "", None)
    return Candidate(SourceUnit(id=uid, doc_id=uid, doc=doc, first=0, last=0, start=0, end=len(text), text=text),
                     cosine=cosine, margin=0.0)  # fmt: skip


class Pieces:
    """Word pieces as one-hot vectors of known words: recall is the share of a sentence's words in a passage."""

    words = ("plane", "crashed", "amur", "shoigu")

    def __init__(self) -> None:
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    def token_vectors(self, texts: Sequence[str], *, role: str) -> list[np.ndarray]:
        self.asked.append((role, tuple(texts)))
        return [E[[self.words.index(w) for w in t.lower().split() if w in self.words]] for t in texts]

    def query_pieces(self, texts: Sequence[str]) -> list[WordPieces]:
        found = [tuple(w for w in t.lower().split() if w in self.words) for t in texts]
        return [WordPieces(v, p) for v, p in zip(self.token_vectors(texts, role="query"), found, strict=True)]


def test_only_the_best_few_candidates_are_compared_each_passage_once() -> None:
    embedder = Pieces()
    first = [_candidate("plane crashed", 1, 0.9), _candidate("plane", 2, 0.88), _candidate("amur", 3, 0.87),
             _candidate("plane crashed amur", 5, 0.7)]  # fmt: skip
    second = [_candidate("plane", 2, 0.9), _candidate("shoigu", 4, 0.8)]
    pieces = embedder.query_pieces(["plane crashed amur", "plane shoigu"])
    out = with_recall([first, second], pieces, embedder, top=2, within=0.05, articles=[1, 1])
    # the third is past the top 2; the fourth, further than 0.05 below the best, too
    assert [c.recall and round(c.recall, 3) for c in out[0]] == [0.667, 0.333, None, None]
    assert [c.recall for c in out[1]] == [0.5, None]  # "shoigu" is 0.1 below the best
    assert embedder.asked[1:] == [("passage", ("plane", "plane crashed"))]


def test_without_word_pieces_candidates_stay_as_they_were(hash_embedder) -> None:
    cands = [[_candidate("plane crashed", 1, 0.9)]]
    assert with_recall(cands, None, Pieces()) == cands
    pieces = [WordPieces(E[[0]], ("plane",))]
    assert with_recall(cands, pieces, hash_embedder) == cands  # the embedder cannot compare passages


def test_queries_get_their_word_pieces_from_the_same_pass(hash_embedder) -> None:
    class Both(Pieces):
        def embed_with_tokens(self, texts: Sequence[str], *, role: str) -> tuple[np.ndarray, list[WordPieces]]:
            return np.ones((len(texts), 4), np.float32), self.query_pieces(texts)

    vectors, pieces = embed_queries(Both(), ["plane", "amur"])
    assert vectors.shape == (2, 4) and [p.vectors.tolist() for p in pieces] == [[[1, 0, 0, 0]], [[0, 0, 1, 0]]]
    vectors, pieces = embed_queries(hash_embedder, ["plane", "amur"])
    assert vectors.shape == (2, 64) and pieces is None


def test_the_credited_outlets_candidate_is_compared_however_far_below() -> None:
    embedder = Pieces()
    credited = replace(_candidate("plane crashed amur", 5, 0.7), credited=True)
    cands = [_candidate("plane crashed", 1, 0.9), credited, _candidate("amur", 3, 0.69)]
    out = with_recall([cands], embedder.query_pieces(["plane crashed amur"]), embedder, top=2, within=0.05)
    assert [c.recall and round(c.recall, 3) for c in out[0]] == [0.667, 1.0, None]  # the third: past the top 2


def test_a_piece_weighs_less_the_more_sentences_of_the_article_have_it() -> None:
    shared, own = rarity_weights([("\u2581Shoigu", "\u2581dipecat"), ("\u2581shoigu", "\u258168")])[0]
    assert own > shared > 0  # word-start marks and case do not make another piece
    alone = rarity_weights([("\u2581a", "\u2581b", "\u2581a")])[0]
    assert len(set(alone.tolist())) == 1  # a one-sentence article: plain recall
    assert abs(token_recall(E[[0, 1]], E[[1]], np.array([1.0, 3.0])) - 0.75) < 1e-6


def test_recall_counts_what_the_sentence_says_that_the_rest_of_the_article_does_not() -> None:
    # both sentences are about the plane; the first alone says it crashed
    embedder = Pieces()
    shared, telling = _candidate("plane", 1, 0.9), _candidate("crashed", 2, 0.89)
    pieces = embedder.query_pieces(["plane crashed", "plane amur"])
    out = with_recall([[shared, telling], [shared]], pieces, embedder, top=2, within=0.05)
    assert out[0][1].recall > 0.75 > 0.25 > out[0][0].recall
    # read as two articles of one sentence each, every piece counts the same
    out = with_recall([[shared, telling], [shared]], pieces, embedder, top=2, within=0.05, articles=[1, 1])
    assert [c.recall for c in out[0]] == [0.5, 0.5]
