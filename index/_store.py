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
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

from tracer import ModelInfo, ReferenceIndexError, SourceDoc, SourceUnit
from tracer._dates import parse_instant

from . import _vectors

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
DB_NAME = "index.sqlite"
LOCK_NAME = "write.lock"
MAX_FAILURES = 5
"""Runs in a row a failed page is retried for even when no feed lists it any more."""
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

_PAGE_FIELDS = (
    "url", "source", "outlet", "status", "doc_url", "duplicate_of", "reason", "failures", "etag", "last_modified",
    "body_sha256", "text_sha256", "checked_at",
)  # fmt: skip


@dataclass(frozen=True)
class NewUnit:
    """A sentence or window ready to store, with its vector."""

    first: int
    last: int
    start: int
    end: int
    text: str
    vector: np.ndarray


@dataclass(frozen=True)
class NewDocument:
    doc: SourceDoc
    text: str
    content_sha256: str
    units: Sequence[NewUnit]


@dataclass(frozen=True)
class PageState:
    """What the crawler knows about one URL (a row of ``pages``)."""

    url: str
    source: str
    outlet: str
    status: str
    doc_url: str | None = None
    duplicate_of: str | None = None
    reason: str | None = None
    failures: int = 0
    etag: str | None = None
    last_modified: str | None = None
    body_sha256: str | None = None
    text_sha256: str | None = None
    checked_at: str = ""


