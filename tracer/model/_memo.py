"""An embedder that encodes each text once per role.

Evaluations index the same pages and trace the same sentences again and again: NTREX's runs and
layouts compose the same sentences into other articles, and a real case's ablated variants are
its own pages with some left out. The encoder is nearly all of their time (2026-12-07: 57 s of
a 61 s NTREX protocol run), so remembering its answers makes the second run and every variant
cost little more than search.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tracer.model._embed import Embedder, ModelInfo, Role, WordPieces

MAX_TEXTS = 400_000
"""Sentence vectors remembered (both roles together) before the memory starts afresh (~600 MB
at 384 floats)."""
MAX_TOKEN_TEXTS = 20_000
"""Texts whose word-piece vectors each of the two word-piece memories keeps (~40 pieces x 384
floats a text: ~1.2 GB each at most)."""


class MemoEmbedder:
    """Wraps an ``Embedder`` (or a ``TokenEmbedder``: then it is one too) and encodes only the
    texts it has not met with the same role. Vectors are those the wrapped embedder gave the
    first time, so a text's vector no longer depends on the batch it came in."""

    def __init__(self, inner: Embedder, *, passage_pieces: bool = False) -> None:
        self.inner = inner
        self.passage_pieces = passage_pieces
        """Remember passages' word pieces from the pass that embeds them: for a memo that both
        indexes and traces, where tracing asks for the candidates' pieces (word recall)."""
        self._vectors: dict[tuple[Role, str], np.ndarray] = {}
        self._pieces: dict[tuple[Role, str], tuple[np.ndarray, WordPieces]] = {}
        self._tokens: dict[tuple[Role, str], np.ndarray] = {}

    @property
    def info(self) -> ModelInfo:
        return self.inner.info

    @property
    def precision(self) -> str:
        return self.inner.precision

    def __getattr__(self, name: str) -> Any:
        # The word-piece methods exist only when the wrapped embedder has them: tracing asks
        # ``getattr(embedder, "token_vectors", None)`` to know whether it can compute word recall.
        if name in ("embed_with_tokens", "token_vectors"):
            getattr(self.inner, name)  # AttributeError when the wrapped embedder has none
            return getattr(self, f"_{name}")
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _missing(self, texts: Sequence[str], role: Role, memory: dict[tuple[Role, str], Any], limit: int) -> list[str]:
        missing = list(dict.fromkeys(t for t in texts if (role, t) not in memory))
        if len(memory) + len(missing) > limit:
            memory.clear()
            missing = list(dict.fromkeys(texts))
        return missing

    def embed(self, texts: Sequence[str], *, role: Role, show_progress: bool = False) -> np.ndarray:
        missing = self._missing(texts, role, self._vectors, MAX_TEXTS)
        both = getattr(self.inner, "embed_with_tokens", None) if role == "passage" and self.passage_pieces else None
        if missing and both is not None and len(self._tokens) + len(missing) <= MAX_TOKEN_TEXTS:
            vectors, pieces = both(missing, role=role)
            self._vectors.update(((role, t), v) for t, v in zip(missing, vectors, strict=True))
            self._tokens.update(((role, t), p.vectors) for t, p in zip(missing, pieces, strict=True))
        elif missing:
            vectors = self.inner.embed(missing, role=role, show_progress=show_progress)
            self._vectors.update(((role, t), v) for t, v in zip(missing, vectors, strict=True))
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        return np.stack([self._vectors[(role, t)] for t in texts])

    def _embed_with_tokens(self, texts: Sequence[str], *, role: Role) -> tuple[np.ndarray, list[WordPieces]]:
        missing = self._missing(texts, role, self._pieces, MAX_TOKEN_TEXTS)
        if missing:
            both: Callable[..., tuple[np.ndarray, list[WordPieces]]] = self.inner.embed_with_tokens  # type: ignore[attr-defined]
            vectors, pieces = both(missing, role=role)
            self._pieces.update(((role, t), (v, p)) for t, v, p in zip(missing, vectors, pieces, strict=True))
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32), []
        known = [self._pieces[(role, t)] for t in texts]
        return np.stack([v for v, _ in known]), [p for _, p in known]

    def _token_vectors(self, texts: Sequence[str], *, role: Role) -> list[np.ndarray]:
        missing = self._missing(texts, role, self._tokens, MAX_TOKEN_TEXTS)
        if missing:
            tokens: Callable[..., list[np.ndarray]] = self.inner.token_vectors  # type: ignore[attr-defined]
            self._tokens.update(((role, t), v) for t, v in zip(missing, tokens(missing, role=role), strict=True))
        return [self._tokens[(role, t)] for t in texts]


def remembering(embedder: Embedder, *, passage_pieces: bool = False) -> Embedder:
    """``embedder`` wrapped in a ``MemoEmbedder`` (once: a wrapped one is returned as it is)."""
    if isinstance(embedder, MemoEmbedder):
        return embedder  # type: ignore[return-value]
    return MemoEmbedder(embedder, passage_pieces=passage_pieces)  # type: ignore[return-value]
