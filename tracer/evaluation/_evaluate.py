"""The evaluation protocol on parallel news data (NTREX format): each document is indexed in
exactly one source language or left out, Indonesian articles are composed from several
documents, and every sentence is traced through the same code path as ``trace``.

Documents are split deterministically into a calibration half and a test half; the
decision rule is fitted on the first and figures are reported on the second only.
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tracer._errors import InputError
from tracer._types import SourceDoc, SourceUnit
from tracer.model._embed import Embedder
from tracer.model._memo import remembering
from tracer.tracing._align import ALIGN_TOP
from tracer.tracing._judge import (
    ARTICLE_FEATURES,
    COHERENCE_FEATURES,
    RULE_VERSION,
    SENTENCE_FEATURES,
    DecisionRule,
    Logistic,
    Scored,
    sentence_features,
)
from tracer.tracing._match import Candidate, ReferenceIndex
from tracer.tracing._segment import segment
from tracer.tracing._trace import SEARCH_K, article_candidates, earliest_first

LANG_COLUMNS = {"en": "eng", "ru": "rus", "uk": "ukr", "id": "ind"}


@dataclass(frozen=True)
class ParallelDoc:
    doc_id: str
    segments: list[dict[str, str]]


def read_parallel_tsv(path: Path) -> list[ParallelDoc]:
    """Rows with doc_id, eng, ind, rus, ukr (quoted TSV as in ../shared/data/ntrex)."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    needed = {"doc_id", *LANG_COLUMNS.values()}
    if not rows or not needed <= set(rows[0]):
        raise InputError(f"{path}: expected a TSV with columns {', '.join(sorted(needed))}")
    docs: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        docs[row["doc_id"]].append({lang: row[col].strip() for lang, col in LANG_COLUMNS.items()})
    return [ParallelDoc(doc_id, segs) for doc_id, segs in docs.items()]


def split_of(doc_id: str) -> str:
    """Stable calibration/test assignment, independent of seeds and file order."""
    return "calib" if hashlib.sha256(doc_id.encode()).digest()[0] % 2 == 0 else "test"


@dataclass
class Plan:
    indexed: dict[str, str]
    absent: list[str]
    articles: list[list[str]]


def make_plan(docs: Sequence[ParallelDoc], langs: Sequence[str], absent: float, seed: int) -> Plan:
    rng = random.Random(seed)
    ids = sorted(d.doc_id for d in docs)
    rng.shuffle(ids)
    n_absent = round(len(ids) * absent)
    absent_ids, present = ids[:n_absent], ids[n_absent:]
    indexed = {doc_id: langs[i % len(langs)] for i, doc_id in enumerate(present)}
    order = ids[:]
    rng.shuffle(order)
    articles = [order[i : i + 3] for i in range(0, len(order), 3)]
    return Plan(indexed=indexed, absent=absent_ids, articles=articles)


def source_url(doc_id: str, lang: str) -> str:
    return f"https://eval.tracer.invalid/{doc_id}/{lang}"


