"""The report: a stable JSON document (schema_version "1", see ``report.schema.json``)
and a human-readable terminal view of the same data."""

from __future__ import annotations

import json
import shutil
import textwrap
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from ._flags import Flag

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


@dataclass(frozen=True)
class Attribution:
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
    attribution: Attribution | None = None
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
    earliest: bool = False
    """True when, for at least one of its sentences, no other indexed article carrying the claim is older."""


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
    if not published:
        return datetime.max.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(published)
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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
            earliest=m.url in firsts,
        )
        for m, idx in ordered
    ]


def render_text(report: Report, width: int | None = None) -> str:
    """A terminal view: each Indonesian sentence, its verdict, and the original it came from."""
    width = width or min(shutil.get_terminal_size((100, 24)).columns, 120)
    out: list[str] = []
    traced = sum(1 for s in report.sentences if s.status == "traced")
    out.append(f"{report.article.get('name')}: {traced} of {len(report.sentences)} sentences traced "
               f"(model {report.model.get('name')}, threshold {report.decision.get('threshold'):.2f})")  # fmt: skip
    out.extend(f"warning: {w}" for w in report.warnings)
    out.append("")
    for s in report.sentences:
        verdict = "TRACED" if s.status == "traced" else "NO SOURCE"
        best = s.matches[0] if s.matches else None
        score = f" {best.score:.2f}" if best else ""
        out.extend(textwrap.wrap(f"[{s.index}] {verdict}{score}  {s.text}", width, subsequent_indent="    "))
        if best and s.status == "traced":
            where = " · ".join(x for x in (best.lang, best.outlet, best.published or "undated") if x)
            out.extend(
                textwrap.wrap(f"<- {where}: {best.text}", width, initial_indent="    ", subsequent_indent="       ")
            )
            out.append(f"       {best.url}")
            for c in s.also_in:
                out.extend(textwrap.wrap(f"also in {c.outlet} ({c.published or 'undated'}) {c.url}", width,
                                         initial_indent="    ", subsequent_indent="       "))  # fmt: skip
        elif best:
            out.extend(textwrap.wrap(f"nearest ({best.outlet}, {best.score:.2f}): {best.text}", width,
                                     initial_indent="    ", subsequent_indent="       "))  # fmt: skip
        if s.attribution is not None:
            a = s.attribution
            mark = {True: "ok", False: "MISMATCH", None: "?"}[a.agrees]
            out.extend(textwrap.wrap(f"credit [{mark}]: {a.note}", width, initial_indent="    ",
                                     subsequent_indent="       "))  # fmt: skip
        for f in s.flags:
            out.extend(textwrap.wrap(f"! {f.kind}: {f.note}", width, initial_indent="    ", subsequent_indent="       "))
        out.append("")
    if report.sources:
        out.append("Sources, most used first:")
        for src in report.sources:
            sents = ", ".join(str(i) for i in src.sentences)
            first = ", earliest" if src.earliest else ""
            out.append(f"  {src.outlet} ({src.lang}, {src.published or 'undated'}{first}) {src.url}  sentences {sents}")
    else:
        out.append("No source found for any sentence.")
    return "\n".join(out) + "\n"
