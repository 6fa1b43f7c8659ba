"""The vector file: a faiss index of the units' vectors, a cache of SQLite's (the reference),
published per generation with a checksum, verified when opened, caught up with SQLite by id,
and shared between the stores of one process.

A part of :class:`index.IndexStore`, mixed in: it uses the store's connection and model.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from tracer._errors import ReferenceIndexError
from tracer._files import sha256_file

from . import _vectors

log = logging.getLogger(__name__)

NORM_SLACK = 0.01
"""How far a stored vector's length may be from 1 (all are normalized when written; int8 and
bf16 encodings are normalized after): more is damage, which would otherwise come back as
confident wrong matches."""


class VectorFile:
    """``vectors-<generation>.faiss`` and the in-memory index searched (``IndexStore`` supplies the rest)."""

    path: Path
    exact_limit: int
    _conn: sqlite3.Connection
    _faiss: faiss.Index | None
    _faiss_generation: int
    _faiss_shared: bool
    _writable: bool
    notify: Callable[[str], None]
    _published_at: float
    _transaction: Any
    generation: Any
    model: Any

    def publish(self) -> None:
        """Write the vector file for the current generation (atomically) and drop older ones.

        The file only saves readers the work of adding SQLite's vectors to an older one, so a
        failure to write it (a full disk) loses nothing: it is a warning, and the half-written
        temporary file is removed (as are any a crashed writer left behind)."""
        generation = self.generation
        index = self.vector_index()
        target = self.path / f"vectors-{generation}.faiss"
        for stale in self.path.glob("vectors-*.faiss.tmp-*"):  # under the write lock: no other writer's
            stale.unlink(missing_ok=True)
        if not target.exists():
            tmp = target.with_suffix(f".faiss.tmp-{os.getpid()}")
            try:
                faiss.write_index(index, str(tmp))
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
                digest = sha256_file(tmp)
                with self._transaction() as conn:  # the checksum first: a file without its own is not trusted
                    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('vectors_sha256', ?)",
                                 (json.dumps({"file": target.name, "sha256": digest}),))  # fmt: skip
                os.replace(tmp, target)
                _fsync_dir(self.path)
            except (RuntimeError, OSError) as exc:
                tmp.unlink(missing_ok=True)
                free = shutil.disk_usage(self.path).free
                log.warning("could not write the vector file %s (%s; %.0f MB free): the documents are stored, and "
                            "searches add their vectors from the database until a later run writes it",
                            target, str(exc).strip().splitlines()[-1][:200], free / 1e6)  # fmt: skip
                return
        for old in self.path.glob("vectors-*.faiss*"):
            if old != target:
                old.unlink(missing_ok=True)
        self._published_at = time.monotonic()

    def _vectors(self, where: str = "", params: tuple[object, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
        dim = self.model.dim
        rows = self._conn.execute(f"SELECT id, vector FROM units {where} ORDER BY id", params).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        blobs = [r[1] for r in rows]
        bad = _vectors.bad_blob(blobs, dim)
        if bad is not None:
            raise self._damaged(f"the stored vector of unit {rows[bad][0]} is not {dim} float16 or float32 values")
        vecs = _vectors.decode(blobs, dim) if rows else np.zeros((0, dim), np.float32)
        norms = np.linalg.norm(vecs, axis=1) if len(rows) else np.zeros(0)
        wrong = np.flatnonzero(~np.isfinite(norms) | (np.abs(norms - 1.0) > NORM_SLACK))
        if len(wrong):
            raise self._damaged(f"the stored vector of unit {ids[wrong[0]]} is not a unit vector "
                                f"(norm {norms[wrong[0]]:.3g})")  # fmt: skip
        return ids, vecs

    def _damaged(self, what: str) -> Exception:
        return ReferenceIndexError(f"index at {self.path} is damaged: {what}; rebuild it with `trace index add`")

    def _stored(self, ids: np.ndarray, chunk: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids found, their vectors) for ``ids``, ``chunk`` ids per query."""
        for start in range(0, len(ids), chunk):
            part = [int(i) for i in ids[start : start + chunk]]
            yield self._vectors(f"WHERE id IN ({','.join('?' * len(part))})", tuple(part))

    def _vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """Stored float32 vectors of ``ids``, row for row."""
        out = np.zeros((len(ids), self.model.dim), np.float32)
        row = {int(i): n for n, i in enumerate(ids)}
        for found, vecs in self._stored(ids, 500):
            out[[row[int(i)] for i in found]] = vecs
        return out

    def _all_ids(self) -> np.ndarray:
        return np.fromiter((r[0] for r in self._conn.execute("SELECT id FROM units")), dtype=np.int64)

    def _new_faiss(self, factory: str, ids: np.ndarray) -> faiss.Index:
        """An empty ``factory`` index (trained on a sample of ``ids``' vectors if it needs training)."""
        dim = self.model.dim
        if factory == _vectors.FLAT:
            return faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
        size = min(len(ids), 64 * _vectors.nlist_for(len(ids)))
        sample = np.sort(np.random.default_rng(0).choice(ids, size, replace=False))
        self.notify(f"training a new vector index ({factory}) on {size:,} of the index's {len(ids):,} vectors "
                    "(up to a minute; again each time the index grows ~4x)")  # fmt: skip
        return _vectors.train(factory, dim, self._vectors_of(sample))

    def _newest_file(self, flags: int = 0) -> faiss.Index | None:
        """The newest readable vector file no newer than the current generation, if any
        (``flags``: faiss IO flags, e.g. to map it rather than read it)."""
        current = self.generation
        files = []
        for path in self.path.glob("vectors-*.faiss"):
            try:
                generation = int(path.stem.split("-", 1)[1])
            except ValueError:
                continue
            if generation <= current:
                files.append((generation, path))
        for _, path in sorted(files, reverse=True):
            if not flags and not self._intact(path):
                continue
            try:
                index = faiss.read_index(str(path), flags)
            except RuntimeError:  # removed by a writer meanwhile, or damaged
                continue
            if index.d == self.model.dim:
                return index
        return None

    def _recorded_checksum(self) -> dict[str, str] | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'vectors_sha256'").fetchone()
        try:
            return json.loads(row[0]) if row else None
        except ValueError:
            return None

    def _intact(self, path: Path) -> bool:
        """Whether ``path`` is the vector file as published: its SHA-256 is the one recorded for it.
        A damaged one is skipped with a warning (searches then rebuild from SQLite's vectors, which
        are the reference). Indexes from before checksums were recorded are trusted as they were."""
        recorded = self._recorded_checksum()
        if recorded is None:
            return True
        if recorded.get("file") != path.name:
            return False  # an older file, or one whose publishing was cut short: not the checked one
        try:
            actual = sha256_file(path)
        except FileNotFoundError:
            return False
        if actual != recorded.get("sha256"):
            log.warning("the vector file %s is damaged (its checksum is not the one recorded when it was written); "
                        "searching vectors rebuilt from the index database instead, and the next "
                        "`trace index add` or refresh writes a good file", path)  # fmt: skip
            return False
        return True

    def vector_file_status(self) -> str:
        """For `index stats`: whether the newest vector file is the one published."""
        files = sorted(self.path.glob("vectors-*.faiss"))
        if not files:
            return "none yet (searches use the database's vectors)"
        newest = max(files, key=lambda p: int(p.stem.split("-", 1)[1]) if p.stem.split("-", 1)[1].isdigit() else -1)
        if self._recorded_checksum() is None:
            return f"{newest.name} (no checksum recorded: written by an older tracer)"
        return (
            f"{newest.name} verified" if self._intact(newest) else f"{newest.name} DAMAGED (rebuilt in memory on use)"
        )

    def _catch_up(self, index: faiss.Index) -> faiss.Index:
        """Make ``index`` hold exactly SQLite's units: drop ids it no longer has, add the ones
        missing; a new index of another type when the count has outgrown (or shrunk below) its own."""
        want = self._all_ids()
        factory = self._rebuild_as(index, len(want))
        if factory is not None:
            index = self._new_faiss(factory, want)
        have = _vectors.ids_in(index)
        stale = np.setdiff1d(have, want, assume_unique=True)
        if stale.size:
            index.remove_ids(stale)
        missing = np.setdiff1d(want, have, assume_unique=True)
        for ids, vecs in self._stored(missing, 10_000):
            index.add_with_ids(vecs, ids)
        return index

    def _rebuild_as(self, index: faiss.Index | None, count: int) -> str | None:
        """The type to rebuild ``index`` (None: no file) as for ``count`` vectors, or None to keep
        it. Only a writer trains an IVF-PQ index (tens of seconds) and publishes it: a reader
        whose file no longer suits the size (an index built under another limit) keeps searching
        it, caught up and exactly scored, until the next `index add` or refresh publishes one."""
        if index is not None and not _vectors.needs_rebuild(index, count, self.exact_limit):
            return None
        factory = _vectors.factory_for(count, self.model.dim, self.exact_limit)
        if factory != _vectors.FLAT and not self._writable:
            return None if index is not None else _vectors.FLAT
        return factory

    def vector_index(self) -> faiss.Index:
        """The faiss index for the current generation: the newest file caught up with SQLite."""
        generation = self.generation
        if self._faiss is None or self._faiss_generation != generation:
            index = self._newest_file() if self._faiss is None else self._faiss
            if index is None:
                index = faiss.index_factory(self.model.dim, _vectors.FLAT, faiss.METRIC_INNER_PRODUCT)
            elif self._faiss_shared:
                index = faiss.clone_index(index)
            self._faiss, self._faiss_generation, self._faiss_shared = self._catch_up(index), generation, False
        return self._faiss

    def shared_vectors(self) -> tuple[int, faiss.Index]:
        """(generation, vector index) for other read-only stores of this index to :meth:`adopt`:
        one copy in memory however many threads search it (faiss searches are thread-safe)."""
        return self.generation, self.vector_index()

    def adopt(self, generation: int, index: faiss.Index) -> None:
        """Search ``index`` (another store's, for the same ``generation``) instead of loading one."""
        self._faiss, self._faiss_generation, self._faiss_shared = index, generation, True

    @property
    def vector_index_type(self) -> str:
        """The index type searches use, named without loading it: from the newest file mapped
        read-only (a header read; loading it would read ~600 MB at 10M vectors just to say
        "IVF4096,PQ48"), or the type the unit count calls for when that file will be replaced."""
        return self._vector_index_type()

    def _vector_index_type(self, count: int | None = None) -> str:
        """``vector_index_type``; ``count``: the units, when the caller has counted them already."""
        if self._faiss is not None and self._faiss_generation == self.generation:
            return _vectors.describe(self._faiss)
        if count is None:
            count = int(self._conn.execute("SELECT COUNT(*) FROM units").fetchone()[0])
        mapped = self._newest_file(faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
        kind = self._rebuild_as(mapped, count)
        return _vectors.describe(mapped) if kind is None else kind

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` stored vectors by inner product, exact whatever the index type."""
        return _vectors.search(self.vector_index(), queries, k, self._vectors_of)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