@dataclass(frozen=True)
class BatchResult:
    added: int
    replaced: int
    units: int


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class IndexStore:
    """Open with :meth:`open` (existing index) or :meth:`create` (new or existing, for writers)."""

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
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
            conn.close()
            raise ReferenceIndexError(
                f"index at {path} has format {manifest and manifest.get('format')}, this tracer reads "
                f"format {FORMAT_VERSION}; rebuild it with `trace index add`"
            )
        return cls(path, conn, manifest, writable, exact_limit)

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
                (json.dumps({**manifest, "format": FORMAT_VERSION, "created": _now()}),),
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
        return int(self._conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

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
        vec = np.ascontiguousarray(vector, dtype=np.float32)
        if vec.shape != (self.model.dim,):
            raise ReferenceIndexError(f"vector of shape {vec.shape} does not fit index dimension {self.model.dim}")
        return vec.tobytes()

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

    def write_batch(self, docs: Sequence[NewDocument]) -> BatchResult:
        """Replace-or-insert documents by URL in one transaction, visible to readers at once."""
        added = replaced = n_units = 0
        with self._transaction() as conn:
            for nd in docs:
                if self._delete_live(nd.doc.url):
                    replaced += 1
                else:
                    added += 1
                d = nd.doc
                cur = conn.execute(
                    "INSERT INTO documents(url, outlet, lang, title, published, text, content_sha256, added_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (d.url, d.outlet, d.lang, d.title, d.published, nd.text, nd.content_sha256, _now()),
                )
                conn.executemany(
                    'INSERT INTO units(doc_id, first, last, start, "end", text, vector) VALUES (?, ?, ?, ?, ?, ?, ?)',
                    [(cur.lastrowid, u.first, u.last, u.start, u.end, u.text, self._vector_blob(u.vector))
                     for u in nd.units],
                )  # fmt: skip
                n_units += len(nd.units)
            generation = self._bump_generation()
        self._after_commit(generation)
        return BatchResult(added=added, replaced=replaced, units=n_units)

    # -- crawling: staged documents and page states ------------------------------------

    def stage(self, docs: Sequence[NewDocument], pages: Sequence[PageState]) -> None:
        """Keep crawled documents and what was learnt about their pages, durably and together,
        without showing the documents to readers yet (see :meth:`commit_staged`)."""
        with self._transaction() as conn:
            for nd in docs:
                d = nd.doc
                conn.execute("DELETE FROM staged_documents WHERE url = ?", (d.url,))
                conn.execute(
                    "INSERT INTO staged_documents(url, outlet, lang, title, published, text, content_sha256)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (d.url, d.outlet, d.lang, d.title, d.published, nd.text, nd.content_sha256),
                )
                conn.executemany(
                    'INSERT INTO staged_units(doc_url, first, last, start, "end", text, vector)'
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(d.url, u.first, u.last, u.start, u.end, u.text, self._vector_blob(u.vector)) for u in nd.units],
                )
            conn.executemany(
                f"INSERT OR REPLACE INTO pages({', '.join(_PAGE_FIELDS)}) VALUES ({', '.join('?' * len(_PAGE_FIELDS))})",
                [tuple((p.checked_at or _now()) if f == "checked_at" else getattr(p, f) for f in _PAGE_FIELDS)
                 for p in pages],
            )  # fmt: skip

    def commit_staged(self) -> BatchResult:
        """Make every staged document live in one transaction (replacing same-URL documents),
        then publish the vector file: one atomic step for readers."""
        added = replaced = n_units = 0
        with self._transaction() as conn:
            urls = [r[0] for r in conn.execute("SELECT url FROM staged_documents ORDER BY rowid")]
            for url in urls:
                if self._delete_live(url):
                    replaced += 1
                else:
                    added += 1
                cur = conn.execute(
                    "INSERT INTO documents(url, outlet, lang, title, published, text, content_sha256, added_at)"
                    " SELECT url, outlet, lang, title, published, text, content_sha256, ? FROM staged_documents"
                    " WHERE url = ?",
                    (_now(), url),
                )
                n_units += conn.execute(
                    'INSERT INTO units(doc_id, first, last, start, "end", text, vector)'
                    ' SELECT ?, first, last, start, "end", text, vector FROM staged_units WHERE doc_url = ?'
                    " ORDER BY rowid",
                    (cur.lastrowid, url),
                ).rowcount
            conn.execute("DELETE FROM staged_documents")
            generation = self._bump_generation() if urls else self.generation
        if urls:
            self._after_commit(generation)
            # executescript runs it to completion (execute() stops after one page)
            self._conn.executescript("PRAGMA incremental_vacuum;")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.publish()
        return BatchResult(added=added, replaced=replaced, units=n_units)

    def page_states(self, urls: Iterable[str]) -> dict[str, PageState]:
        urls = list(urls)
        out: dict[str, PageState] = {}
        for i in range(0, len(urls), 500):
            chunk = urls[i : i + 500]
            q = f"SELECT {', '.join(_PAGE_FIELDS)} FROM pages WHERE url IN ({','.join('?' * len(chunk))})"
            out.update({row[0]: PageState(*row) for row in self._conn.execute(q, chunk)})
        return out

    def failed_pages(self, source: str, max_failures: int = MAX_FAILURES) -> list[str]:
        """URLs of ``source`` whose last fetch failed: retried on the next runs, until they have
        failed ``max_failures`` times in a row (a page that is gone stays gone)."""
        rows = self._conn.execute(
            "SELECT url FROM pages WHERE source = ? AND status = 'failed' AND failures < ? ORDER BY checked_at",
            (source, max_failures),
        )
        return [r[0] for r in rows]

    def pages_with_text(self, text_sha256: str, exclude_url: str) -> list[PageState]:
        """Stored pages with this extracted text, earliest first (dedupe across URLs and outlets)."""
        rows = self._conn.execute(
            f"SELECT {', '.join(_PAGE_FIELDS)} FROM pages WHERE text_sha256 = ? AND status = 'stored' AND url != ?"
            " ORDER BY checked_at, url",
            (text_sha256, exclude_url),
        ).fetchall()
        return [PageState(*row) for row in rows]

    def known_vectors(self, url: str) -> dict[str, np.ndarray]:
        """Vectors of the stored (or staged) units of document ``url``, by text: a changed article
        re-embeds only the sentences that changed."""
        dim = self.model.dim
        rows = self._conn.execute("SELECT text, vector FROM staged_units WHERE doc_url = ?", (url,)).fetchall()
        if not rows:
            rows = self._conn.execute(
                "SELECT u.text, u.vector FROM units u JOIN documents d ON d.id = u.doc_id WHERE d.url = ?", (url,)
            ).fetchall()
        return {text: np.frombuffer(blob, dtype=np.float32).reshape(dim) for text, blob in rows}

    def record_run(self, command: str, started: str, summary: dict[str, object]) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO crawl_runs(command, started, finished, summary) VALUES (?, ?, ?, ?)",
                (command, started, _now(), json.dumps(summary, ensure_ascii=False)),
            )

    def last_run(self) -> dict[str, object] | None:
        try:
            row = self._conn.execute(
                "SELECT command, started, finished, summary FROM crawl_runs ORDER BY id DESC LIMIT 1"
            ).fetchone()
        except sqlite3.OperationalError:  # an index written before crawling existed
            return None
        if not row:
            return None
        return {"command": row[0], "started": row[1], "finished": row[2], "summary": json.loads(row[3])}

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
                digest = _sha256(tmp)
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

    # -- reading -------------------------------------------------------------------------

    def _vectors(self, where: str = "", params: tuple[object, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
        dim = self.model.dim
        rows = self._conn.execute(f"SELECT id, vector FROM units {where} ORDER BY id", params).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
        return ids, vecs

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

    def _new_faiss(self, ids: np.ndarray) -> faiss.Index:
        """An empty index of the type that suits ``len(ids)`` vectors, trained on a sample of them."""
        dim = self.model.dim
        factory = _vectors.factory_for(len(ids), dim, self.exact_limit)
        if factory == _vectors.FLAT:
            return faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
        size = min(len(ids), 64 * _vectors.nlist_for(len(ids)))
        sample = np.sort(np.random.default_rng(0).choice(ids, size, replace=False))
        log.info("training a %s vector index on %d of %d vectors", factory, size, len(ids))
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
            actual = _sha256(path)
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
        if _vectors.needs_rebuild(index, len(want), self.exact_limit):
            index = self._new_faiss(want)
        have = _vectors.ids_in(index)
        stale = np.setdiff1d(have, want, assume_unique=True)
        if stale.size:
            index.remove_ids(stale)
        missing = np.setdiff1d(want, have, assume_unique=True)
        for ids, vecs in self._stored(missing, 10_000):
            index.add_with_ids(vecs, ids)
        return index

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
        if mapped is None or _vectors.needs_rebuild(mapped, count, self.exact_limit):
            return _vectors.factory_for(count, self.model.dim, self.exact_limit)
        return _vectors.describe(mapped)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` stored vectors by inner product, exact whatever the index type."""
        return _vectors.search(self.vector_index(), queries, k, self._vectors_of)

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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
