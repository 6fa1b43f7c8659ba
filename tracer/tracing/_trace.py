"""The tracing pipeline: segment -> embed -> search -> judge -> report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from tracer._errors import InputError
from tracer._types import SourceUnit
from tracer.judgments._agreement import digits, name_agreement, quantity_agreement, query_names, query_quantities
from tracer.judgments._attribution import check as check_attribution
from tracer.judgments._attribution import credited_outlets
from tracer.judgments._credits import without_credit
from tracer.judgments._flags import compare
from tracer.judgments._outlets import OutletTable
from tracer.model._embed import Embedder
from tracer.report._report import Carrier, Match, Report, SentenceResult, published_instant, summarize_sources
from tracer.tracing._align import ALIGN_TOP, embed_queries, with_recall
from tracer.tracing._judge import DecisionRule, Scored
from tracer.tracing._match import Candidate, ReferenceIndex, find_candidates
from tracer.tracing._segment import Sentence, segment

SEARCH_K = 24
"""faiss neighbours fetched per sentence: enough distinct candidates for the margin after folding windows."""


ALSO_IN_COSINE = 0.02
"""Another article carries the claim when its passage is this close to the original's cosine."""


@dataclass(frozen=True)
class TraceOptions:
    top_k: int = 3
    search_k: int = SEARCH_K
    before: str | None = None
    """ISO date or datetime: sources published later are ignored (the article's own date)."""
    known_outlets: tuple[str, ...] = ()
    """The index's outlets, for resolving credits."""
    outlets: OutletTable | None = None
    """Alias table for credits; None loads the shipped one."""


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
        recall=None if c.recall is None else round(c.recall, 4),
    )


TIE = 0.01
"""Confidence within which the same sentence at two outlets counts as a tie."""


def earliest_first(scored: list[Scored]) -> list[Scored]:
    """Among the best candidate and copies of its very text scoring as well (a wire sentence
    carried word for word), the earliest published comes first: it is where the claim came from."""
    if len(scored) < 2:
        return scored
    text = " ".join(scored[0].candidate.unit.text.split())
    tied = [s for s in scored if scored[0].confidence - s.confidence <= TIE
            and " ".join(s.candidate.unit.text.split()) == text]  # fmt: skip
    first = min(tied, key=lambda s: published_instant(s.candidate.unit.doc.published))
    return [first, *(s for s in scored if s is not first)]


def verdict(scored: list[Scored], rule: DecisionRule, top_k: int) -> tuple[str, list[Match]]:
    return rule.status(scored), [to_match(s) for s in scored[:top_k]]


def carriers(scored: list[Scored], rule: DecisionRule) -> list[Carrier]:
    """Other indexed articles carrying a traced claim: a passage of another document that the
    rule would trace too, or that is as close as the original. Oldest first."""
    best = scored[0]
    out: dict[str, Carrier] = {}
    for s in scored[1:]:
        doc = s.candidate.unit.doc
        if doc.url == best.candidate.unit.doc.url or doc.url in out:
            continue
        if rule.traced(s) or best.candidate.cosine - s.candidate.cosine <= ALSO_IN_COSINE:
            out[doc.url] = Carrier(doc.url, doc.outlet, doc.lang, doc.title, doc.published, s.candidate.unit.text,
                                   round(s.confidence, 4))  # fmt: skip
    return sorted(out.values(), key=lambda c: published_instant(c.published))


def covered(sentence: str, match: Match) -> str:
    """The part of a matched passage that the Indonesian sentence says: all of a single original,
    or, of a two-sentence window, the sentences that share most of its names and numbers (a
    quotation in the window's other sentence is no change in translation)."""
    if len(match.source_sentences) < 2:
        return match.text
    parts = [s.text for s in segment(match.text, match.lang)]
    if len(parts) < 2:
        return match.text
    names = query_names(sentence)
    numbers = digits(sentence)
    scores = [name_agreement(names, p, match.lang) + len(numbers & digits(p)) / max(1, len(numbers)) for p in parts]
    best = max(scores)
    return " ".join(p for p, s in zip(parts, scores, strict=True) if s == best) if best > 0 else match.text


def published_by(before: str) -> Callable[[SourceUnit], bool]:
    """Keep units of documents published no later than ``before`` (undated ones are kept)."""
    limit = published_instant(before if "T" in before else f"{before}T23:59:59+00:00")

    def keep(unit: SourceUnit) -> bool:
        return unit.doc.published is None or published_instant(unit.doc.published) <= limit

    return keep