def _join(segments: Sequence[str], rng: random.Random) -> tuple[str, list[tuple[int, int]]]:
    """Paragraphs of 1-3 segments; a segment without final punctuation (a headline) ends its paragraph."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos, in_par, par_len = 0, 0, rng.randint(1, 3)
    for seg in segments:
        if in_par:
            sep = " " if in_par < par_len else "\n"
            if sep == "\n":
                in_par, par_len = 0, rng.randint(1, 3)
            parts.append(sep)
            pos += 1
        spans.append((pos, pos + len(seg)))
        parts.append(seg)
        pos += len(seg)
        in_par += 1
        if not seg.rstrip().endswith((".", "!", "?", '"', "”", "»", "…")):
            in_par = par_len  # force a paragraph break next
    return "".join(parts), spans


@dataclass(frozen=True)
class SourceText:
    doc: SourceDoc
    text: str
    spans: list[tuple[int, int]]


def source_texts(docs: Sequence[ParallelDoc], plan: Plan, seed: int) -> list[SourceText]:
    rng = random.Random(seed + 1)
    out = []
    for d in sorted(docs, key=lambda d: d.doc_id):
        lang = plan.indexed.get(d.doc_id)
        if lang is None:
            continue
        text, spans = _join([s[lang] for s in d.segments], rng)
        meta = SourceDoc(url=source_url(d.doc_id, lang), outlet=d.doc_id.rsplit(".", 1)[0], lang=lang,
                         title="", published=None)  # fmt: skip
        out.append(SourceText(meta, text, spans))
    return out


@dataclass(frozen=True)
class Query:
    """One Indonesian sentence as segmented by tracer, with the original(s) it translates."""

    article: int
    text: str
    doc_id: str
    segments: tuple[int, ...]
    """The reference segments it translates: two when a newsroom merged a pair into one sentence."""
    source_lang: str | None
    split: str
    layout: str = "runs"


LAYOUTS = ("runs", "mixed")
"""How composed articles borrow from their documents. ``runs``: every sentence, in in-order runs
of 2-6 per document, documents taking turns. ``mixed``: as compiled news does it, a share of each
document's sentences dropped, runs of 1-3 (half single sentences), runs shuffled across documents,
adjacent pairs swapped or merged into one sentence, inline credits added to some sentences."""

MIXED_DROP = 0.3
MIXED_RUN_LENGTHS = (1, 1, 1, 2, 2, 3)
MIXED_SWAP = 0.2
MIXED_MERGE = 0.15
MIXED_CREDIT = 0.15
_CREDIT_NAMES = {"bbc": "BBC", "guardian": "The Guardian", "nyt": "New York Times", "reuters": "Reuters",
                 "apnews": "AP", "cnn": "CNN", "washingtonpost": "Washington Post", "foxnews": "Fox News"}  # fmt: skip


def _credited(sentence: str, outlet: str, rng: random.Random) -> str:
    """The sentence with a newsroom's inline credit, as Indonesian outlets add them."""
    name = _CREDIT_NAMES.get(outlet, outlet.title())
    phrase = rng.choice(("seperti dilansir {}", "dikutip dari {}", "seperti diberitakan {}"))
    body = sentence.rstrip()
    if body.endswith((".", "!", "?")) and not body.endswith(("'.", '".', "”.")):
        return f"{body[:-1]}, {phrase.format(name)}{body[-1]}"
    return sentence


def _pieces(doc_ids: Sequence[str], by_id: dict[str, ParallelDoc], layout: str,
            rng: random.Random) -> list[list[tuple[str, tuple[int, ...], str]]]:  # fmt: skip
    """Paragraph-sized runs of (doc_id, segments, Indonesian text) in article order."""
    if layout == "runs":
        blocks = [[(d, (i,), seg["id"]) for i, seg in enumerate(by_id[d].segments)] for d in doc_ids]
        runs: list[list[tuple[str, tuple[int, ...], str]]] = []
        while any(blocks):
            for block in blocks:
                if block:
                    n = rng.randint(2, 6)
                    runs.append(block[:n])
                    del block[:n]
        return runs
    runs = []
    for d in doc_ids:
        segs = by_id[d].segments
        kept = [i for i in range(len(segs)) if rng.random() >= MIXED_DROP] or [rng.randrange(len(segs))]
        while kept:
            n = rng.choice(MIXED_RUN_LENGTHS)
            chunk, kept = kept[:n], kept[n:]
            run = [(d, (i,), segs[i]["id"]) for i in chunk]
            if len(run) >= 2 and rng.random() < MIXED_SWAP:
                run[0], run[1] = run[1], run[0]
            if len(run) >= 2 and rng.random() < MIXED_MERGE and run[0][2].rstrip().endswith("."):
                (_, a, ta), (_, b, tb) = run[0], run[1]
                run[:2] = [(d, a + b, f"{ta.rstrip()[:-1]}; {tb.strip()}")]
            if rng.random() < MIXED_CREDIT:
                last = run[-1]
                run[-1] = (last[0], last[1], _credited(last[2], d.rsplit(".", 1)[0], rng))
            runs.append(run)
    rng.shuffle(runs)
    return runs


