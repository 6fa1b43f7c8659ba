"""The tracing pipeline: segment -> embed -> search -> judge -> report."""

from __future__ import annotations

from dataclasses import dataclass

from ._credits import without_credit
from ._embed import Embedder
from ._errors import InputError
from ._judge import DecisionRule, Scored
from ._match import ReferenceIndex, find_candidates
from ._report import Match, Report, SentenceResult, summarize_sources
from ._segment import Sentence, segment

SEARCH_K = 24
"""faiss neighbours fetched per sentence: enough distinct candidates for the margin after folding windows."""


@dataclass(frozen=True)
class TraceOptions:
    top_k: int = 3
    search_k: int = SEARCH_K


def to_match(scored: Scored) -> Match:
    c = scored.candidate
    u = c.unit
    return Match(
        score=round(scored.confidence, 4),
        cosine=round(c.cosine, 4),
        margin=round(c.margin, 4),
        text=u.text,
        lang=u.doc.lang,
        outlet=u.doc.outlet,
        url=u.doc.url,
        title=u.doc.title,
        published=u.doc.published,
        source_sentences=list(range(u.first, u.last + 1)),
        start=u.start,
        end=u.end,
    )


def verdict(scored: list[Scored], rule: DecisionRule, top_k: int) -> tuple[str, list[Match]]:
    status = "traced" if scored and rule.traced(scored[0]) else "no_source"
    return status, [to_match(s) for s in scored[:top_k]]


def query_texts(sentences: list[str]) -> list[str]:
    """What is embedded for each article sentence: the sentence without the newsroom's credit
    ("..., seperti dilansir Reuters."), which the original never contains."""
    return [without_credit(s) for s in sentences]


def article_sentences(text: str, name: str) -> list[Sentence]:
    """The article's sentences; checked before any model or index is loaded, so bad input fails fast."""
    sentences = segment(text, "id")
    if not sentences:
        raise InputError(f"{name}: no sentences found (only datelines, boilerplate or symbols)")
    return sentences


def trace_text(
    text: str,
    *,
    name: str,
    embedder: Embedder,
    index: ReferenceIndex,
    rule: DecisionRule,
    index_info: dict[str, object],
    options: TraceOptions = TraceOptions(),
    warnings: list[str] | None = None,
    tracer_version: str = "",
    sentences: list[Sentence] | None = None,
) -> Report:
    """Trace ``text`` (already segmented into ``sentences`` if the caller checked it early)."""
    sentences = sentences if sentences is not None else article_sentences(text, name)
    vectors = embedder.embed(query_texts([s.text for s in sentences]), role="query")
    per_sentence = find_candidates(index, vectors, k=options.search_k, margin_k=rule.margin_k)
    results = []
    for i, (sentence, scored) in enumerate(zip(sentences, rule.score_article(per_sentence), strict=True)):
        status, matches = verdict(scored, rule, options.top_k)
        results.append(SentenceResult(i, sentence.text, sentence.start, sentence.end, status, matches))
    return Report(
        model=embedder.info.to_dict(),
        index=index_info,
        decision=rule.describe(),
        article={"name": name, "chars": len(text), "sentences": len(sentences)},
        sentences=results,
        sources=summarize_sources(results),
        warnings=list(warnings or []),
        tracer_version=tracer_version,
    )
