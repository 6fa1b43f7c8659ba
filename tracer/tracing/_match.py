"""Search: nearest source units for every article sentence in one batched query, grouped so
that a sentence and the windows that contain it count as one candidate."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from tracer._types import SourceUnit
from tracer.judgments._agreement import name_agreement, query_names


class ReferenceIndex(Protocol):
    """What tracing needs from an index; ``index.IndexStore`` provides it, tests may fake it."""

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def units(self, ids: Iterable[int]) -> dict[int, SourceUnit]: ...

    def unit_vectors(self, ids: Sequence[int]) -> np.ndarray: ...


@dataclass(frozen=True)
class Candidate:
    """A distinct source passage for one article sentence, with the evidence the judge scores."""

    unit: SourceUnit
    cosine: float
    margin: float
    """Cosine minus the mean cosine of the next candidates that make other claims: how much this
    one stands out from them."""
    carriers: int = 0
    """Candidates of other documents that are near-copies of this one (the same wire sentence at
    several outlets, or its translation): they carry the same claim, so they are no rivals."""
    names: float = 0.0
    """Share of the article sentence's names that this passage contains too (``_agreement``)."""
    recall: float | None = None
    """How much of the sentence's wording has a counterpart in this passage (``_align``); None
    when not compared (the judge counts it as 0)."""
    quantities: int = 0
    """How many of the article sentence's quantities (numbers, not dates or times) this passage
    states too (``_agreement``), counted for the best few candidates, the only ones the judge
    may put first for stating the sentence's figures (``_trace.with_figures``)."""
    credited: bool = False
    """The article sentence credits this passage's outlet inline ("..., seperti dilansir TASS."):
    the newsroom's own pointer to where it read the claim."""


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


CARRIER_SIMILARITY = 0.85
"""Cosine between two candidates' own vectors from which one is a near-copy of the other (set
by reading the real cases' runners-up: those carrying the best candidate's claim often reach
it, the others seldom)."""


def with_margins(
    hits: Sequence[tuple[SourceUnit, float]], k: int, vectors: np.ndarray | None = None
) -> list[Candidate]:
    """Ratio-free margin as in bitext mining's neighbourhood normalization, per candidate, over
    claims rather than strings.

    The neighbourhood of candidate j is the ``k`` best other candidates that are not j's
    carriers: not the same text, and (given the candidates' own ``vectors``, row for row) not a
    near-copy of j. Several outlets carrying one wire sentence must not cancel each other.
    """
    texts = [_norm_text(u.text) for u, _ in hits]
    sims = vectors @ vectors.T if vectors is not None and len(hits) else None
    out = []
    for j, (unit, cos) in enumerate(hits):
        copies = {i for i in range(len(hits)) if i != j and
                  (texts[i] == texts[j] or (sims is not None and sims[i, j] >= CARRIER_SIMILARITY))}  # fmt: skip
        others = [c for i, (_, c) in enumerate(hits) if i != j and i not in copies][:k]
        baseline = float(np.mean(others)) if others else 0.0
        carriers = len({hits[i][0].doc_id for i in copies} - {unit.doc_id})
        out.append(Candidate(unit=unit, cosine=float(cos), margin=float(cos) - baseline, carriers=carriers))
    return out


def find_candidates(
    index: ReferenceIndex,
    vectors: np.ndarray,
    *,
    k: int,
    margin_k: int,
    keep: Callable[[SourceUnit], bool] | None = None,
    texts: Sequence[str] | None = None,
) -> list[list[Candidate]]:
    """For each query vector, its distinct candidates best first (one faiss search for all).
    ``keep`` drops units before margins are computed (``--before``: sources published later);
    ``texts``, the article sentences, give each candidate its names agreement."""
    scores, ids = index.search(vectors, k)
    units = index.units(ids.ravel().tolist())
    if keep is not None:
        units = {i: u for i, u in units.items() if keep(u)}
    rows = [
        distinct([(units[int(i)], float(s)) for s, i in zip(row_scores, row_ids, strict=True) if int(i) in units])
        for row_scores, row_ids in zip(scores, ids, strict=True)
    ]
    # the candidates' own vectors, fetched once for the whole article (one read, not one per sentence)
    wanted = sorted({u.id for hits in rows for u, _ in hits})
    stored = dict(zip(wanted, index.unit_vectors(wanted), strict=True)) if wanted else {}
    result = []
    for n, hits in enumerate(rows):
        own = np.stack([stored[u.id] for u, _ in hits]) if hits else None
        cands = with_margins(hits, margin_k, own)
        if texts is not None:
            names = query_names(texts[n])
            cands = [replace(c, names=name_agreement(names, c.unit.text, c.unit.doc.lang)) for c in cands]
        result.append(cands)
    return result