def compose_articles(docs: Sequence[ParallelDoc], plan: Plan, seed: int,
                     layout: str = "runs") -> list[tuple[str, list[Query]]]:  # fmt: skip
    """Indonesian articles made of the plan's documents in one of the ``LAYOUTS``."""
    if layout not in LAYOUTS:
        raise InputError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    rng = random.Random(seed + 2 if layout == "runs" else seed + 3)
    by_id = {d.doc_id: d for d in docs}
    articles = []
    for a, doc_ids in enumerate(plan.articles):
        paragraphs, owners = [], []
        for run in _pieces(doc_ids, by_id, layout, rng):
            text, spans = _join([t for _, _, t in run], rng)
            paragraphs.append(text)
            owners.append((run, spans))
        text = "\n".join(paragraphs)
        # Map each tracer sentence to the reference piece it overlaps most.
        piece_spans: list[tuple[int, int, str, tuple[int, ...]]] = []
        offset = 0
        for (run, spans), par in zip(owners, paragraphs, strict=True):
            piece_spans += [(offset + s, offset + e, d, segs) for (d, segs, _), (s, e) in zip(run, spans, strict=True)]
            offset += len(par) + 1
        queries = []
        for sent in segment(text, "id"):
            best = max(piece_spans, key=lambda sp: min(sent.end, sp[1]) - max(sent.start, sp[0]))
            doc_id, segs = best[2], best[3]
            queries.append(Query(a, sent.text, doc_id, segs, plan.indexed.get(doc_id), split_of(doc_id), layout))
        articles.append((text, queries))
    return articles


def word_overlap(a: str, b: str) -> float:
    """Share of the shorter text's words found in the other (multiset), as ../shared/tools/score_case.py
    counts it: a window that holds an accepted sentence overlaps it fully."""
    wa, wb = Counter(_WORDS.findall(a.lower())), Counter(_WORDS.findall(b.lower()))
    small = min(sum(wa.values()), sum(wb.values())) or 1
    return sum((wa & wb).values()) / small


_WORDS = re.compile(r"\w+")
ACCEPT_OVERLAP = 0.6
"""Word overlap from which a matched passage counts as an accepted sentence (score_case.py's rule)."""


@dataclass(frozen=True)
class Accept:
    """One acceptable original: a character span of an indexed text (composed parallel data,
    where offsets are known) or sentences of a page (real cases, labelled by hand)."""

    url: str
    span: tuple[int, int] | None = None
    texts: tuple[str, ...] = ()

    def covers(self, unit: SourceUnit) -> bool:
        if unit.doc.url != self.url:
            return False
        if self.span is not None:
            start, end = self.span
            return unit.start < end and start < unit.end
        return any(word_overlap(unit.text, t) >= ACCEPT_OVERLAP for t in self.texts)


@dataclass
class Outcome:
    """What the tracer found for one query, enough to score any decision rule afterwards."""

    query: Query
    candidates: list[Candidate]
    gold: tuple[Accept, ...] | None
    """The acceptable originals in the index; None when no indexed page carries the sentence."""
    labelled: bool = True
    """False for article sentences without a label (a heading): context for the others, never scored."""

    def covers_gold(self, candidate: Candidate) -> bool:
        return self.gold is not None and any(a.covers(candidate.unit) for a in self.gold)


def run_queries(
    articles: Sequence[tuple[str, list[Query]]],
    sources: Sequence[SourceText],
    embedder: Embedder,
    index: ReferenceIndex,
    *,
    search_k: int,
    margin_k: int,
) -> list[Outcome]:
    spans = {s.doc.url: s.spans for s in sources}
    queries = [q for _, qs in articles for q in qs]
    per_query = article_candidates(
        [q.text for q in queries],
        embedder,
        index,
        k=search_k,
        margin_k=margin_k,
        articles=[len(qs) for _, qs in articles],
    )
    outcomes = []
    for q, cands in zip(queries, per_query, strict=True):
        gold = None
        if q.source_lang is not None:
            url = source_url(q.doc_id, q.source_lang)
            gold = tuple(Accept(url, spans[url][seg]) for seg in q.segments)
        outcomes.append(Outcome(q, cands, gold))
    return outcomes