def query_texts(sentences: list[str]) -> list[str]:
    """What is embedded for each article sentence: the sentence without the newsroom's credit
    ("..., seperti dilansir Reuters."), which the original never contains."""
    return [without_credit(s) for s in sentences]


def article_candidates(
    texts: list[str],
    embedder: Embedder,
    index: ReferenceIndex,
    *,
    k: int,
    margin_k: int,
    keep: Callable[[SourceUnit], bool] | None = None,
    outlets: OutletTable | None = None,
    articles: Sequence[int] | None = None,
) -> list[list[Candidate]]:
    """Every article sentence's candidates with their evidence: embed (credits left out, word
    pieces from the same pass), search, margins and names, the outlet the sentence credits
    (``outlets``: alias table, None for the shipped one), the figures they state, word recall. ``trace`` and the
    evaluations all search through this, so they measure what users get. ``texts`` is one
    article, or several in a row of ``articles`` sentences each."""
    queries = query_texts(texts)
    vectors, pieces = embed_queries(embedder, queries)
    per_sentence = find_candidates(index, vectors, k=k, margin_k=margin_k, keep=keep, texts=texts)
    per_sentence = with_credits(texts, per_sentence, outlets or OutletTable.load())
    per_sentence = with_figures(texts, per_sentence)
    return with_recall(per_sentence, pieces, embedder, articles=articles)


def with_figures(texts: list[str], per_sentence: list[list[Candidate]]) -> list[list[Candidate]]:
    """How many of each sentence's quantities its best ``ALIGN_TOP`` candidates state: the only
    ones the judge may put first for it (figures-first); the rest are not read."""
    out = []
    for text, cands in zip(texts, per_sentence, strict=True):
        wanted = query_quantities(text)
        if wanted:
            stating = (replace(c, quantities=quantity_agreement(wanted, c.unit.text, c.unit.doc.lang))
                       for c in cands[:ALIGN_TOP])  # fmt: skip
            cands = [*stating, *cands[ALIGN_TOP:]]
        out.append(cands)
    return out


def with_credits(texts: list[str], per_sentence: list[list[Candidate]], table: OutletTable) -> list[list[Candidate]]:
    """Mark the candidates of the outlet each sentence credits (resolved among its candidates'
    outlets, so a garbled name finds the one it garbles), and of its syndicated copies ("NDTV
    (AFP)" for a credit to AFP)."""
    out = []
    speaks_for: dict[str, set[str]] = {}  # each candidate outlet resolved once per article
    for text, cands in zip(texts, per_sentence, strict=True):
        outlets = {c.unit.doc.outlet for c in cands}
        stated = set(credited_outlets(text, table, outlets))
        ours: set[str] = set()
        if stated:
            for o in outlets - speaks_for.keys():
                speaks_for[o] = table.speaks_for(o)
            # also an outlet that only resolves to it fuzzily ("foxnews" for the table's "Fox News")
            ours = {o for o in outlets if stated & speaks_for[o]}
        out.append([replace(c, credited=True) if c.unit.doc.outlet in ours else c for c in cands])
    return out


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
    texts = [s.text for s in sentences]
    keep = published_by(options.before) if options.before else None
    table = options.outlets or OutletTable.load()
    per_sentence = article_candidates(texts, embedder, index, k=options.search_k, margin_k=rule.margin_k, keep=keep,
                                      outlets=table)  # fmt: skip
    results = []
    for i, (sentence, ranked) in enumerate(zip(sentences, rule.score_article(per_sentence), strict=True)):
        scored = earliest_first(ranked)
        status, matches = verdict(scored, rule, options.top_k)
        found = status in ("traced", "possible")  # a possible source is checked as a traced one, and labelled
        also_in = carriers(scored, rule) if status == "traced" else []
        flags = compare(sentence.text, covered(sentence.text, matches[0]), matches[0].lang) if found else []
        attribution = check_attribution(sentence.text, found, scored, also_in, table, options.known_outlets)
        if attribution is not None and status == "possible":
            attribution = replace(attribution, note=f"{attribution.note} (checked against a possible source)")
        results.append(SentenceResult(i, sentence.text, sentence.start, sentence.end, status, matches,
                                      attribution, flags, also_in))  # fmt: skip
    return Report(
        model={**embedder.info.to_dict(), "precision": embedder.precision},
        index=index_info,
        decision=rule.describe(),
        article={"name": name, "chars": len(text), "sentences": len(sentences)},
        sentences=results,
        sources=summarize_sources(results),
        warnings=list(warnings or []),
        tracer_version=tracer_version,
    )
