"""Real compiled articles as evaluation cases: a folder with ``sources.jsonl`` (the pages, in
``trace index add`` format), the Indonesian article(s) and ``gold.json`` listing, per sentence,
every page and sentence that carries its claim (the format of ../shared/data/realcases).

Each case is indexed on its own and its articles are traced through the same path as
``trace``; a gold sentence is matched to the traced sentence that covers most of its words,
and a traced match counts as right when its page is accepted and its text overlaps an accepted
sentence, exactly as ../shared/tools/score_case.py scores reports.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tracer._errors import InputError
from tracer.evaluation._evaluate import Accept, Outcome, Query, word_overlap
from tracer.model._embed import Embedder
from tracer.model._memo import remembering
from tracer.tracing._trace import SEARCH_K, article_candidates, article_sentences

GOLD_FILE = "gold.json"
SOURCES_FILE = "sources.jsonl"
CASE_STRIDE = 1_000
"""Offset between the article numbers of cases, so no two cases are read as one article."""


@dataclass(frozen=True)
class GoldQuery:
    line: str
    text: str
    lang: str | None
    accept: tuple[Accept, ...]
    """Every page (with its sentences) that carries the claim; empty when none in the case does."""


@dataclass(frozen=True)
class CaseArticle:
    name: str
    text: str
    queries: tuple[GoldQuery, ...]


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    articles: tuple[CaseArticle, ...]
    removed: frozenset[str] = frozenset()
    """Pages of ``sources.jsonl`` left out of the index (an ablated variant)."""

    @property
    def sources(self) -> Path:
        return self.path / SOURCES_FILE

    def urls(self) -> list[str]:
        """The case's page URLs in file order (read without validating the pages)."""
        with self.sources.open(encoding="utf-8") as fh:
            return [json.loads(line)["url"] for line in fh if line.strip()]


ABLATE_SHARE = 0.35


def ablated(case: Case, seed: int, share: float = ABLATE_SHARE) -> Case:
    """The case with every page removed that carries some chosen lines, so those lines have no
    source while same-story pages stay: the algorithm of ../shared/tools/ablate_case.py (same
    seed, same pages removed), done in memory."""
    queries = [q for a in case.articles for q in a.queries]
    sourced = [q for q in queries if q.accept]
    removed: set[str] = set()

    def left(gone: set[str]) -> list[GoldQuery]:
        return [q for q in sourced if any(g.url not in gone for g in q.accept)]

    order = list(range(len(sourced)))
    random.Random(seed).shuffle(order)
    for i in order:
        trial = removed | {g.url for g in sourced[i].accept}
        if len(sourced) - len(left(trial)) <= round(share * len(sourced)) and len(left(trial)) >= len(sourced) / 2:
            removed = trial
    articles = []
    for a in case.articles:
        kept = []
        for q in a.queries:
            accept = tuple(g for g in q.accept if g.url not in removed)
            kept.append(replace(q, accept=accept, lang=q.lang if accept else None))
        articles.append(replace(a, queries=tuple(kept)))
    return Case(f"{case.name}-s{seed}", case.path, tuple(articles), frozenset(removed))


def is_case(path: Path) -> bool:
    return (path / GOLD_FILE).is_file() and (path / SOURCES_FILE).is_file()


def find_cases(paths: Iterable[Path]) -> list[Path]:
    """Case folders among ``paths``: each is a case, or a folder whose subfolders are cases."""
    found: list[Path] = []
    for path in paths:
        if is_case(path):
            found.append(path)
            continue
        inner = sorted(p for p in path.iterdir() if p.is_dir() and is_case(p)) if path.is_dir() else []
        if not inner:
            raise InputError(f"{path}: not a case folder ({GOLD_FILE} and {SOURCES_FILE}) nor a folder of them")
        found += inner
    return found


