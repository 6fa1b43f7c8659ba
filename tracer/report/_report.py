"""The report: a stable JSON document (schema_version "1", see ``report.schema.json``).
Human-readable views of it live in ``_views``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from tracer._dates import parse_instant
from tracer.judgments._flags import Flag

SCHEMA_VERSION = "1"


@dataclass(frozen=True)
class Match:
    score: float
    """Calibrated confidence (0-1) that this passage is the sentence's original."""
    cosine: float
    margin: float
    text: str
    lang: str
    outlet: str
    url: str
    title: str
    published: str | None
    source_sentences: list[int]
    """Positions (0-based) of the original sentences this passage covers: two for a merged sentence."""
    start: int
    end: int
    recall: float | None = None
    """Share of the sentence's wording with a counterpart in this passage (0-1, word pieces of
    the multilingual encoder, each weighted by how rare it is among the article's sentences);
    None when the passage was not compared word by word."""


@dataclass(frozen=True)
class CreditCheck:
    """The credit a sentence gives, checked against where the claim was found."""

    stated: str
    """The outlet or person named in the credit, as written."""
    stated_outlet: str | None
    """The outlet that name resolves to (alias table, index outlets, fuzzy), or None."""
    matched_outlet: str | None
    """The outlet of the traced original, or None when the sentence is not traced."""
    agrees: bool | None
    """Whether the credited outlet carries the claim; None when that cannot be told."""
    note: str


@dataclass(frozen=True)
class Carrier:
    """Another indexed article carrying the same claim as the traced original."""

    url: str
    outlet: str
    lang: str
    title: str
    published: str | None
    text: str
    score: float


@dataclass(frozen=True)
class SentenceResult:
    index: int
    text: str
    start: int
    end: int
    status: str
    matches: list[Match]
    attribution: CreditCheck | None = None
    flags: list[Flag] = field(default_factory=list)
    also_in: list[Carrier] = field(default_factory=list)
    """For a traced sentence, other indexed articles with the same claim, oldest first."""


@dataclass(frozen=True)
class SourceSummary:
    url: str
    outlet: str
    lang: str
    title: str
    published: str | None
    sentences: list[int]
    earliest: bool | None = False
    """True when, for at least one of its sentences, no other indexed article carrying the claim is
    older; None when its own date is unknown (undated sources are left out of the comparison)."""


@dataclass
class Report:
    model: dict[str, object]
    index: dict[str, object]
    decision: dict[str, object]
    article: dict[str, object]
    sentences: list[SentenceResult]
    sources: list[SourceSummary]
    warnings: list[str] = field(default_factory=list)
    tracer_version: str = ""
    schema_version: str = SCHEMA_VERSION

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        # schema_version first: consumers peek at it before anything else.
        return {"schema_version": d.pop("schema_version"), **d}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"


def published_instant(published: str | None) -> datetime:
    """Sort key for publication dates; undated sorts last."""
    return parse_instant(published) or datetime.max.replace(tzinfo=UTC)


def earliest_url(sentence: SentenceResult) -> str | None:
    """The oldest indexed article carrying a traced sentence's claim (the original or an also_in)."""
    if sentence.status != "traced" or not sentence.matches:
        return None
    best = sentence.matches[0]
    carriers = [(best.published, best.url), *((c.published, c.url) for c in sentence.also_in)]
    dated = [c for c in carriers if c[0]]
    if not dated:
        return None
    return min(dated, key=lambda c: published_instant(c[0]))[1]


def summarize_sources(sentences: list[SentenceResult]) -> list[SourceSummary]:
    """Source articles the traced sentences come from, most used first (ties: earliest sentence)."""
    by_url: dict[str, tuple[Match, list[int]]] = {}
    firsts: set[str] = set()
    for s in sentences:
        if s.status == "traced":
            best = s.matches[0]
            by_url.setdefault(best.url, (best, []))[1].append(s.index)
            first = earliest_url(s)
            if first:
                firsts.add(first)
    ordered = sorted(by_url.values(), key=lambda item: (-len(item[1]), item[1][0]))
    return [
        SourceSummary(
            url=m.url,
            outlet=m.outlet,
            lang=m.lang,
            title=m.title,
            published=m.published,
            sentences=idx,
            earliest=(m.url in firsts) if m.published else None,
        )
        for m, idx in ordered
    ]
