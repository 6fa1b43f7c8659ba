"""The reference index on disk: SQLite holds documents, sentences and their vectors (the
truth); a faiss file holds the same vectors for fast search, keyed by sentence id.

Crash safety comes from SQLite transactions: a batch of documents is committed in one
transaction that also bumps ``generation``. The faiss file is a cache named after the
generation it mirrors (``vectors-<gen>.faiss``), written to a temporary name and renamed.
Whoever opens the index loads the newest file and catches it up with SQLite (removes ids
SQLite no longer has, adds the ones it lacks), so a file that lags behind, because a writer
was killed or has not published yet, is never trusted as it is and never rebuilt from scratch.
Writers publish a file at the end of a run and at most every ``PUBLISH_EVERY`` seconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

from tracer import ModelInfo, ReferenceIndexError, SourceDoc, SourceUnit
from tracer._dates import parse_instant

from . import _vectors
from ._crawlstate import MAX_FAILURES, CrawlState, PageState
from ._rows import BatchResult, NewDocument, NewUnit, now
from ._vectorfile import VectorFile

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
DB_NAME = "index.sqlite"
LOCK_NAME = "write.lock"
PUBLISH_EVERY = 60.0
"""Seconds between vector-file publications during a long write: bounds readers' catch-up work."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    outlet TEXT NOT NULL,
    lang TEXT NOT NULL,
    title TEXT NOT NULL,
    published TEXT,
    text TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS units (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: the vector file is synced by id
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    first INTEGER NOT NULL,
    last INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS units_doc ON units(doc_id);
CREATE INDEX IF NOT EXISTS documents_outlet ON documents(outlet, lang);
-- Crawl state: what each fetched URL gave, for conditional requests, retries and dedupe.
CREATE TABLE IF NOT EXISTS pages (
    url TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    outlet TEXT NOT NULL,
    status TEXT NOT NULL,          -- stored | duplicate | failed | empty
    doc_url TEXT,                  -- the document holding this page's text (its canonical URL)
    duplicate_of TEXT,             -- an earlier page with the same text (another URL or outlet)
    reason TEXT,                   -- failure reason key
    failures INTEGER NOT NULL DEFAULT 0,
    etag TEXT,
    last_modified TEXT,
    body_sha256 TEXT,
    text_sha256 TEXT,
    checked_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pages_text ON pages(text_sha256);
-- A crawl stages its documents here (durably, batch by batch) and makes them visible to
-- readers in one transaction at the end: readers see the old index or the new one.
CREATE TABLE IF NOT EXISTS staged_documents (
    url TEXT PRIMARY KEY,
    outlet TEXT NOT NULL,
    lang TEXT NOT NULL,
    title TEXT NOT NULL,
    published TEXT,
    text TEXT NOT NULL,
    content_sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS staged_units (
    doc_url TEXT NOT NULL REFERENCES staged_documents(url) ON DELETE CASCADE,
    first INTEGER NOT NULL,
    last INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS staged_units_doc ON staged_units(doc_url);
CREATE TABLE IF NOT EXISTS crawl_runs (
    id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT NOT NULL,
    summary TEXT NOT NULL          -- JSON: counts overall and per source
);
"""


class IndexStore(CrawlState, VectorFile):
    """Open with :meth:`open` (existing index) or :meth:`create` (new or existing, for writers).

    Documents and units live here; the crawl's state (``_crawlstate``) and the vector file
    (``_vectorfile``) are mixed in from modules of their own."""

    def __init__(self, path: Path, conn: sqlite3.Connection, manifest: dict[str, object], writable: bool,
                 exact_limit: int = _vectors.EXACT_LIMIT):  # fmt: skip
        self.path = path
        self.exact_limit = exact_limit
        """Vectors up to which search is exact (flat); past it the vector index is IVF-PQ."""
        self._conn = conn
        self.manifest = manifest
        self._writable = writable
        self._faiss: faiss.Index | None = None
        self._faiss_generation = -1
        self._faiss_shared = False
        """Adopted from another store: never changed in place (the other may be searching it)."""
        self.notify: Callable[[str], None] = log.info
        """Where notices of long steps go (training a vector index); a writer sets its own."""
        self._published_at = time.monotonic()

    # -- opening -------------------------------------------------------------------------

    @staticmethod
    def exists(path: Path) -> bool:
        return (path / DB_NAME).is_file()

    @classmethod
    def open(cls, path: Path, *, writable: bool = False, exact_limit: int = _vectors.EXACT_LIMIT,
             threads: bool = False) -> IndexStore:  # fmt: skip
        """``threads=True``: the store may pass between threads (one at a time), as in a pool."""
        db = path / DB_NAME
        if not db.is_file():
            hint = "build one with `trace index add --index DIR FILE...`"
            if path.exists():
                raise ReferenceIndexError(f"{path} is not a tracer index (no {DB_NAME}); {hint}")
            raise ReferenceIndexError(f"no index at {path}; {hint}")
        conn = cls._connect(db, writable, threads)
        try:
            try:
                row = conn.execute("SELECT value FROM meta WHERE key = 'manifest'").fetchone()
            except sqlite3.OperationalError:
                if writable or not _read_only_mount(path):
                    raise
                # A WAL database needs its -shm file, which a read-only mount cannot get: nobody can
                # write there either, so reading it as immutable is safe.
                conn.close()
                conn = cls._connect(db, writable, threads, immutable=True)
                row = conn.execute("SELECT value FROM meta WHERE key = 'manifest'").fetchone()
            manifest = json.loads(row[0]) if row else None
        except (sqlite3.DatabaseError, ValueError) as exc:
            conn.close()
            raise ReferenceIndexError(f"index at {path} is damaged ({exc}); rebuild it with `trace index add`") from exc
        problem = _manifest_problem(manifest)
        if problem is not None:
            conn.close()
            raise ReferenceIndexError(f"index at {path} is damaged: {problem}; rebuild it with `trace index add`")
        if manifest.get("format") != FORMAT_VERSION:  # type: ignore[union-attr]
            conn.close()
            raise ReferenceIndexError(
                f"index at {path} has format {manifest.get('format')}, this tracer reads "  # type: ignore[union-attr]
                f"format {FORMAT_VERSION}; rebuild it with `trace index add`"
            )
        store = cls(path, conn, manifest, writable, exact_limit)  # type: ignore[arg-type]
        try:
            store.generation  # noqa: B018  (a damaged generation fails now, as one line)
        except ReferenceIndexError:
            conn.close()
            raise
        return store

    @classmethod
    def create(cls, path: Path, manifest: dict[str, object], *, exact_limit: int = _vectors.EXACT_LIMIT) -> IndexStore:
        """Open for writing, creating the index if needed; refuses another model's index."""
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ReferenceIndexError(f"cannot create index directory {path}: {exc.strerror}") from exc
        db = path / DB_NAME
        conn = cls._connect(db, writable=True)
        try:
            conn.execute("BEGIN IMMEDIATE")  # schema and manifest appear together or not at all
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)
            conn.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('manifest', ?), ('generation', '0')",
                (json.dumps({**manifest, "format": FORMAT_VERSION, "created": now()}),),
            )
            conn.execute("COMMIT")
        finally:
            conn.close()
        store = cls.open(path, writable=True, exact_limit=exact_limit)
        recorded = store.model
        wanted = ModelInfo(**manifest["model"])  # type: ignore[arg-type]
        if not recorded.compatible_with(wanted):
            store.close()
            raise ReferenceIndexError(
                f"index at {path} holds vectors of model {recorded.name!r} (dim {recorded.dim}), not "
                f"{wanted.name!r} (dim {wanted.dim}); use --model {recorded.name!r} or a new --index directory"
            )
        return store

    @staticmethod
    def _connect(db: Path, writable: bool, threads: bool = False, immutable: bool = False) -> sqlite3.Connection:
        try:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE for writes, snapshot() for reads).
            if writable:
                conn = sqlite3.connect(db, isolation_level=None, timeout=30)
                # Takes effect only on a new, empty database (and only before WAL is set): lets a
                # crawl hand back the pages its staging used instead of leaving the file twice its size.
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
            else:
                conn = sqlite3.connect(
                    f"{db.absolute().as_uri()}?mode=ro{'&immutable=1' if immutable else ''}",
                    uri=True,
                    isolation_level=None,
                    timeout=30,
                    check_same_thread=not threads,
                )
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise ReferenceIndexError(f"cannot open index database {db}: {exc}") from exc
        return conn

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- metadata ------------------------------------------------------------------------

    @property
    def model(self) -> ModelInfo:
        return ModelInfo(**self.manifest["model"])  # type: ignore[arg-type]

    @property
    def generation(self) -> int:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        try:
            generation = int(row[0])
        except (TypeError, ValueError):
            generation = -1
        if generation < 0:
            value = "missing" if row is None else repr(str(row[0])[:40])
            raise ReferenceIndexError(f"index at {self.path} is damaged: its generation is {value}, not a count; "
                                      "rebuild it with `trace index add`")  # fmt: skip
        return generation

    def outlets(self) -> tuple[str, ...]:
        return tuple(r[0] for r in self._conn.execute("SELECT DISTINCT outlet FROM documents ORDER BY outlet"))

    def describe(self) -> dict[str, object]:
        """What a report says about the index it was traced against."""
        docs, units = self._conn.execute(
            "SELECT (SELECT COUNT(*) FROM documents), (SELECT COUNT(*) FROM units)"
        ).fetchone()
        return {
            "path": str(self.path),
            "generation": self.generation,
            "documents": docs,
            "units": units,
            "segmenter": self.manifest.get("segmenter"),
            "window": self.manifest.get("window"),
            "created": self.manifest.get("created"),
        }

    def stats(self) -> dict[str, object]:
        rows = self._conn.execute(
            """SELECT d.outlet, d.lang, COUNT(DISTINCT d.id), COALESCE(SUM(u.first = u.last), 0)
               FROM documents d LEFT JOIN units u ON u.doc_id = d.id
               GROUP BY d.outlet, d.lang ORDER BY d.outlet, d.lang"""
        ).fetchall()
        newest: dict[tuple[str, str], str] = {}
        for outlet, lang, published in self._conn.execute("SELECT outlet, lang, published FROM documents"):
            key = (outlet, lang)
            if published and (key not in newest or _latest(published) > _latest(newest[key])):
                newest[key] = published  # compared as instants: sources give different time zones
        crawl: dict[str, tuple[str | None, int]] = {}
        with contextlib.suppress(sqlite3.OperationalError):  # an index from before crawling existed
            for outlet, last, failures in self._conn.execute(
                "SELECT outlet, MAX(checked_at), SUM(status = 'failed') FROM pages GROUP BY outlet"
            ):
                crawl[outlet] = (last, int(failures or 0))
        outlets = [
            {"outlet": o, "lang": lang, "documents": d, "sentences": n, "newest": newest.get((o, lang)),
             "last_refresh": crawl.get(o, (None, 0))[0], "failures": crawl.get(o, (None, 0))[1]}
            for o, lang, d, n in rows
        ]  # fmt: skip
        listed = {o for o, *_ in rows}
        outlets += [
            {"outlet": o, "lang": None, "documents": 0, "sentences": 0, "newest": None, "last_refresh": last,
             "failures": failures}
            for o, (last, failures) in sorted(crawl.items()) if o not in listed
        ]  # fmt: skip
        size = 0
        for p in self.path.iterdir():
            with contextlib.suppress(FileNotFoundError):  # a writer may swap a vector file meanwhile
                size += p.stat().st_size if p.is_file() else 0
        described = self.describe()
        return {
            **described,
            "model": self.model.to_dict(),
            "passage_backend": self.manifest.get("passage_backend", "torch"),
            "vector_index": self._vector_index_type(int(described["units"])),  # type: ignore[call-overload]
            "stored_vectors": self.manifest.get("stored_vectors", "float32"),
            "versions": self.manifest.get("versions"),
            "bytes_on_disk": size,
            "vector_file": self.vector_file_status(),
            "last_run": self.last_run(),
            "outlets": outlets,
        }

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[IndexStore]:
        """Read one consistent generation even while a writer commits a new one (WAL snapshot)."""
        self._conn.execute("BEGIN")
        try:
            self._conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()  # pins the snapshot now
            yield self
        finally:
            self._conn.execute("COMMIT")

    # -- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def write_lock(self) -> Iterator[None]:
        """One writer at a time; a second one fails at once with a message instead of corrupting."""
        lock_path = self.path / LOCK_NAME
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                raise ReferenceIndexError(
                    f"index at {self.path} is being updated by another process (pid {holder}); try again when it finishes"
                ) from exc
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)

    def update_manifest(self, **changes: object) -> None:
        self._require_writable()
        self.manifest = {**self.manifest, **changes}
        self._conn.execute("UPDATE meta SET value = ? WHERE key = 'manifest'", (json.dumps(self.manifest),))

    def content_hashes(self, urls: Iterable[str]) -> dict[str, str]:
        """Content hash per URL, of the staged document if one is waiting, else the live one."""
        urls = list(urls)
        out: dict[str, str] = {}
        for table in ("documents", "staged_documents"):
            for i in range(0, len(urls), 500):
                chunk = urls[i : i + 500]
                q = f"SELECT url, content_sha256 FROM {table} WHERE url IN ({','.join('?' * len(chunk))})"
                with contextlib.suppress(sqlite3.OperationalError):  # read-only index from before staging
                    out.update(dict(self._conn.execute(q, chunk).fetchall()))
        return out

    def _require_writable(self) -> None:
        if not self._writable:
            raise ReferenceIndexError(f"index at {self.path} was opened read-only")

    def _vector_blob(self, vector: np.ndarray) -> bytes:
        """A unit vector as this index stores it: the manifest's ``stored_vectors`` (float32 for
        indexes from before the key)."""
        vec = np.ascontiguousarray(vector, dtype=np.float32)
        if vec.shape != (self.model.dim,):
            raise ReferenceIndexError(f"vector of shape {vec.shape} does not fit index dimension {self.model.dim}")
        stored = _vectors.stored_type(self.manifest.get("stored_vectors", "float32"))
        return vec.astype(stored).tobytes()  # type: ignore[arg-type]

    def _bump_generation(self) -> int:
        generation = self.generation + 1
        self._conn.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (str(generation),))
        return generation

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._require_writable()
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except BaseException as exc:
            if self._conn.in_transaction:  # SQLite rolls back by itself on some errors (a full disk)
                self._conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
                raise ReferenceIndexError(
                    f"the disk holding the index at {self.path} is full ({exc}); nothing of this batch was stored "
                    "(earlier batches were); free some space and run the same command again"
                ) from exc
            raise

    def _delete_live(self, url: str) -> bool:
        old = self._conn.execute("SELECT id FROM documents WHERE url = ?", (url,)).fetchone()
        if old:
            self._conn.execute("DELETE FROM documents WHERE id = ?", (old[0],))
        return bool(old)

    def _after_commit(self, generation: int) -> None:
        if self._faiss is not None:
            self._faiss = self._catch_up(self._faiss)
            self._faiss_generation = generation
        if time.monotonic() - self._published_at >= PUBLISH_EVERY:
            self.publish()

    def write_batch(
        self, docs: Sequence[NewDocument], also: Callable[[sqlite3.Connection], None] | None = None
    ) -> BatchResult:
        """Replace-or-insert documents by URL in one transaction, visible to readers at once.
        ``also`` writes more in the same transaction (an import's pages and its position in its
        file: stored together or not at all)."""
        added = replaced = n_units = 0
        with self._transaction() as conn:
            if also is not None:
                also(conn)
            for nd in docs:
                if self._delete_live(nd.doc.url):
                    replaced += 1
                else:
                    added += 1
                d = nd.doc
                cur = conn.execute(
                    "INSERT INTO documents(url, outlet, lang, title, published, text, content_sha256, added_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (d.url, d.outlet, d.lang, d.title, d.published, nd.text, nd.content_sha256, now()),
                )
                conn.executemany(
                    'INSERT INTO units(doc_id, first, last, start, "end", text, vector) VALUES (?, ?, ?, ?, ?, ?, ?)',
                    [(cur.lastrowid, u.first, u.last, u.start, u.end, u.text, self._vector_blob(u.vector))
                     for u in nd.units],
                )  # fmt: skip
                n_units += len(nd.units)
            generation = self._bump_generation() if docs else None
        if generation is not None:
            self._after_commit(generation)
        return BatchResult(added=added, replaced=replaced, units=n_units)

    # -- reading -------------------------------------------------------------------------

    def units(self, ids: Iterable[int]) -> dict[int, SourceUnit]:
        wanted = sorted({int(i) for i in ids if i >= 0})
        out: dict[int, SourceUnit] = {}
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            rows = self._conn.execute(
                f"""SELECT u.id, u.doc_id, u.first, u.last, u.start, u."end", u.text,
                           d.url, d.outlet, d.lang, d.title, d.published
                    FROM units u JOIN documents d ON d.id = u.doc_id
                    WHERE u.id IN ({",".join("?" * len(chunk))})""",
                chunk,
            ).fetchall()
            for uid, doc_id, first, last, start, end, text, url, outlet, lang, title, published in rows:
                doc = SourceDoc(url=url, outlet=outlet, lang=lang, title=title, published=published)
                out[uid] = SourceUnit(uid, doc_id, doc, first, last, start, end, text)
        return out

    def unit_vectors(self, ids: Sequence[int]) -> np.ndarray:
        index = self.vector_index()
        if not len(ids):
            return np.zeros((0, self.model.dim), np.float32)
        if _vectors.is_exact(index):
            return np.stack([index.reconstruct(int(i)) for i in ids])
        return self._vectors_of(np.asarray(ids, dtype=np.int64))  # PQ codes are approximate


