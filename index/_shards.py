"""Parquet shards: what a distributed import (``--engine ray``) writes, and how tracer merges them
into the index.

One row per document: its metadata, its text, the page it came from, and its units (sentences
and windows) with their vectors (float32 bytes; a list of numbers is read too). Merging is idempotent: a document whose content the index
already holds is left alone, so a shard merged twice, or a merge killed and run again, changes
nothing the second time. Pages whose text the index already holds for the same outlet (another
URL of the same article) are recorded as duplicates, as the in-process import does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from tracer import InputError, SourceDoc

from ._crawlstate import PageState, write_pages
from ._rows import NewDocument, NewUnit
from ._store import IndexStore

DOCUMENT_COLUMNS = ("url", "outlet", "lang", "title", "published", "text", "content_sha256", "source", "page_url")
UNIT_FIELDS = ("first", "last", "start", "end", "text", "vector")


@dataclass
class MergeSummary:
    shards: int = 0
    documents: int = 0
    merged: int = 0
    unchanged: int = 0
    duplicates: int = 0
    units: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    damaged: list[str] = field(default_factory=list)
    """Archive files the extraction found damaged (what was read before the damage is merged)."""


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def shard_files(directory: Path) -> list[Path]:
    files = sorted(directory.rglob("*.parquet")) if directory.is_dir() else []
    if not files:
        raise InputError(f"{directory}: no Parquet shards (*.parquet) to merge")
    return files


def _rows(path: Path) -> Iterator[dict[str, object]]:
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path)
    for batch in table.iter_batches(batch_size=256):
        yield from batch.to_pylist()


def merge_shards(store: IndexStore, directory: Path, *, batch_docs: int = 64,
                 progress: Callable[[int], None] | None = None) -> MergeSummary:  # fmt: skip
    """Write the shards' documents into ``store`` (the caller holds its write lock), in atomic batches."""
    summary = MergeSummary()
    dim = store.model.dim
    seen: dict[str, str] = {}
    pending: list[tuple[NewDocument, PageState]] = []
    duplicates: list[PageState] = []

    def flush() -> None:
        pages = [p for _, p in pending] + duplicates

        def record(conn) -> None:  # type: ignore[no-untyped-def]
            write_pages(conn, pages)

        result = store.write_batch([d for d, _ in pending], also=record)
        summary.merged += result.added + result.replaced
        if progress:
            progress(len(pending) + len(duplicates))
        pending.clear()
        duplicates.clear()

    for path in shard_files(directory):
        summary.shards += 1
        for row in _rows(path):
            if row.get("damaged"):
                summary.damaged.append(str(row["damaged"]))
                continue
            summary.documents += 1
            url, outlet, text = str(row["url"]), str(row["outlet"]), str(row["text"])
            digest = text_sha256(text)
            page = PageState(url=str(row.get("page_url") or url), source=str(row.get("source") or outlet),
                             outlet=outlet, status="stored", doc_url=url, text_sha256=digest)  # fmt: skip
            earlier = [p for p in store.pages_with_text(digest, exclude_url=page.url) if p.outlet == outlet]
            if seen.get(digest) == outlet or earlier:
                summary.duplicates += 1
                duplicates.append(replace(page, status="duplicate", duplicate_of=earlier[0].url if earlier else None))
                continue
            seen[digest] = outlet
            if store.content_hashes([url]).get(url) == row["content_sha256"]:
                summary.unchanged += 1
                continue
            units = []
            for u in row["units"]:  # type: ignore[attr-defined]
                raw = u["vector"]
                vector = (np.frombuffer(raw, dtype=np.float32) if isinstance(raw, bytes)
                          else np.asarray(raw, dtype=np.float32))  # fmt: skip
                if vector.shape != (dim,):
                    raise InputError(
                        f"{path}: a vector of {url} has {vector.shape[0]} values; the index's model has {dim}"
                    )
                units.append(NewUnit(int(u["first"]), int(u["last"]), int(u["start"]), int(u["end"]), str(u["text"]),
                                     vector))  # fmt: skip
            meta = SourceDoc(url=url, outlet=outlet, lang=str(row["lang"]), title=str(row.get("title") or ""),
                             published=row.get("published") or None)  # type: ignore[arg-type]  # fmt: skip
            pending.append((NewDocument(doc=meta, text=text, content_sha256=str(row["content_sha256"]), units=units),
                            page))  # fmt: skip
            summary.units += len(units)
            summary.sources[page.source] = summary.sources.get(page.source, 0) + 1
            if len(pending) >= batch_docs:
                flush()
    flush()
    store.publish()
    return summary
