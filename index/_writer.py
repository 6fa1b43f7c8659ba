"""One entry point for writing an index: pick the model the index already holds (or the one
asked for), the fastest embedder that reproduces it, and hold the write lock while adding."""

from __future__ import annotations

import functools
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Literal

from tracer._errors import ModelError, ReferenceIndexError
from tracer.model import _embed
from tracer.model._embed import DEFAULT_MODEL, Embedder, ModelInfo, Notify, SentenceTransformerEmbedder, log_notice

from ._crawl import Crawler, CrawlOptions, CrawlSummary
from ._documents import Document, read_jsonl
from ._fetch import Fetcher
from ._import import ArchiveImporter, ImportSummary
from ._ingest import WINDOW, AddSummary, add_documents, manifest_for
from ._ray import RayPlan, write_shards
from ._shards import MergeSummary, merge_shards
from ._sources import CrawlConfig, Source
from ._store import IndexStore

log = logging.getLogger("tracer")

SCRATCH_SHARDS = ".import-shards-"
"""Prefix of the scratch directories (in the index) of Ray imports given no shards directory."""

Backend = Literal["auto", "onnx-int8", "torch"]


def passage_embedder(embedder: Embedder, backend: Backend, notify: Notify = log_notice) -> tuple[Embedder, str]:
    """The embedder for source sentences and the backend it really uses: a model the ONNX export
    cannot reproduce (another pooling, or a stand-in) stays in torch, with a warning if int8
    was asked for by name."""
    if backend == "torch":
        return embedder, "torch"
    from tracer.model._onnx import int8_embedder

    fallback = log.info if backend == "auto" else log.warning  # only a backend asked for by name is missed
    if not isinstance(embedder, SentenceTransformerEmbedder):
        fallback("onnx-int8 needs a sentence-transformers model; embedding with %s as loaded", embedder.info.name)
        return embedder, "torch"
    try:
        return int8_embedder(embedder, notify), "onnx-int8"
    except ModelError as exc:
        fallback("%s; embedding with torch float32 instead", exc)
        return embedder, "torch"


def indexing_embedder(name: str, prompts: tuple[str, str] | None, backend: Backend, recorded: ModelInfo | None = None,
                      notify: Notify = log_notice) -> tuple[Embedder, str]:  # fmt: skip
    """The model's int8 export alone when it exists (torch is then never loaded: faster start,
    ~1 GB less memory), else the model through torch and ``passage_embedder``. A model that
    does not fit the ``recorded`` one of an existing index is not exported: the index refuses it."""
    if backend in ("auto", "onnx-int8"):
        from tracer.model._onnx import exported_embedder

        found = exported_embedder(name, prompts, "int8")
        if found is not None:
            return found, "onnx-int8"
    embedder = _embed.load_embedder(name, progress=notify, prompts=prompts)
    if recorded is not None and not embedder.info.compatible_with(recorded):
        return embedder, "torch"
    return passage_embedder(embedder, backend, notify)


def load_indexing_embedder(name: str, prompts: tuple[str, str], backend: Backend) -> Embedder:
    """An index's embedder loaded afresh, as a Ray actor loads it (picklable by name: a
    ``functools.partial`` of this travels to the workers, the model does not)."""
    return indexing_embedder(name, prompts, backend)[0]


def example_sources() -> Path:
    """The bundled example's source documents (shipped inside the ``tracer`` package)."""
    return Path(str(resources.files("tracer").joinpath("example", "sources.jsonl")))