def _by_article(outcomes: Sequence[Outcome]) -> list[list[Outcome]]:
    groups: dict[int, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[o.query.article].append(o)
    return list(groups.values())


def decide(outcomes: Sequence[Outcome], rule: DecisionRule) -> list[tuple[Outcome, list[Scored]]]:
    """Each outcome with its candidates scored by ``rule`` in article context, as ``trace`` does."""
    out = []
    for group in _by_article(outcomes):
        scored = rule.score_article([o.candidates for o in group])
        out += [(o, earliest_first(s)) for o, s in zip(group, scored, strict=True)]
    return out


def score(outcomes: Sequence[Outcome], rule: DecisionRule) -> dict[str, float]:
    decided = [(o, s) for o, s in decide(outcomes, rule) if o.labelled]
    sourced = np.array([o.gold is not None for o, _ in decided], dtype=bool)
    traced = np.array([bool(s) and rule.traced(s[0]) for _, s in decided], dtype=bool)
    correct = np.array([bool(s) and o.covers_gold(s[0].candidate) for o, s in decided], dtype=bool)
    rr = []
    for o, s in decided:
        rank = next((r for r, x in enumerate(s[:10], start=1) if o.covers_gold(x.candidate)), None)
        rr.append(1.0 / rank if rank else 0.0)
    rr_arr = np.array(rr)
    top3 = rr_arr >= 1 / 3 - 1e-9  # an accepted original among the best three candidates
    n_s, n_u = int(sourced.sum()), int((~sourced).sum())

    def share(mask: np.ndarray, among: np.ndarray, n: int) -> float:
        return round(float(mask[among].mean()), 4) if n else 0.0

    return {
        "n": len(decided),
        "n_sourced": n_s,
        "n_unsourced": n_u,
        "top1": share(traced & correct, sourced, n_s),
        "top1_any": share(correct, sourced, n_s),
        "top3": share(top3, sourced, n_s),
        "mrr10": round(float(rr_arr[sourced].mean()), 4) if n_s else 0.0,
        "wrong_source": share(traced, ~sourced, n_u),
        "wrong_pick": share(traced & ~correct, sourced, n_s),
        "abstain": share(~traced, sourced, n_s),
    }


def pooled_score(groups: Sequence[tuple[Sequence[Outcome], DecisionRule]]) -> dict[str, float]:
    """``score``'s shares over several groups, each decided by its own rule (leave one case out)."""
    n_s = n_u = right = best = three = wrong = 0
    for outcomes, rule in groups:
        f = score(outcomes, rule)
        n_s, n_u = n_s + int(f["n_sourced"]), n_u + int(f["n_unsourced"])
        right += round(f["top1"] * f["n_sourced"])
        best += round(f["top1_any"] * f["n_sourced"])
        three += round(f["top3"] * f["n_sourced"])
        wrong += round(f["wrong_source"] * f["n_unsourced"])
    return {"n_sourced": n_s, "n_unsourced": n_u, "top1": right / max(1, n_s), "top1_any": best / max(1, n_s),
            "top3": three / max(1, n_s), "wrong_source": wrong / max(1, n_u)}  # fmt: skip


def score_by_lang(outcomes: Sequence[Outcome], rule: DecisionRule) -> dict[str, object]:
    """Overall figures plus per source language (unsourced sentences only count overall)."""
    result: dict[str, object] = {"overall": score(outcomes, rule)}
    per_lang = {}
    for lang in ("en", "ru", "uk"):
        subset = [o for o in outcomes if o.query.source_lang in (lang, None)]
        if any(o.query.source_lang == lang for o in subset):
            full = score(subset, rule)
            per_lang[lang] = {k: v for k, v in full.items() if k not in ("n", "n_unsourced", "wrong_source")}
    result["per_lang"] = per_lang
    return result


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = 1e-2, iterations: int = 100, weights: np.ndarray | None = None
) -> np.ndarray:
    """Newton's method for [bias, weights...], each row counted ``weights`` times; small and dependency-free."""
    X = np.hstack([np.ones((len(x), 1)), x])
    sw = np.ones(len(x)) if weights is None else weights
    w = np.zeros(X.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(X @ w, -60, 60)))
        grad = X.T @ ((p - y) * sw) + l2 * w
        hess = (X * (p * (1 - p) * sw)[:, None]).T @ X + l2 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w


