"""`trace index import --engine ray`: the same import spread over a Ray cluster (or this machine's
cores in local mode), for backfills too big for one process.

Ray Data reads the archive files in parallel and extracts their pages in tasks (the same
``read_archive`` and ``page_document`` as the in-process import); an actor pool embeds them, one
loaded embedder per actor (the ONNX int8 export `trace index add` uses), and the documents are
written as Parquet shards: metadata, text, units and vectors. tracer then merges the shards
into the index (``_shards.merge_shards``), idempotently.

Sizing: each embedding actor asks for ``ACTOR_CPUS`` of a CPU, so that the read-and-extract
tasks always find a CPU: with 2 CPUs, two actors asking for one each left no CPU for the reads
and the dataset hung (measured: issue 30). Ray is an optional extra (`pip install tracer[ray]`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tracer import Embedder, InputError
from tracer._cpus import usable_cpus
from tracer.tracing._langid import LanguageDetector

from ._import import ArchivePage, Skipped, _Damaged, page_document, read_archive, source_for
from ._ingest import content_sha256, units_for
from ._sources import Source

log = logging.getLogger(__name__)

ACTOR_CPUS = 0.5
"""CPU each embedding actor asks Ray for (the encoder itself uses the threads it is given)."""
BATCH_DOCS = 32
"""Documents an actor embeds at a time."""


def available() -> bool:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        return False
    return True


def require_ray() -> None:
    if not available():
        raise InputError("--engine ray needs Ray: pip install 'tracer[ray]' (ray[data] and pyarrow)")


@dataclass(frozen=True)
class RayPlan:
    address: str | None = None
    """A running cluster's address (`ray start --head` prints it); None: local mode on this machine."""
    workers: int | None = None
    """Embedding actors; None: one per CPU Ray sees."""
    cpus: int | None = None
    """CPUs for local mode; None: all of this machine's."""


def extract_file(row: dict[str, Any], sources: Sequence[Source]) -> Iterator[dict[str, Any]]:
    """The documents of one archive file, as rows (runs in a Ray task)."""
    path = Path(row["path"])
    detectors: dict[tuple[str, ...], LanguageDetector] = {}
    try:
        for item in read_archive(path):
            if isinstance(item, Skipped):
                continue
            doc_row = _document_row(item, sources, detectors)
            if doc_row is not None:
                yield doc_row
    except _Damaged as exc:  # the pages before the damage were given; the damage travels to the merge
        yield {**dict.fromkeys(_COLUMNS, ""), "published": None, "damaged": str(exc)}


def _document_row(item: ArchivePage, sources: Sequence[Source],
                  detectors: dict[tuple[str, ...], LanguageDetector]) -> dict[str, Any] | None:  # fmt: skip
    source = source_for(sources, item.url)
    if source is None:
        return None
    detector = None
    if len(source.langs) > 1:
        detector = detectors.setdefault(source.langs, LanguageDetector(source.langs))
    try:
        doc = page_document(item, source, detector)
    except (InputError, ValueError):
        return None
    m = doc.meta
    return {"url": m.url, "outlet": m.outlet, "lang": m.lang, "title": m.title, "published": m.published,
            "text": doc.text, "content_sha256": content_sha256(doc), "source": source.name, "page_url": item.url,
            "damaged": None}  # fmt: skip


_COLUMNS = ("url", "outlet", "lang", "title", "text", "content_sha256", "source", "page_url")
"""A damaged file's row has these empty: it carries only its ``damaged`` message to the merge."""


class EmbedUnits:
    """A Ray actor: one embedder, loaded once; documents in, the same rows with their units and
    vectors out."""

    def __init__(self, factory: Callable[[], Embedder], window: int, threads: int) -> None:
        # the actors' encoders share the node's CPUs with each other and with the extraction
        # tasks: each gets its share of threads, not one per CPU (benchmarks/import_scale.py:
        # 2 actors on 2 cores, 128 units/s with 2 threads each, 142 with 1)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        self.embedder = factory()
        self.window = window

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        from tracer import SourceDoc

        from ._documents import Document

        rows = batch.to_pylist()
        planned = []
        for r in rows:
            if r.get("damaged"):
                planned.append([])
                continue
            doc = Document(SourceDoc(r["url"], r["outlet"], r["lang"], r["title"] or "", r["published"]), r["text"])
            planned.append(units_for(doc, self.window))
        texts = [u[4] for units in planned for u in units]
        vectors = self.embedder.embed(texts, role="passage") if texts else []
        offset = 0
        for r, units in zip(rows, planned, strict=True):
            r["units"] = [{"first": f, "last": la, "start": s, "end": e, "text": t,
                           "vector": np.asarray(vectors[offset + k], dtype=np.float32).tobytes()}
                          for k, (f, la, s, e, t) in enumerate(units)]  # fmt: skip
            offset += len(units)
        return pa.Table.from_pylist(rows)


def write_shards(paths: Sequence[Path], sources: Sequence[Source], factory: Callable[[], Embedder], out: Path, *,
                 window: int, plan: RayPlan = RayPlan()) -> int:  # fmt: skip
    """Run the import's extract-and-embed on Ray into Parquet shards under ``out``; returns the
    number of embedding actors used."""
    require_ray()
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        cpus = None if plan.address else (plan.cpus or usable_cpus())
        ray.init(address=plan.address, num_cpus=cpus, include_dashboard=False, log_to_driver=False,
                 configure_logging=False, ignore_reinit_error=True)  # fmt: skip
    try:
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        total = int(ray.cluster_resources().get("CPU", 1))
        workers = plan.workers or max(1, total)
        items = ray.data.from_items([{"path": str(p)} for p in paths], override_num_blocks=max(1, len(paths)))
        docs = items.flat_map(extract_file, fn_kwargs={"sources": tuple(sources)})
        threads = max(1, round(total / workers))  # each actor's share of the CPUs Ray sees
        kwargs = {"factory": factory, "window": window, "threads": threads}
        embedded = docs.map_batches(EmbedUnits, fn_constructor_kwargs=kwargs,
                                    batch_size=BATCH_DOCS, batch_format="pyarrow",
                                    compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=ACTOR_CPUS)  # fmt: skip
        out.mkdir(parents=True, exist_ok=True)
        embedded.write_parquet(str(out))
        return workers
    finally:
        if started_here:
            ray.shutdown()
