"""The library's one entry point for tracing: open an index once, trace many articles.

This module sits above both halves (it opens an ``index`` store); nothing below imports it.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from tracer._errors import InputError, ModelError, ReferenceIndexError, TracerError
from tracer._paths import resolve_index
from tracer.judgments._outlets import OutletTable
from tracer.model import _embed
from tracer.model._embed import DEFAULT_MODEL, Embedder, ModelInfo, Notify, SentenceTransformerEmbedder, log_notice
from tracer.model._pieces import PIECE_CACHE_MB, PieceCache
from tracer.report._report import Report
from tracer.tracing._article import DEFAULT_MAX_BYTES, Article, article_from_html, decode
from tracer.tracing._judge import DecisionRule, rule_for
from tracer.tracing._langid import LanguageDetector, is_indonesian, not_indonesian_warning
from tracer.tracing._segment import Sentence
from tracer.tracing._trace import TraceOptions, article_sentences, trace_text

log = logging.getLogger("tracer")


@dataclass(frozen=True)
class Prepared:
    """An article read, segmented and language-checked: ready to trace, before any model loads."""

    name: str
    text: str
    sentences: list[Sentence]
    warnings: list[str] = field(default_factory=list)


def prepare(article: Article, detector: LanguageDetector) -> Prepared:
    """Segment ``article`` and warn if it is not Indonesian (bad input fails here, cheaply)."""
    sentences = article_sentences(article.text, article.name)
    warnings = []
    guess = detector.detect(article.text)
    if not is_indonesian(guess):
        warnings.append(not_indonesian_warning(guess))
        log.warning("%s: %s", article.name, warnings[-1])
    return Prepared(article.name, article.text, sentences, warnings)


def before_iso(value: str | date | datetime | None) -> str | None:
    """An article date as ISO; a bare date (or midnight without a zone) means that whole day (UTC)."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value) if len(value.strip()) == 10 else datetime.fromisoformat(value.strip())
        except ValueError:
            raise InputError(f"before: {value!r} is not a date; give YYYY-MM-DD or an ISO date and time") from None
    if isinstance(value, datetime):
        if value.tzinfo is None and (value.hour, value.minute, value.second) == (0, 0, 0):
            return value.date().isoformat()
        return value.isoformat()
    return None if value is None else value.isoformat()


def check_options(top_k: object, threshold: object, before: object) -> None:
    """A caller's tracing options, checked before any work, each error naming its argument."""
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= 20:
        raise InputError(f"top_k: expected an integer from 1 to 20, not {top_k!r}")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                  or not 0.0 <= threshold <= 1.0):  # fmt: skip
        raise InputError(f"threshold: expected a number from 0 to 1 (or None), not {threshold!r}")
    if before is not None and not isinstance(before, (str, date, datetime)):
        raise InputError(f"before: expected a date, a datetime or an ISO string, not {type(before).__name__}")


def fetch_article(
    url: str, max_bytes: int = DEFAULT_MAX_BYTES, *, allow_private: bool = True, budget: float | None = None
) -> Article:
    """An article page someone names: fetched once (no robots.txt: this is not crawling),
    decoded, main text extracted. ``allow_private=False`` refuses loopback and private hosts.
    ``budget``: seconds for the whole fetch, retries and waits included (a service request's
    time left)."""
    import index as ix
    from index._charset import decode as decode_page

    policy = ix.FetchPolicy(max_bytes=max(max_bytes * 20, 5_000_000), retries=2, backoff=0.5)
    with ix.Fetcher(policy) as fetcher:
        try:
            page = fetcher.get(url, kind="html", delay=0.0, allow_private=allow_private, robots=False, budget=budget)
        except ix.FetchError as exc:
            raise InputError(f"cannot fetch {url}: {exc.detail}") from exc
        except (ValueError, UnicodeError) as exc:  # unparseable URL, a host IDNA cannot encode
            raise InputError(f"cannot fetch {url[:200]!r}: not a valid URL ({exc})") from None
    text, _ = decode_page(page.body, page.charset)
    return article_from_html(text, url, max_bytes)


def _describe(info: ModelInfo) -> str:
    adapter = f", adapter {info.adapter}" if info.adapter else ""
    return f"model {info.name!r} (dim {info.dim}{adapter})"


