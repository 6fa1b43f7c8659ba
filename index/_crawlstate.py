"""The crawl's state in the index: staged documents (committed together when a run ends), what
each fetched URL gave (conditional requests, retries, dedupe), and the runs themselves.

A part of :class:`index.IndexStore`, mixed in: it uses the store's connection and transactions.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _vectors
from ._rows import BatchResult, NewDocument, now

MAX_FAILURES = 5
"""Runs in a row a failed page is retried for even when no feed lists it any more."""

_PAGE_FIELDS = (
    "url", "source", "outlet", "status", "doc_url", "duplicate_of", "reason", "failures", "etag", "last_modified",
    "body_sha256", "text_sha256", "checked_at",
)  # fmt: skip


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


def write_pages(conn: sqlite3.Connection, pages: Sequence[PageState]) -> None:
    """Insert or replace ``pages`` (crawled, imported or merged), inside the caller's transaction;
    a page without a ``checked_at`` is stamped now."""
    stamp = now()
    conn.executemany(
        f"INSERT OR REPLACE INTO pages({', '.join(_PAGE_FIELDS)}) VALUES ({', '.join('?' * len(_PAGE_FIELDS))})",
        [tuple((p.checked_at or stamp) if f == "checked_at" else getattr(p, f) for f in _PAGE_FIELDS) for p in pages],
    )


class CrawlState:
    """Staging, page states and runs (``IndexStore`` supplies ``_conn``, ``_transaction`` and the rest)."""

    _conn: sqlite3.Connection
    _transaction: Any
    _vector_blob: Any
    _delete_live: Any
    _bump_generation: Any
    _after_commit: Any
    generation: Any
    model: Any

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
            write_pages(conn, pages)

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
                    (now(), url),
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
        rows = [(text, blob) for text, blob in rows if _vectors.bad_blob([blob], dim) is None]
        vectors = _vectors.decode([blob for _, blob in rows], dim) if rows else []
        return {text: vector for (text, _), vector in zip(rows, vectors, strict=True)}

    def source_crawls(self) -> dict[str, dict[str, object]]:
        """Per crawled source: when its pages were last checked, pages stored, pages whose last
        fetch failed (empty for an index that was never crawled)."""
        try:
            rows = self._conn.execute(
                "SELECT source, MAX(checked_at), SUM(status = 'stored'), SUM(status = 'failed') FROM pages GROUP BY source"
            ).fetchall()
        except sqlite3.OperationalError:  # an index written before crawling existed
            return {}
        return {source: {"last_crawl": last, "pages": int(stored or 0), "failures": int(failed or 0)}
                for source, last, stored, failed in rows}  # fmt: skip

    def record_run(self, command: str, started: str, summary: dict[str, object]) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO crawl_runs(command, started, finished, summary) VALUES (?, ?, ?, ?)",
                (command, started, now(), json.dumps(summary, ensure_ascii=False)),
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
