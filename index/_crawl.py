"""Build and refresh the reference index from the configured outlets.

discover (feeds, sitemaps, the Guardian API) -> select (rules, --since, newest first, limit)
-> fetch (conditional, in a thread pool, polite per host) -> extract -> dedupe -> embed only
what changed -> stage durably in batches -> make everything visible in one transaction.

A killed run loses at most the batch in flight: staged documents and page states survive,
and the next run publishes them (pages already fetched answer 304 or match their hash).
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urlencode

import numpy as np

from tracer import Embedder, InputError
from tracer._dates import parse_instant
from tracer.tracing._langid import LanguageDetector

from ._charset import decode
from ._discover import Link, Listing, parse_listing
from ._documents import Document
from ._extract import document_from_html
from ._fetch import Fetcher, FetchError, Page
from ._ingest import WINDOW, content_sha256, units_for
from ._sources import Source
from ._store import IndexStore, NewDocument, NewUnit, PageState

log = logging.getLogger(__name__)

MAX_SITEMAPS = 50
"""Child sitemaps read per source and run (newest first): a sitemap index of a big outlet lists thousands."""
MAX_LINKS_KEPT = 20_000
"""Newest article links kept per source while discovering: many times any run's --max-articles,
so rules and --since still have plenty to choose from, and memory stays bounded."""
_EPOCH = datetime.min.replace(tzinfo=UTC)
_DONE = ("stored", "duplicate", "empty")


@dataclass
class SourceCounts:
    discovered: int = 0
    fetched: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    duplicates: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, object]:
        return {
            "discovered": self.discovered,
            "fetched": self.fetched,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "duplicates": self.duplicates,
            "skipped": dict(sorted(self.skipped.items())),
            "failed": dict(sorted(self.failed.items())),
        }


@dataclass
class CrawlSummary:
    sources: dict[str, SourceCounts] = field(default_factory=dict)
    published: int = 0
    """Documents made visible to readers at the end (including ones staged by a killed run)."""

    def total(self) -> SourceCounts:
        out = SourceCounts()
        for c in self.sources.values():
            for name in ("discovered", "fetched", "new", "changed", "unchanged", "duplicates"):
                setattr(out, name, getattr(out, name) + getattr(c, name))
            out.skipped.update(c.skipped)
            out.failed.update(c.failed)
        return out

    def to_dict(self) -> dict[str, object]:
        return {
            **self.total().to_dict(),
            "published": self.published,
            "sources": {name: c.to_dict() for name, c in self.sources.items()},
        }


@dataclass(frozen=True)
class CrawlOptions:
    since: datetime | None = None
    max_articles: int | None = None
    """Overrides each source's own ``max_articles``."""
    batch_docs: int = 16
    window: int = WINDOW


@dataclass(frozen=True)
class _Job:
    source: Source
    link: Link
    state: PageState | None


@dataclass
class _Ready:
    """An extracted article waiting for its batch's embedding call."""

    doc: Document
    state: PageState
    units: list[tuple[int, int, int, int, str]]
    known: dict[str, np.ndarray]


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


# -- discovery ----------------------------------------------------------------------------------


def discover(source: Source, fetcher: Fetcher, counts: SourceCounts, since: datetime | None,
             keep: int = MAX_LINKS_KEPT) -> list[Link]:  # fmt: skip
    """The newest ``keep`` article links the source's feeds and sitemaps list (memory stays
    bounded however many they list); each sitemap is read once per run, even if an index lists
    it again (or lists itself). A broken feed is counted, not fatal."""
    newest: list[tuple[datetime, int, Link]] = []  # a min-heap: the oldest kept link is dropped first
    order = itertools.count()

    def add(found: list[Link]) -> None:
        for link in found:
            item = (link.published or _EPOCH, next(order), link)
            if len(newest) < keep:
                heapq.heappush(newest, item)
            elif item[0] > newest[0][0]:
                heapq.heapreplace(newest, item)

    queue = [Link(url) for url in source.sitemaps]
    seen = {link.url for link in queue}
    for url in source.feeds:
        listing = _listing(source, fetcher, url, counts)
        if listing:
            add(listing.links)
    sitemaps_read = 0
    while queue and sitemaps_read < MAX_SITEMAPS:
        entry = queue.pop(0)
        listing = _listing(source, fetcher, entry.url, counts)
        sitemaps_read += 1
        if not listing:
            continue
        add(listing.links)
        children = [s for s in listing.sitemaps if s.url not in seen
                    and (since is None or s.modified is None or s.modified >= since)]  # fmt: skip
        seen.update(s.url for s in children)
        children.sort(key=lambda s: s.modified or _EPOCH, reverse=True)
        queue.extend(children)
    return [link for _, _, link in sorted(newest, reverse=True)]