def _fast_embedder(recorded: ModelInfo, precision: str | None) -> Embedder | None:
    """The model's ONNX export, if there is one (no torch import, a few seconds less), in
    ``precision`` (default: ``$TRACER_PRECISION``, else bf16 where this CPU runs it natively)."""
    from tracer.model._onnx import traced_export

    return traced_export(recorded.name, (recorded.query_prompt, recorded.passage_prompt), precision)


def _export_for_next_time(embedder: Embedder, notify: Notify) -> bool:
    """Export a model loaded through torch so the next start is fast; best effort. True when
    an export was made (or found)."""
    from tracer.model._onnx import available, ensure_export, exportable

    if not available() or not isinstance(embedder, SentenceTransformerEmbedder):
        return False
    if exportable(embedder.model) is not None:  # e.g. LaBSE: torch every time, nothing to warn about
        return False
    try:
        ensure_export(embedder, notify)
    except ModelError as exc:
        log.warning("%s; tracing goes on through torch", exc)
        return False
    return True


def _seed_example(path: Path, reason: str, embedder: Embedder | None, notify: Notify) -> Embedder | None:
    """Build the example index at ``path`` with ``embedder``, else with the default model's
    float32 export where one was made before (torch's numbers without importing torch: ~10 s
    of a first run's 18 here), else through torch. Returns the torch model when it was loaded
    (the caller exports it for next time), else None."""
    from index._writer import build_example_index
    from tracer.model._onnx import exported_embedder

    notify(f"{reason}: building the example index from the bundled sources")
    if embedder is None:
        exported = exported_embedder(DEFAULT_MODEL, None, "float32")
        if exported is not None:
            build_example_index(path, exported)
            return None
        embedder = _embed.load_embedder(DEFAULT_MODEL, progress=notify)
    build_example_index(path, embedder)
    return embedder


def _embedder_for_index(path: Path, implicit: bool, model: str | None, notify: Notify,
                        precision: str | None = None) -> tuple[ModelInfo, Embedder]:  # fmt: skip
    """The model recorded in the index at ``path`` (the example on a first run) and an embedder
    that reproduces it; the implicit example index is rebuilt when the model has changed."""
    import index as ix

    embedder: Embedder | None = None
    if implicit and not path.exists():
        embedder = _seed_example(path, f"no index at {path} yet (first run)", None, notify)
    with ix.IndexStore.open(path) as probe:
        recorded, is_example = probe.model, bool(probe.manifest.get("example"))
    if model is not None and model != recorded.name:
        raise ReferenceIndexError(
            f"index at {path} was built with model {recorded.name!r}, not {model!r}; "
            f"drop --model or use an index built with {model!r}"
        )
    if embedder is None:
        embedder = _fast_embedder(recorded, precision)
    if embedder is None or not embedder.info.compatible_with(recorded):
        embedder = _embed.load_embedder(recorded.name, progress=notify,
                                 prompts=(recorded.query_prompt, recorded.passage_prompt))  # fmt: skip
    if not embedder.info.compatible_with(recorded):
        if not (implicit and is_example):
            raise ReferenceIndexError(
                f"index at {path} was built with {_describe(recorded)}, but {recorded.name!r} now loads as "
                f"{_describe(embedder.info)}; rebuild it with `trace index add` (into a new --index directory)"
            )
        shutil.rmtree(path)
        _seed_example(path, f"the example index at {path} was built with another model", embedder, notify)
    if _export_for_next_time(embedder, notify):
        # the first run traces as every later one will (the export, in the same precision), not
        # through the torch model it has just indexed with: the same article, the same report
        fast = _fast_embedder(recorded, precision)
        if fast is not None and fast.info.compatible_with(recorded):
            embedder = fast
    return recorded, embedder


_LOCKED_STORE_METHODS = frozenset({"search"})
"""A store's methods that take the encoder's lock: the vector search uses both cores as the
encoder does, and the two at once only slow each other (`benchmarks/serve_load.py`)."""


