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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._embed import Embedder
from ._errors import InputError
from ._evaluate import Accept, Outcome, Query, word_overlap
from ._match import find_candidates
from ._trace import SEARCH_K, article_sentences, query_texts

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

    @property
    def sources(self) -> Path:
        return self.path / SOURCES_FILE


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
            queries = tuple(
                GoldQuery(str(q.get("line", "")), q["ind"], q.get("lang") if q.get("url") or q.get("accept") else None,
                          _accepts(q))  # fmt: skip
                for q in entry["queries"]
            )
            articles.append(CaseArticle(str(entry["article"]), text, queries))
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

    with IndexStore.create(workdir, manifest_for(passage_embedder)) as store:
        with store.write_lock():
            add_documents(store, read_jsonl(case.sources), passage_embedder, batch_docs=256)
        outcomes = []
        for a, article in enumerate(case.articles):
            sentences = [s.text for s in article_sentences(article.text, article.name)]
            vectors = query_embedder.embed(query_texts(sentences), role="query")
            per_sentence = find_candidates(store, vectors, k=search_k, margin_k=margin_k)
            for text, cands, labels in zip(sentences, per_sentence, _labels(sentences, article.queries), strict=True):
                sourced = [q for q in labels if q.accept]
                gold = tuple(acc for q in sourced for acc in q.accept) or None
                lang = sourced[0].lang if sourced else None
                query = Query(number * CASE_STRIDE + a, text, case.name, (), lang, case.name, "real")
                outcomes.append(Outcome(query, cands, gold, labelled=bool(labels)))
        return outcomes