def _logistic(x: list[list[float]], y: list[bool], names: Sequence[str], weights: list[float],
              non_negative: Sequence[str] = ()) -> Logistic:  # fmt: skip
    """A fitted stage; features in ``non_negative`` that come out negative are dropped and the
    rest refitted, so such evidence can only ever raise confidence."""
    kept = list(names)
    X, Y, W = np.array(x, dtype=np.float64).reshape(len(x), len(names)), np.array(y, np.float64), np.array(weights)
    while True:
        w = fit_logistic(X[:, [names.index(n) for n in kept]], Y, weights=W)
        negative = [n for n, v in zip(kept, w[1:], strict=True) if n in non_negative and v < 0]
        if not negative:
            break
        kept = [n for n in kept if n not in negative]
    return Logistic(
        bias=round(float(w[0]), 4), weights={n: round(float(v), 4) for n, v in zip(kept, w[1:], strict=True)}
    )


def _unsourced_confidences(outcomes: Sequence[Outcome], rule: DecisionRule) -> np.ndarray:
    return np.array([s[0].confidence if s else 0.0 for o, s in decide(outcomes, rule) if o.gold is None and o.labelled])


def threshold_for(outcomes: Sequence[Outcome], rule: DecisionRule, max_wrong_source: float) -> float:
    """Lowest confidence threshold whose wrong-source rate on unsourced sentences stays within bound."""
    conf = np.sort(_unsourced_confidences(outcomes, rule))[::-1]
    if conf.size == 0:
        return 0.5
    allowed = int(np.floor(max_wrong_source * conf.size))
    if allowed >= conf.size:
        return 0.0
    # traced iff confidence >= threshold: at most `allowed` unsourced sentences may reach it.
    return round(float(np.nextafter(conf[allowed], 1.0)) + 5e-5, 4)


REAL_WEIGHT = 1.0
"""Real case sentences, together, weigh this many times all parallel-data sentences in the fit:
a few dozen real sentences must count against thousands of composed ones."""
MAX_WRONG_REAL = 0.2
"""Operating point on real cases: share of their unsourced (ablated) lines allowed a source."""
POSSIBLE_WRONG = 0.5
"""The "possible" band starts where this share of unsourced lines would reach it."""


@dataclass(frozen=True)
class OperatingPoint:
    """Where the traced threshold and the possible band sit, and on which sentences."""

    max_wrong_source: float = 0.02
    """On unsourced sentences of parallel data, used when no real cases are given."""
    max_wrong_real: float = MAX_WRONG_REAL
    """On unsourced lines of real cases, used when they are given: real articles are the yardstick."""
    possible_wrong: float = POSSIBLE_WRONG


