"""Word-level evidence for the best few candidates: how much of the Indonesian sentence's
wording finds a counterpart in the candidate, across languages.

A sentence vector says what a sentence is about; a same-story page is about the same thing. A
compiled article's sentence says *what one original says*: nearly each of its words has a
close contextual counterpart in its original (the multilingual encoder's own word-piece
vectors), while a same-story sentence leaves several without one. ``recall`` is that share,
soft: the mean, over the sentence's word pieces, of the best cosine to any piece of the
candidate (BERTScore's recall, computed cross-lingually). Measured in the README ("Quality").

The mean is weighted as BERTScore weighs it, by inverse document frequency, with the article as
the corpus: a piece every sentence of the article has (the story's names, "yang", "dan") finds
a counterpart in any same-story passage and tells little; the pieces this sentence alone has
(its numbers, its verbs, its detail) are what its original must say.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from tracer.model._embed import Embedder, WordPieces
from tracer.tracing._match import Candidate

ALIGN_TOP = 4
ALIGN_WITHIN = 0.05
"""Candidates per sentence (best cosine first), and how far below the best cosine, that get a
word-level comparison (and, among the ``ALIGN_TOP``, the credited outlet's whatever its cosine);
the rest have no recall (the judge counts 0), so only these few can be traced. Each costs one
more pass of the encoder over a short passage (shared between sentences that share it): on the
real cases and NTREX, comparing the best 6 whatever their cosine traced one ablated line more
than these (README, "Quality", `benchmarks/decision_rules.py`)."""


def token_recall(sentence: np.ndarray, passage: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Mean over the sentence's (unit) word-piece vectors of their best cosine in ``passage``,
    weighted by ``weights`` (one per piece) when given."""
    if not len(sentence) or not len(passage):
        return 0.0
    best = (sentence @ passage.T).max(axis=1)
    return float(np.average(best, weights=weights))


def _piece_key(piece: str) -> str:
    # the word-start marks of SentencePiece and WordPiece's continuation mark are not the word
    return piece.removeprefix("\u2581").removeprefix("##").casefold()


def rarity_weights(article: Sequence[Sequence[str]]) -> list[np.ndarray]:
    """For each sentence of one article, its pieces' inverse document frequency over the
    article's sentences, ln((n + 1) / (df + 0.5)): always positive, and equal for all pieces of
    a one-sentence article (plain recall)."""
    keys = [[_piece_key(p) for p in sentence] for sentence in article]
    df = Counter(k for sentence in keys for k in set(sentence))
    n = len(keys)
    return [np.array([math.log((n + 1) / (df[k] + 0.5)) for k in sentence], np.float32) for sentence in keys]


def compared(cands: Sequence[Candidate], top: int, within: float) -> list[bool]:
    """Which of a sentence's candidates (best cosine first) get a word-level comparison: the
    ``top`` best within ``within`` of the best cosine, or of the outlet the sentence credits."""
    return [r < top and (c.credited or cands[0].cosine - c.cosine <= within) for r, c in enumerate(cands)]


def embed_queries(embedder: Embedder, queries: Sequence[str]) -> tuple[np.ndarray, list[WordPieces] | None]:
    """The article sentences' vectors and, when the embedder can give them (a ``TokenEmbedder``),
    their word pieces, from one pass of the encoder."""
    both = getattr(embedder, "embed_with_tokens", None)
    if both is None:
        return embedder.embed(queries, role="query"), None
    return both(queries, role="query")  # type: ignore[no-any-return]


def with_recall(
    per_sentence: Sequence[Sequence[Candidate]],
    query_pieces: Sequence[WordPieces] | None,
    embedder: Embedder,
    top: int | None = None,
    within: float | None = None,
    articles: Sequence[int] | None = None,
) -> list[list[Candidate]]:
    """The candidates with their ``recall`` filled in for the best few of each sentence (the
    ``top`` best within ``within`` of the best cosine); unchanged without the sentences' word
    pieces (``embed_queries``) or an embedder that gives a passage's (a ``TokenEmbedder``).
    ``articles``: how many of the sentences, in order, each article has (evaluations trace
    many at once; None: they are one article), for the pieces' rarity."""
    tokens = getattr(embedder, "token_vectors", None)
    if tokens is None or query_pieces is None:
        return [list(c) for c in per_sentence]
    top, within = ALIGN_TOP if top is None else top, ALIGN_WITHIN if within is None else within
    chosen = [compared(cands, top, within) for cands in per_sentence]
    passages = sorted({c.unit.text for cands, keep in zip(per_sentence, chosen, strict=True)
                       for c, k in zip(cands, keep, strict=True) if k})  # fmt: skip
    if not passages:
        return [list(c) for c in per_sentence]
    theirs = dict(zip(passages, tokens(passages, role="passage"), strict=True))
    weights: list[np.ndarray] = []
    start = 0
    for size in [len(query_pieces)] if articles is None else articles:
        weights += rarity_weights([q.pieces for q in query_pieces[start : start + size]])
        start += size
    return [
        [replace(c, recall=token_recall(q.vectors, theirs[c.unit.text], w)) if k else c
         for c, k in zip(cands, keep, strict=True)]
        for q, w, cands, keep in zip(query_pieces, weights, per_sentence, chosen, strict=True)
    ]  # fmt: skip