class Tracer:
    """Traces Indonesian articles against one reference index.

    Opening loads the model and the decision rule once; each :meth:`trace` reads one consistent
    generation of the index (a refresh published meanwhile is used from the next call on, while
    calls already running finish on theirs). Safe to call from several threads.

    >>> from tracer import Tracer  # doctest: +SKIP
    >>> with Tracer.open() as t:  # the bundled example index on a first run
    ...     report = t.trace(open("artikel.txt").read(), name="artikel.txt", before="2025-07-25")
    ...     [s.status for s in report.sentences][:3]
    ['possible', 'traced', 'traced']
    """

    def __init__(self, path: Path, embedder: Embedder, rule: DecisionRule, *,
                 detector: LanguageDetector | None = None, outlets: OutletTable | None = None,
                 piece_cache_mb: int = PIECE_CACHE_MB) -> None:  # fmt: skip
        import index as ix

        self.path = path
        self.rule = rule
        self._detector = detector
        self._detector_lock = threading.Lock()
        self.outlets = outlets or OutletTable.load()
        self._stores: queue.SimpleQueue[ix.IndexStore] = queue.SimpleQueue()
        self._all: list[ix.IndexStore] = []
        self._guard = threading.Lock()
        self._idle = threading.Condition(self._guard)
        self._active = 0
        """Calls holding a pooled store; ``close`` waits for them."""
        self._closed = False
        self._shared: tuple[int, Any] | None = None  # (generation, faiss index) searched by every pooled store
        # one encoder run or vector search at a time: each uses both cores (and torch tokenizers are not re-entrant)
        self._compute_lock = threading.Lock()
        locked: Embedder = _Locked(embedder, self._compute_lock)  # type: ignore[assignment]
        self._encoder = PieceCache(locked, piece_cache_mb * 2**20) if hasattr(locked, "token_vectors") else locked  # type: ignore[arg-type]
        """What articles are embedded with: one call at a time, passages' word pieces kept between articles."""
        with self._store() as store:  # fails now, not at the first request, if the index is unreadable
            store.vector_index()

    @classmethod
    def open(cls, index_dir: str | Path | None = None, *, model: str | None = None, threshold: float | None = None,
             notify: Notify = log_notice, piece_cache_mb: int = PIECE_CACHE_MB,
             precision: str | None = None) -> Tracer:  # fmt: skip
        """Open the index at ``index_dir`` (default: ``$TRACER_INDEX``, else the user data
        directory, seeded with the bundled example on a first run) with the model it was built
        with. ``model`` only checks that it is that one; ``threshold`` overrides the calibrated one;
        ``notify`` receives progress notices (model conversion, first-run seeding);
        ``piece_cache_mb`` bounds the candidates' word pieces kept between articles (0: none);
        ``precision`` is what articles are encoded with (``auto``, ``float32`` or ``bf16``; default
        ``$TRACER_PRECISION``, else ``auto``: bf16 where OpenVINO runs it natively on this CPU)."""
        path, implicit = resolve_index(Path(index_dir) if index_dir is not None else None)
        recorded, embedder = _embedder_for_index(path, implicit, model, notify, precision)
        rule = rule_for(recorded.name).with_threshold(threshold)
        return cls(path, embedder, rule, piece_cache_mb=piece_cache_mb)

    @property
    def embedder(self) -> Embedder:
        """The model articles are embedded with, safe to call from any thread (its calls take
        turns with tracing's, and passages' word pieces come from the shared cache)."""
        return self._encoder

    @property
    def detector(self) -> LanguageDetector:
        """Loaded on first use (most of a second): callers that prepare articles themselves never need
        it. Once, under a lock: threads loading it together failed in CPython 3.11's ast parser
        ("AST constructor recursion depth mismatch", from numpy reading the model's arrays)."""
        with self._detector_lock:
            if self._detector is None:
                self._detector = LanguageDetector()
            return self._detector

    # -- the store pool ----------------------------------------------------------------------

    @contextmanager
    def _store(self) -> Iterator[object]:
        """A store for this call: one per concurrent caller (a SQLite connection and its faiss
        index are used by one thread at a time), reused across calls, caught up per generation."""
        import index as ix

        with self._guard:
            if self._closed:
                raise TracerError("tracer is closed; open a new Tracer")
            self._active += 1
        try:
            try:
                store = self._stores.get_nowait()
            except queue.Empty:
                store = ix.IndexStore.open(self.path, threads=True)
                with self._guard:
                    self._all.append(store)
            try:
                with store.snapshot():
                    self._share_vectors(store)
                    yield store
            finally:
                self._stores.put(store)
        finally:
            with self._guard:
                self._active -= 1
                self._idle.notify_all()

    def _share_vectors(self, store: Any) -> None:
        """One vector index per generation for all pooled stores (at 100k units it is ~150 MB)."""
        generation = store.generation
        with self._guard:
            shared = self._shared
        if shared is not None and shared[0] == generation:
            store.adopt(*shared)
        elif shared is None or shared[0] < generation:
            found = store.shared_vectors()
            with self._guard:
                if self._shared is None or self._shared[0] < found[0]:
                    self._shared = found

    # -- tracing -------------------------------------------------------------------------------

    def prepare(self, text: str, name: str = "<text>", max_bytes: int = DEFAULT_MAX_BYTES) -> Prepared:
        """Check and segment ``text`` (an article's own text, not a path): empty, binary-looking
        or oversized text is refused with an :class:`InputError`."""
        return prepare(decode(text.encode("utf-8", "surrogatepass"), name, max_bytes), self.detector)

    def trace(self, article: str | Prepared, *, name: str = "<text>", before: str | date | datetime | None = None,
              top_k: int = 3, threshold: float | None = None) -> Report:  # fmt: skip
        """Trace an article's text (or one already :meth:`prepare`-d). ``before``: the article's
        own date; sources published later are ignored."""
        check_options(top_k, threshold, before)
        if not isinstance(article, (str, Prepared)):
            raise InputError(f"article: expected the article's text (str) or a Prepared article, "
                             f"not {type(article).__name__}")  # fmt: skip
        prepared = article if isinstance(article, Prepared) else self.prepare(article, name)
        rule = self.rule.with_threshold(threshold)
        warnings = list(prepared.warnings)
        if not rule.calibrated:
            warnings.append(f"model {rule.model!r} has no calibration; verdicts use a generic margin rule")
            log.warning("%s", warnings[-1])
        from tracer import __version__

        with self._store() as store:
            options = TraceOptions(top_k=top_k, before=before_iso(before), known_outlets=store.outlets(),
                                   outlets=self.outlets)  # fmt: skip
            searched = _Locked(store, self._compute_lock, _LOCKED_STORE_METHODS)
            return trace_text(prepared.text, name=prepared.name, embedder=self._encoder, index=searched, rule=rule,
                              index_info=store.describe(), options=options, warnings=warnings,
                              tracer_version=__version__, sentences=prepared.sentences)  # fmt: skip

    def warm_up(self) -> None:
        """Trace the bundled example article once and forget it, so what the first article would
        pay is paid now: the language detector loads (most of a second) and the encoder sizes its
        buffers (~130 MB of RSS with the default model). A service calls it before it says ready."""
        from importlib import resources

        self.trace(resources.files("tracer.example").joinpath("artikel.txt").read_text(encoding="utf-8"),
                   name="warm-up")  # fmt: skip

    def trace_url(self, url: str, *, allow_private: bool = True, max_bytes: int = DEFAULT_MAX_BYTES,
                  before: str | date | datetime | None = None, top_k: int = 3,
                  threshold: float | None = None) -> Report:  # fmt: skip
        """Fetch an article page, extract its text and trace it."""
        check_options(top_k, threshold, before)
        if not isinstance(url, str):
            raise InputError(f"url: expected an http(s) URL as a string, not {type(url).__name__}")
        article = fetch_article(url, max_bytes, allow_private=allow_private)
        return self.trace(prepare(article, self.detector), before=before, top_k=top_k, threshold=threshold)

    def stats(self) -> dict[str, object]:
        """The index's statistics (``trace index stats --format json``)."""
        with self._store() as store:
            return store.stats()

    @property
    def generation(self) -> int:
        with self._store() as store:
            return store.generation

    # -- lifetime -----------------------------------------------------------------------------

    def close(self) -> None:
        """Refuse new calls, wait for running ones to finish, then close the pooled stores.
        Later calls raise ``TracerError("tracer is closed")``. Closing twice is harmless."""
        with self._guard:
            self._closed = True
            self._idle.wait_for(lambda: self._active == 0)
            for store in self._all:
                store.close()
            self._all.clear()

    def __enter__(self) -> Tracer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class _Locked:
    """``inner`` with its methods (or only those named in ``methods``) run one call at a time
    under ``lock``; other attributes pass through, absent ones stay absent, so callers can tell
    what it can do (``token_vectors``)."""

    def __init__(self, inner: Any, lock: threading.Lock, methods: frozenset[str] | None = None) -> None:
        self._inner = inner
        self._lock = lock
        self._methods = methods

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute) or (self._methods is not None and name not in self._methods):
            return attribute

        def locked(*args: object, **kwargs: object) -> object:
            with self._lock:
                return attribute(*args, **kwargs)

        return locked
