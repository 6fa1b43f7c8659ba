"""Passages' word pieces kept between articles.

Word recall (``tracing._align``) runs the encoder once more over each article's few best
candidates. A passage's word pieces depend only on the model and the passage's text, and a
newsroom traces many articles on the same story against the same originals: the second article
that borrows from a Reuters report finds its sentences' pieces already computed. The cache is
bounded in bytes (least recently used go first) and returns exactly what the encoder would, so
no verdict depends on it (``tests/test_pieces.py``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from tracer.model._embed import ModelInfo, Role, TokenEmbedder, WordPieces

PIECE_CACHE_MB = 64
"""Default bound: ~1,000 passages of ~40 word pieces at dimension 384 (float32)."""


class PieceCache:
    """A ``TokenEmbedder`` whose passage word pieces are remembered, up to ``max_bytes``.
    Safe to share between threads; everything else goes straight to ``inner``."""

    def __init__(self, inner: TokenEmbedder, max_bytes: int = PIECE_CACHE_MB * 2**20) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes: {max_bytes} is negative")
        self._inner = inner
        self._max = max_bytes
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def info(self) -> ModelInfo:
        return self._inner.info

    @property
    def precision(self) -> str:
        return self._inner.precision  # type: ignore[no-any-return]

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def embed(self, texts: Sequence[str], *, role: Role, show_progress: bool = False) -> np.ndarray:
        return self._inner.embed(texts, role=role, show_progress=show_progress)

    def embed_with_tokens(self, texts: Sequence[str], *, role: Role) -> tuple[np.ndarray, list[WordPieces]]:
        return self._inner.embed_with_tokens(texts, role=role)

    def token_vectors(self, texts: Sequence[str], *, role: Role) -> list[np.ndarray]:
        if role != "passage" or self._max == 0:  # article sentences are new every time
            return self._inner.token_vectors(texts, role=role)
        with self._lock:
            found = {t: self._items[t] for t in dict.fromkeys(texts) if t in self._items}
            for t in found:
                self._items.move_to_end(t)
            self.hits += len(found)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            computed = dict(zip(missing, self._inner.token_vectors(missing, role=role), strict=True))
            self._keep(computed)
            found.update(computed)
        return [found[t] for t in texts]

    def _keep(self, computed: dict[str, np.ndarray]) -> None:
        with self._lock:
            self.misses += len(computed)
            for text, pieces in computed.items():
                if text in self._items or _size(text, pieces) > self._max:
                    continue
                pieces.setflags(write=False)  # shared between callers: nobody may change it
                self._items[text] = pieces
                self._bytes += _size(text, pieces)
            while self._bytes > self._max:
                self._bytes -= _size(*self._items.popitem(last=False))


def _size(text: str, pieces: np.ndarray) -> int:
    return pieces.nbytes + len(text)