def calibrate(
    outcomes: Sequence[Outcome],
    *,
    model: str,
    margin_k: int,
    point: OperatingPoint = OperatingPoint(),
    features: Sequence[str] = SENTENCE_FEATURES,
    description: str = "",
) -> tuple[DecisionRule, dict[str, object]]:
    """Fit both logistic stages and the thresholds on ``outcomes`` (parallel data and real cases,
    the real ones weighted up to ``REAL_WEIGHT``); returns the rule and its JSON entry.

    ``features`` selects the sentence evidence (e.g. without cosine, for a rule that travels
    between models); the article stage always adds the coherence features.
    """
    names = [f for f in SENTENCE_FEATURES if f in features]
    labelled = [o for o in outcomes if o.labelled]
    n_real = sum(o.query.layout == "real" for o in labelled)
    n_other = len(labelled) - n_real
    real_w = REAL_WEIGHT * n_other / n_real if n_real and n_other else 1.0

    def weight(o: Outcome) -> float:
        return real_w if o.query.layout == "real" else 1.0

    # the sentence stage also ranks a sentence's candidates: fitted on all it compares word by
    # word (the best by cosine, and the others with a recall), each sentence weighing one in all
    fitted = [(o, [c for r, c in enumerate(o.candidates[:ALIGN_TOP]) if r == 0 or c.recall is not None])
              for o in labelled if o.candidates]  # fmt: skip
    rows = [(o, c, 1.0 / len(cands)) for o, cands in fitted for c in cands]
    features_of = [sentence_features(c) for _, c, _ in rows]
    # evidence the embedder cannot give (``recall`` without word pieces) is constant: left out
    names = [f for f in names if len({row[f] for row in features_of}) > 1]
    sentence = _logistic(
        [[row[f] for f in names] for row in features_of],
        [o.covers_gold(c) for o, c, _ in rows],
        names,
        [weight(o) * share for o, _, share in rows],
    )
    x, y, w = [], [], []
    # an article stage that never wins the max: confidences are the sentence stage's, as the
    # article stage's features must be computed from
    first_stage = DecisionRule(model, sentence, Logistic(-60.0, {}), 0.5, margin_k, True, "")
    for o, scored in decide(outcomes, first_stage):
        for s in scored if o.labelled else ():
            x.append([s.features[f] for f in ARTICLE_FEATURES])
            y.append(o.covers_gold(s.candidate))
            w.append(weight(o))
    article = _logistic(x, y, ARTICLE_FEATURES, w, non_negative=COHERENCE_FEATURES)
    draft = DecisionRule(model, sentence, article, 0.5, margin_k, True, "")
    real = [o for o in outcomes if o.query.layout == "real"]
    if real:
        threshold = threshold_for(real, draft, point.max_wrong_real)
        possible = threshold_for(real, draft, point.possible_wrong)
        where = f"at most {point.max_wrong_real:.0%} wrong-source on unsourced lines of real cases"
    else:
        threshold = threshold_for(outcomes, draft, point.max_wrong_source)
        possible = threshold_for(outcomes, draft, 5 * point.max_wrong_source)
        where = f"at most {point.max_wrong_source:.0%} wrong-source on unsourced calibration sentences"
    possible = min(possible, threshold)
    text = f"{where}{description}"
    rule = DecisionRule(model, sentence, article, threshold, margin_k, True, text, possible)
    entry = {
        "version": RULE_VERSION,
        "sentence": sentence.to_dict(),
        "article": article.to_dict(),
        "threshold": threshold,
        "possible": possible,
        "margin_k": margin_k,
        "operating_point": text,
    }
    return rule, entry


@dataclass(frozen=True)
class Protocol:
    """The knobs of one evaluation run; the defaults are the ones the README figures use."""

    langs: tuple[str, ...] = ("en", "ru", "uk")
    absent: float = 0.2
    seed: int = 1
    search_k: int = SEARCH_K
    margin_k: int = 4
    layouts: tuple[str, ...] = ("runs",)


def run_protocol(
    docs: Sequence[ParallelDoc],
    embedder: Embedder,
    workdir: Path,
    protocol: Protocol = Protocol(),
    *,
    show_progress: bool = False,
) -> list[Outcome]:
    """Build a throwaway index in ``workdir`` and trace every composed article against it."""
    from index import Document, IndexStore, add_documents, manifest_for

    embedder = remembering(embedder, passage_pieces=True)  # the layouts compose the same sentences
    plan = make_plan(docs, protocol.langs, protocol.absent, protocol.seed)
    sources = source_texts(docs, plan, protocol.seed)
    with IndexStore.create(workdir, manifest_for(embedder)) as store:
        with store.write_lock():
            add_documents(store, [Document(meta=s.doc, text=s.text) for s in sources], embedder, batch_docs=256)
        articles = []
        for n, layout in enumerate(protocol.layouts):
            # one index serves every layout; their articles are numbered apart so they never mix
            for text, queries in compose_articles(docs, plan, protocol.seed, layout):
                articles.append((text, [replace(q, article=q.article + n * LAYOUT_STRIDE) for q in queries]))
        return run_queries(articles, sources, embedder, store, search_k=protocol.search_k, margin_k=protocol.margin_k)


RUN_STRIDE = 1_000_000
"""Offset between the article numbers of successive runs."""
LAYOUT_STRIDE = 10_000
"""Offset between the article numbers of layouts within a run."""


def run_protocols(
    docs: Sequence[ParallelDoc],
    embedder: Embedder,
    workdir: Path,
    protocol: Protocol = Protocol(),
    runs: int = 1,
    *,
    show_progress: bool = False,
) -> list[Outcome]:
    """``runs`` protocol runs with seeds ``protocol.seed``, ``protocol.seed + 1``, ...: other
    documents left out, other languages indexed, other articles composed. One run leaves only
    ~130 unsourced sentences per half, too few to place a 2% threshold; the documents of each
    half stay the same in every run, so the halves never mix. Each text is encoded once: every
    run indexes and traces mostly the same sentences."""
    embedder = remembering(embedder, passage_pieces=True)  # it indexes and traces: see MemoEmbedder
    outcomes: list[Outcome] = []
    for run in range(runs):
        seeded = replace(protocol, seed=protocol.seed + run)
        for o in run_protocol(docs, embedder, workdir / f"run-{run}", seeded, show_progress=show_progress):
            # articles of different runs must never be read as one article
            outcomes.append(replace(o, query=replace(o.query, article=o.query.article + run * RUN_STRIDE)))
    return outcomes