def _manifest_problem(manifest: object) -> str | None:
    """What makes a stored manifest unreadable, or None: what the rest of the code relies on."""
    if not isinstance(manifest, dict):
        return f"its manifest is {type(manifest).__name__}, not an object"
    model = manifest.get("model")
    if not isinstance(model, dict):
        return "its manifest names no model"
    try:
        info = ModelInfo(**model)
    except TypeError as exc:
        return f"its manifest's model is incomplete ({exc})"
    if not isinstance(info.dim, int) or isinstance(info.dim, bool) or info.dim <= 0 or not isinstance(info.name, str):
        return f"its manifest's model has no usable name and dimension ({info.name!r}, {info.dim!r})"
    stored = manifest.get("stored_vectors", "float32")
    if _vectors.stored_type(stored) is None:
        return f"its manifest's stored_vectors is {stored!r}, not 'float16' or 'float32'"
    return None


def _latest(value: str) -> datetime:
    """Sort key for stored dates, compared as instants; unreadable ones sort first."""
    return parse_instant(value) or datetime.min.replace(tzinfo=UTC)


def _read_only_mount(path: Path) -> bool:
    """Whether ``path`` sits on a file system mounted read-only (not merely a directory without
    write permission, which root ignores)."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


__all__ = ["MAX_FAILURES", "BatchResult", "IndexStore", "NewDocument", "NewUnit", "PageState"]