def case_variants(paths: Iterable[Path], seeds: Iterable[int] = ()) -> list[Case]:
    """The cases among ``paths`` (see ``find_cases``), each followed by its ablated variants."""
    seeds = tuple(seeds)
    return [v for case in map(read_case, find_cases(paths)) for v in (case, *(ablated(case, s) for s in seeds))]


def _accepts(query: dict[str, object]) -> tuple[Accept, ...]:
    listed = query.get("accept") or (
        [{"url": query["url"], "sources": query.get("sources") or []}] if query.get("url") else []
    )
    return tuple(Accept(str(g["url"]), texts=tuple(str(t) for t in g["sources"])) for g in listed)  # type: ignore[index, attr-defined]


def read_case(path: Path) -> Case:
    gold_path = path / GOLD_FILE
    try:
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
        articles = []
        for entry in gold:
            text = (path / entry["article"]).read_text(encoding="utf-8")
            queries = []
            for q in entry["queries"]:
                accept = _accepts(q)
                queries.append(GoldQuery(str(q.get("line", "")), q["ind"], q.get("lang") if accept else None, accept))
            articles.append(CaseArticle(str(entry["article"]), text, tuple(queries)))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{gold_path}: not a readable case ({exc})") from exc
    return Case(path.name, path, tuple(articles))


def _labels(sentences: Sequence[str], queries: Sequence[GoldQuery]) -> list[list[GoldQuery]]:
    """The gold queries each traced sentence answers for (score_case.py's matching)."""
    labels: list[list[GoldQuery]] = [[] for _ in sentences]
    for q in queries:
        best = max(range(len(sentences)), key=lambda i: word_overlap(q.text, sentences[i]))
        labels[best].append(q)
    return labels


def run_case(
    case: Case,
    query_embedder: Embedder,
    passage_embedder: Embedder,
    workdir: Path,
    *,
    margin_k: int,
    search_k: int = SEARCH_K,
    number: int = 0,
) -> list[Outcome]:
    """Index the case's pages in ``workdir`` and trace its articles; one outcome per traced
    sentence (sentences without a gold query, such as sub-headings, are context only)."""
    from index import IndexStore, add_documents, manifest_for, read_jsonl

    documents = [d for d in read_jsonl(case.sources) if d.meta.url not in case.removed]
    with IndexStore.create(workdir, manifest_for(passage_embedder)) as store:
        with store.write_lock():
            add_documents(store, documents, passage_embedder, batch_docs=256)
        outcomes = []
        for a, article in enumerate(case.articles):
            sentences = [s.text for s in article_sentences(article.text, article.name)]
            per_sentence = article_candidates(sentences, query_embedder, store, k=search_k, margin_k=margin_k)
            for text, cands, labels in zip(sentences, per_sentence, _labels(sentences, article.queries), strict=True):
                sourced = [q for q in labels if q.accept]
                gold = tuple(acc for q in sourced for acc in q.accept) or None
                lang = sourced[0].lang if sourced else None
                query = Query(number * CASE_STRIDE + a, text, case.name, (), lang, case.path.name, "real")
                outcomes.append(Outcome(query, cands, gold, labelled=bool(labels)))
        return outcomes


def run_cases(
    cases: Sequence[Case], query_embedder: Embedder, passage_embedder: Embedder, workdir: Path, *, margin_k: int
) -> list[Outcome]:
    """``run_case`` for each case in a folder of its own under ``workdir``, numbered apart. Each
    text is encoded once: a case's ablated variants are its own pages and sentences."""
    shared = query_embedder is passage_embedder
    query_embedder = remembering(query_embedder, passage_pieces=shared)
    passage_embedder = query_embedder if shared else remembering(passage_embedder)
    outcomes: list[Outcome] = []
    for n, case in enumerate(cases):
        outcomes += run_case(case, query_embedder, passage_embedder, workdir / f"case-{n}", margin_k=margin_k,
                             number=n)  # fmt: skip
    return outcomes
