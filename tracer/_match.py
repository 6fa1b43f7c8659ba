"""Search: nearest source units for every article sentence in one batched query, grouped so
that a sentence and the windows that contain it count as one candidate."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ._types import SourceUnit


class ReferenceIndex(Protocol):
    """What tracing needs from an index; ``index.IndexStore`` provides it, tests may fake it."""

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def units(self, ids: Iterable[int]) -> dict[int, SourceUnit]: ...


@dataclass(frozen=True)
class Candidate:
    """A distinct source passage for one article sentence, with the evidence the judge scores."""

    unit: SourceUnit
    cosine: float
    margin: float
    """Cosine minus the mean cosine of the next distinct candidates: how much this one stands out."""


def _norm_text(text: str) -> str:
    return " ".join(text.lower().split())


WINDOW_DELTA = 0.02
PARTNER_DELTA = 0.03
"""How close (in cosine) a window, and its other sentence, must come to the best sentence for the
match to be reported as covering both originals. A heuristic set on the bundled example, not
calibrated: it only changes which original sentences a match reports, never a verdict's threshold."""


def distinct(hits: Sequence[tuple[SourceUnit, float]]) -> list[tuple[SourceUnit, float]]:
    """Best-first hits with overlapping units of one document folded into their best member.

    A sentence is widened to the window holding it when that window comes within
    ``WINDOW_DELTA`` of it and the window's other (lower-ranked) sentence within
    ``PARTNER_DELTA``: the article sentence then merges two adjacent originals, and the match
    reports both (its cosine stays the best member's).
    """
    kept: list[tuple[SourceUnit, float]] = []
    for unit, score in hits:
        if not any(unit.overlaps(k) for k, _ in kept):
            kept.append((unit, score))
    dropped: set[int] = set()
    for i, (unit, score) in enumerate(kept):
        if unit.id in dropped or unit.first != unit.last:
            continue
        for window, w_score in hits:
            if window.first == window.last or not window.overlaps(unit) or w_score < score - WINDOW_DELTA:
                continue
            partner = next(
                (j for j, (u, s) in enumerate(kept) if j > i and u.id not in dropped and window.overlaps(u)
                 and not u.overlaps(unit) and s >= score - PARTNER_DELTA and u.first == u.last),
                None,
            )  # fmt: skip
            if partner is not None:
                dropped.add(kept[partner][0].id)
                kept[i] = (window, score)
                break
    return [(u, s) for u, s in kept if u.id not in dropped]


def with_margins(hits: Sequence[tuple[SourceUnit, float]], k: int) -> list[Candidate]:
    """Ratio-free margin as in bitext mining's neighbourhood normalization, per candidate.

    The neighbourhood of candidate j is the ``k`` best other distinct candidates whose text is
    not the same as j's (the same wire sentence carried by two outlets must not cancel itself).
    """
    texts = [_norm_text(u.text) for u, _ in hits]
    out = []
    for j, (unit, cos) in enumerate(hits):
        others = [c for i, (_, c) in enumerate(hits) if i != j and texts[i] != texts[j]][:k]
        baseline = float(np.mean(others)) if others else 0.0
        out.append(Candidate(unit=unit, cosine=float(cos), margin=float(cos) - baseline))
    return out


def find_candidates(
    index: ReferenceIndex,
    vectors: np.ndarray,
    *,
    k: int,
    margin_k: int,
    keep: Callable[[SourceUnit], bool] | None = None,
) -> list[list[Candidate]]:
    """For each query vector, its distinct candidates best first (one faiss search for all).
    ``keep`` drops units before margins are computed (``--before``: sources published later)."""
    scores, ids = index.search(vectors, k)
    units = index.units(ids.ravel().tolist())
    if keep is not None:
        units = {i: u for i, u in units.items() if keep(u)}
    result = []
    for row_scores, row_ids in zip(scores, ids, strict=True):
        hits = [(units[int(i)], float(s)) for s, i in zip(row_scores, row_ids, strict=True) if int(i) in units]
        result.append(with_margins(distinct(hits), margin_k))
    return result