def _listing(source: Source, fetcher: Fetcher, url: str, counts: SourceCounts) -> Listing | None:
    try:
        page = fetcher.get(url, kind="feed", delay=source.delay, allow_private=source.allow_private)
        return parse_listing(page.body, page.url)
    except FetchError as exc:
        counts.failed[f"feed_{exc.reason}"] += 1
        log.warning("%s: feed or sitemap not read: %s", source.name, exc)
    except InputError as exc:
        counts.failed["feed_malformed"] += 1
        log.warning("%s: %s: %s", source.name, url, exc)
    return None


def select(
    source: Source,
    links: Sequence[Link],
    retry: Sequence[str],
    counts: SourceCounts,
    options: CrawlOptions,
    allowed: Callable[[str], bool] = lambda url: True,
) -> list[Link]:
    """Article links to visit, newest first: rules, --since and robots.txt applied, then the
    limit; earlier failures are retried (after the fresh links)."""
    merged: dict[str, Link] = {}
    for link in links:
        url = link.url.split("#", 1)[0]
        prior = merged.get(url)
        if prior is None or (link.published and (prior.published is None or link.published > prior.published)):
            merged[url] = Link(url, link.published, link.modified)
    counts.discovered = len(merged)
    chosen = []
    for link in merged.values():
        rule = source.rule_for(link.url)
        if rule:
            counts.skipped[rule] += 1
        elif options.since and link.published and link.published < options.since:
            counts.skipped["before_since"] += 1
        else:
            chosen.append(link)
    permitted = []
    for link in chosen:
        if allowed(link.url):
            permitted.append(link)
        else:
            counts.skipped["robots"] += 1
    chosen = permitted
    chosen.sort(key=lambda link: link.published or datetime.min.replace(tzinfo=UTC), reverse=True)
    limit = options.max_articles or source.max_articles
    if len(chosen) > limit:
        counts.skipped["over_limit"] += len(chosen) - limit
        chosen = chosen[:limit]
    listed = {link.url for link in chosen}
    chosen.extend(Link(url) for url in retry if url not in listed and url not in merged)
    return chosen


# -- the run ----------------------------------------------------------------------------------------