class IndexWriter:
    """An index open for writing under its lock, with the embedder its passages are made with.

    Use as a context manager; :func:`open_for_writing` makes one."""

    def __init__(self, store: IndexStore, embedder: Embedder, backend: str) -> None:
        self.store = store
        self.embedder = embedder
        self.backend = backend
        self._lock = store.write_lock()

    @property
    def path(self) -> Path:
        return self.store.path

    def __enter__(self) -> IndexWriter:
        try:
            self._lock.__enter__()
        except BaseException:
            self.store.close()
            raise
        recorded = self.store.manifest.get("passage_backend")
        if recorded != self.backend:  # how passages were embedded; "mixed" once two backends wrote
            self.store.update_manifest(passage_backend=self.backend if recorded in (None, self.backend) else "mixed")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            self._lock.__exit__(kind, exc, tb)
        finally:
            self.store.close()

    def add(self, docs: Iterable[Document], *, batch_docs: int = 64, progress: Callable[[int], None] | None = None,
            example: bool = False) -> AddSummary:  # fmt: skip
        """Store ``docs`` in atomic batches (same URL: replaced) and publish the new generation."""
        if self.store.manifest.get("example") and not example:
            self.store.update_manifest(example=False)  # now holds the user's documents: never rebuild it
        return add_documents(self.store, docs, self.embedder, batch_docs=batch_docs, progress=progress)

    def import_archives(self, paths: Sequence[Path], sources: Sequence[Source], *, batch_docs: int = 64,
                        progress: Callable[[int], None] | None = None) -> ImportSummary:  # fmt: skip
        """Import WARC and JSONL archives: the pages of ``sources`` (their allow rules), resumably."""
        if self.store.manifest.get("example"):
            self.store.update_manifest(example=False)
        importer = ArchiveImporter(self.store, self.embedder, sources, batch_docs=batch_docs, progress=progress)
        return importer.run(paths)

    def import_with_ray(self, paths: Sequence[Path], sources: Sequence[Source], shards: Path | None, plan: RayPlan,
                        *, factory: Callable[[], Embedder] | None = None, batch_docs: int = 64,
                        progress: Callable[[int], None] | None = None) -> tuple[int, MergeSummary]:  # fmt: skip
        """The same import with Ray, through Parquet ``shards``, merged here; returns the actors
        used and the merge's summary. ``factory`` makes each actor's embedder (default: this
        index's model, loaded by name in each actor with this writer's backend). ``shards=None``:
        a scratch directory in the index, removed afterwards; scratch directories that a killed
        import left behind are removed first (this writer holds the lock: none is in use)."""
        if shards is None:
            for stale in self.path.glob(f"{SCRATCH_SHARDS}*"):
                log.info("removing %s, left by an interrupted import", stale)
                shutil.rmtree(stale, ignore_errors=True)
            scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_SHARDS, dir=self.path))
            try:
                return self.import_with_ray(paths, sources, scratch, plan, factory=factory, batch_docs=batch_docs,
                                            progress=progress)  # fmt: skip
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        if self.store.manifest.get("example"):
            self.store.update_manifest(example=False)
        if factory is None:
            info = self.embedder.info
            backend: Backend = "onnx-int8" if self.backend == "onnx-int8" else "torch"
            factory = functools.partial(load_indexing_embedder, info.name, (info.query_prompt, info.passage_prompt),
                                        backend)  # fmt: skip
        window = int(self.store.manifest.get("window", WINDOW))  # type: ignore[call-overload]
        workers = write_shards(paths, sources, factory, shards, window=window, plan=plan)
        return workers, merge_shards(self.store, shards, batch_docs=batch_docs, progress=progress)

    def crawl(self, sources: list[Source], config: CrawlConfig, options: CrawlOptions, *, command: str = "build",
              fetcher: Fetcher | None = None, on_total: Callable[[int], None] | None = None,
              on_advance: Callable[[int], None] | None = None) -> CrawlSummary:  # fmt: skip
        """Crawl ``sources`` into the index (``fetcher``: a test's own transport; default: ``config.policy``)."""
        if self.store.manifest.get("example"):
            self.store.update_manifest(example=False)
        own = fetcher is None
        fetcher = fetcher or Fetcher(config.policy)
        try:
            crawler = Crawler(self.store, fetcher, self.embedder, options, on_total=on_total, on_advance=on_advance)
            return crawler.run(sources, command=command)
        finally:
            if own:
                fetcher.close()


def open_for_writing(path: str | Path, model: str | None = None, backend: Backend = "auto", *,
                     create: bool = True, replace_example: bool = False, example: bool = False,
                     notify: Notify = log_notice) -> IndexWriter:  # fmt: skip
    """Open (or create) the index at ``path`` for writing.

    An existing index keeps its own model (``model`` naming another is refused); a new one is
    made with ``model`` or the default. ``create=False`` refuses a missing index;
    ``replace_example=True`` deletes the bundled example index found there first.

    >>> with open_for_writing("/srv/tracer/index") as writer:  # doctest: +SKIP
    ...     writer.add(read_jsonl(Path("sources.jsonl")))
    """
    path = Path(path).expanduser()
    recorded: ModelInfo | None = None
    if IndexStore.exists(path):
        with IndexStore.open(path) as existing:
            recorded, is_example = existing.model, bool(existing.manifest.get("example"))
        if replace_example and is_example:
            notify(f"replacing the example index at {path}")
            shutil.rmtree(path)
            model, recorded = model or recorded.name, None
        elif model is not None and model != recorded.name:
            raise ReferenceIndexError(
                f"index at {path} holds vectors of model {recorded.name!r}, not {model!r}; "
                f"use --model {recorded.name!r} (or none) or a new --index directory"
            )
    elif not create:
        raise ReferenceIndexError(f"no index at {path}; create it with `trace index build`")
    if recorded is not None:
        embedder, used = indexing_embedder(recorded.name, (recorded.query_prompt, recorded.passage_prompt), backend,
                                           recorded, notify)  # fmt: skip
    else:
        embedder, used = indexing_embedder(model or DEFAULT_MODEL, None, backend, None, notify)
    return writer_for(path, embedder, used, example=example, notify=notify)


def writer_for(path: Path, embedder: Embedder, backend: str, *, example: bool = False,
               notify: Notify = log_notice) -> IndexWriter:  # fmt: skip
    """A writer over an embedder the caller already has (e.g. the one a tracer just loaded)."""
    manifest = {**manifest_for(embedder), **({"example": True} if example else {})}
    store = IndexStore.create(path, manifest)
    store.notify = notify
    return IndexWriter(store, embedder, backend)


def build_example_index(path: Path, embedder: Embedder, backend: str = "torch") -> AddSummary:
    """The bundled example as an index at ``path``; marked so it may be rebuilt when the model changes."""
    with writer_for(path, embedder, backend, example=True) as writer:
        return writer.add(read_jsonl(example_sources()), example=True)