TATOEBA_PAIRS = {"ind": "id", "rus": "ru", "ukr": "uk"}


def read_tatoeba(directory: Path) -> dict[str, tuple[list[str], list[str]]]:
    """Aligned (non-English, English) sides of LASER's ``tatoeba.XXX-eng.{XXX,eng}`` files, per pair."""
    sets = {}
    for code in TATOEBA_PAIRS:
        a, b = directory / f"tatoeba.{code}-eng.{code}", directory / f"tatoeba.{code}-eng.eng"
        if not (a.is_file() and b.is_file()):
            continue
        xs = a.read_text(encoding="utf-8").splitlines()
        ys = b.read_text(encoding="utf-8").splitlines()
        if len(xs) != len(ys):
            raise InputError(f"{a} and {b} have {len(xs)} and {len(ys)} lines; they must be aligned")
        sets[f"{code}-eng"] = (xs, ys)
    if not sets:
        raise InputError(f"{directory}: no tatoeba.XXX-eng.XXX / tatoeba.XXX-eng.eng file pairs for ind, rus or ukr")
    return sets


def tatoeba_pairs(directory: Path) -> list[tuple[str, str]]:
    """(non-English, English) training pairs from LASER's Tatoeba files, empty lines skipped."""
    return [
        (x.strip(), y.strip())
        for xs, ys in read_tatoeba(directory).values()
        for x, y in zip(xs, ys, strict=True)
        if x.strip() and y.strip()
    ]


def tatoeba_accuracy(embedder: Embedder, directory: Path) -> dict[str, object]:
    """Top-1 accuracy of nearest-neighbour search between the aligned sides of LASER's
    Tatoeba test sets, both directions (as published for MTEB/LASER), per language pair."""
    result: dict[str, object] = {}
    for pair, (xs, ys) in read_tatoeba(directory).items():
        sims = embedder.embed(xs, role="query") @ embedder.embed(ys, role="query").T
        gold = np.arange(len(xs))
        to_eng = float((sims.argmax(axis=1) == gold).mean())
        from_eng = float((sims.argmax(axis=0) == gold).mean())
        result[pair] = {"n": len(xs), "to_eng": round(to_eng, 4), "from_eng": round(from_eng, 4),
                        "mean": round((to_eng + from_eng) / 2, 4)}  # fmt: skip
    return result


def pr_curve(
    outcomes: Sequence[Outcome], rule: DecisionRule, thresholds: Sequence[float] | None = None
) -> list[dict[str, float]]:
    """The traced/no_source decision at every threshold from 0 to 1: precision (traced sentences
    whose original is right), recall (sourced sentences traced to the right original) and the
    wrong-source rate on unsourced sentences. The same scoring as ``score``, one threshold at a time."""
    decided = [(o, s) for o, s in decide(outcomes, rule) if o.labelled]
    conf = np.array([s[0].confidence if s else 0.0 for _, s in decided])
    sourced = np.array([o.gold is not None for o, _ in decided], dtype=bool)
    correct = np.array([bool(s) and o.covers_gold(s[0].candidate) for o, s in decided], dtype=bool)
    n_s, n_u = max(int(sourced.sum()), 1), max(int((~sourced).sum()), 1)
    curve = []
    for t in thresholds if thresholds is not None else [i / 50 for i in range(51)]:
        traced = conf >= t
        right = traced & correct
        curve.append({
            "threshold": round(t, 4),
            "precision": round(float(right.sum() / traced.sum()), 4) if traced.any() else 1.0,
            "recall": round(float(right[sourced].sum() / n_s), 4),
            "wrong_source": round(float(traced[~sourced].sum() / n_u), 4),
        })  # fmt: skip
    return curve