class Crawler:
    """One build or refresh; the fetcher, embedder and store are passed in, so tests swap them."""

    def __init__(
        self,
        store: IndexStore,
        fetcher: Fetcher,
        embedder: Embedder,
        options: CrawlOptions | None = None,
        *,
        on_total: Callable[[int], None] | None = None,
        on_advance: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.embedder = embedder
        self.options = options or CrawlOptions()
        self._on_total = on_total or (lambda n: None)
        self._on_advance = on_advance or (lambda n: None)
        self._detectors: dict[tuple[str, ...], LanguageDetector] = {}
        self._texts_this_run: dict[str, list[PageState]] = {}
        self.summary = CrawlSummary()

    def run(self, sources: Sequence[Source], command: str = "build") -> CrawlSummary:
        started = _now().isoformat()
        jobs: list[list[_Job]] = []
        for source in sources:
            counts = self.summary.sources.setdefault(source.name, SourceCounts())
            if source.api is not None and os.environ.get(source.api.key_env):
                links = self._api_links(source, counts)
            else:
                if source.api is not None and not (source.feeds or source.sitemaps):
                    log.warning("%s: $%s is not set; skipping this API source", source.name, source.api.key_env)
                links = discover(source, self.fetcher, counts, self.options.since)
            chosen = select(source, links, self.store.failed_pages(source.name), counts, self.options,
                            self._robots_check(source))  # fmt: skip
            states = self.store.page_states(link.url for link in chosen)
            jobs.append([_Job(source, link, states.get(link.url)) for link in chosen])
        queue = _round_robin(jobs)
        self._on_total(len(queue))
        ready: list[_Ready] = []
        pages: list[PageState] = []
        for job, outcome in self._fetch_all(queue):
            try:
                item = self._process(job, outcome)
            except Exception as exc:  # one bad page must never stop a run: record it, go on
                log.warning("%s: could not be processed (%s: %s)", job.link.url, type(exc).__name__, exc)
                self.summary.sources[job.source.name].failed["processing"] += 1
                item = _failed(job, "processing")
            if isinstance(item, _Ready):
                ready.append(item)
            elif item is not None:
                pages.append(item)
            self._on_advance(1)
            if len(ready) >= self.options.batch_docs or len(pages) >= 256:
                self._stage(ready, pages)
                ready, pages = [], []
        self._stage(ready, pages)
        result = self.store.commit_staged()
        self.summary.published = result.added + result.replaced
        self.store.record_run(command, started, self.summary.to_dict())
        return self.summary

    # -- fetching ---------------------------------------------------------------------------------

    def _fetch_all(self, queue: list[_Job]) -> Iterator[tuple[_Job, Page | FetchError | None]]:
        """Fetch in a thread pool (at most ``concurrency`` at once, a bounded window ahead), in order."""
        window = max(1, self.fetcher.policy.concurrency) * 2
        with ThreadPoolExecutor(max_workers=max(1, self.fetcher.policy.concurrency)) as pool:
            pending: list[tuple[_Job, Future[Page | FetchError | None]]] = []
            jobs = iter(queue)
            for job in jobs:
                pending.append((job, pool.submit(self._fetch, job)))
                if len(pending) >= window:
                    first, future = pending.pop(0)
                    yield first, future.result()
            for job, future in pending:
                yield job, future.result()

    def _fetch(self, job: _Job) -> Page | FetchError | None:
        """The page, the error, or None when its listing says it has not changed since our last visit."""
        state, link, source = job.state, job.link, job.source
        if state is not None and state.status in _DONE and link.modified is not None:
            checked = parse_instant(state.checked_at)
            if checked is not None and link.modified <= checked:
                return None
        known = state is not None and state.status in _DONE
        try:
            return self.fetcher.get(
                link.url,
                kind="html",
                delay=source.delay,
                allow_private=source.allow_private,
                etag=state.etag if known and state else None,
                last_modified=state.last_modified if known and state else None,
            )
        except FetchError as exc:
            return exc
        except Exception as exc:  # a bug or an odd page must cost one URL, never the run
            return FetchError(link.url, "error", f"{type(exc).__name__}: {exc}")

    # -- per page ---------------------------------------------------------------------------------

    def _process(self, job: _Job, outcome: Page | FetchError | None) -> _Ready | PageState | None:
        source, link, state = job.source, job.link, job.state
        counts = self.summary.sources[source.name]
        base = state or PageState(url=link.url, source=source.name, outlet=source.outlet, status="new")
        if outcome is None:
            counts.unchanged += 1
            return None
        if isinstance(outcome, FetchError):
            if outcome.reason == "robots":
                counts.skipped["robots"] += 1
                return None
            counts.failed[outcome.reason] += 1
            log.warning("%s", outcome)
            return _failed(job, outcome.reason)
        page = outcome
        if page.status == 304:
            counts.unchanged += 1
            return replace(base, failures=0, reason=None, checked_at="",
                           etag=page.etag or base.etag, last_modified=page.last_modified or base.last_modified)  # fmt: skip
        counts.fetched += 1
        seen = replace(base, failures=0, reason=None, checked_at="", etag=page.etag, last_modified=page.last_modified,
                       body_sha256=_sha256(page.body))  # fmt: skip
        if state is not None and state.status in _DONE and state.body_sha256 == seen.body_sha256:
            counts.unchanged += 1
            return seen
        text, _ = decode(page.body, page.charset)
        langs = source.langs
        try:
            doc = document_from_html(
                text,
                name=link.url,
                url=page.url,
                outlet=source.outlet,
                lang=langs[0] if len(langs) == 1 else None,
                langs=langs,
                canonical=True,
                published=link.published.isoformat() if link.published else None,
                detector=self._detector(langs) if len(langs) > 1 else None,
            )
        except InputError as exc:
            counts.failed["no_text"] += 1
            log.warning("%s", exc)
            return replace(seen, status="empty", reason="no_text")
        doc_url, text_sha = doc.meta.url, _sha256(_body_text(doc))
        seen = replace(seen, doc_url=doc_url, text_sha256=text_sha, status="stored", duplicate_of=None)
        priors = [p for p in self._texts_this_run.get(text_sha, []) if p.url != link.url]
        priors += self.store.pages_with_text(text_sha, exclude_url=link.url)
        same_outlet = [p for p in priors if p.outlet == source.outlet]
        if same_outlet:
            counts.duplicates += 1  # the same article under another URL: stored once
            return replace(seen, status="duplicate", duplicate_of=same_outlet[0].url)
        if priors:
            seen = replace(seen, duplicate_of=priors[0].url)  # another outlet ran the same text: keep both, mark it
        self._texts_this_run.setdefault(text_sha, []).append(seen)
        digest = content_sha256(doc)
        existing = self.store.content_hashes([doc_url]).get(doc_url)
        if existing == digest:
            counts.unchanged += 1
            return seen
        units = units_for(doc, self.options.window)
        known = self.store.known_vectors(doc_url) if existing else {}
        if existing is None:
            counts.new += 1
        else:
            counts.changed += 1
        return _Ready(doc=doc, state=seen, units=units, known=known)

    def _robots_check(self, source: Source) -> Callable[[str], bool]:
        def allowed(url: str) -> bool:
            try:
                return self.fetcher.allowed(url, delay=source.delay, allow_private=source.allow_private)
            except FetchError:
                return True  # the fetch itself will fail with the reason (a bad or private URL)

        return allowed

    def _detector(self, langs: tuple[str, ...]) -> LanguageDetector:
        if langs not in self._detectors:
            self._detectors[langs] = LanguageDetector(langs)
        return self._detectors[langs]

    def _stage(self, ready: list[_Ready], pages: list[PageState]) -> None:
        """Embed what is new in one call (unchanged sentences keep their vectors), then stage."""
        if not ready and not pages:
            return
        texts = sorted({u[4] for r in ready for u in r.units if u[4] not in r.known})
        vectors = self.embedder.embed(texts, role="passage") if texts else np.zeros((0, self.embedder.info.dim))
        fresh = dict(zip(texts, vectors, strict=True))
        docs = []
        for r in ready:
            units = [NewUnit(f, la, s, e, t, r.known[t] if t in r.known else fresh[t]) for f, la, s, e, t in r.units]
            docs.append(NewDocument(doc=r.doc.meta, text=r.doc.text, content_sha256=content_sha256(r.doc), units=units))
        self.store.stage(docs, [*pages, *(r.state for r in ready)])

    # -- the Guardian Open Platform ------------------------------------------------------------------

    def _api_links(self, source: Source, counts: SourceCounts) -> list[Link]:
        """Article links from the Guardian content API (newest first); the pages themselves are
        fetched like any other, so extraction, dedupe and refresh stay one code path."""
        api = source.api
        assert api is not None
        params = {"order-by": "newest", "page-size": str(api.page_size)}
        if api.section:
            params["section"] = api.section
        if api.query:
            params["q"] = api.query
        if self.options.since:
            params["from-date"] = self.options.since.date().isoformat()
        url = f"{api.url}?{urlencode(params)}"
        try:
            page = self.fetcher.get(
                url,
                kind="feed",
                delay=source.delay,
                allow_private=source.allow_private,
                headers={"api-key": os.environ[api.key_env]},  # a header keeps the key out of URLs and logs
            )
            results = json.loads(page.body)["response"]["results"]
            return [Link(r["webUrl"], parse_instant(r.get("webPublicationDate"))) for r in results if r.get("webUrl")]
        except FetchError as exc:
            counts.failed[f"api_{exc.reason}"] += 1
            log.warning("%s: Guardian API not read: %s", source.name, exc)
        except (ValueError, KeyError, TypeError) as exc:
            counts.failed["api_malformed"] += 1
            log.warning("%s: Guardian API answered something unexpected (%s)", source.name, exc)
        return []


def _failed(job: _Job, reason: str) -> PageState:
    """The page's state after a failure: counted, so it is retried a bounded number of runs."""
    base = job.state or PageState(url=job.link.url, source=job.source.name, outlet=job.source.outlet, status="new")
    return replace(base, status="failed", reason=reason, failures=base.failures + 1, checked_at="")


def _body_text(doc: Document) -> str:
    """The text without a leading headline line: copies of one story often differ only there."""
    first, _, rest = doc.text.partition("\n")
    return rest if rest and first.strip() == doc.meta.title.strip() else doc.text


def _round_robin(groups: list[list[_Job]]) -> list[_Job]:
    """Interleave sources so the pool works on several hosts at once."""
    out: list[_Job] = []
    for i in range(max((len(g) for g in groups), default=0)):
        out.extend(g[i] for g in groups if i < len(g))
    return out
