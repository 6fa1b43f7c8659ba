"""Archives in, documents out: `trace index import` reads WARC files (CC-NEWS, a newsroom's own
crawl archive) and JSON Lines dumps, keeps the pages of the configured outlets, extracts them as
the crawler does, dedupes them against the index, then segments, embeds and stores them.

Resumable: each batch is stored in one transaction together with the position of its last
record in its file (a WARC record's byte offset, a JSONL line number), so a killed import goes
on after the last stored record: nothing lost, nothing twice. A damaged record is reported and
skipped; a file damaged past reading is reported and left at its last good record.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import logging
import os
import sqlite3
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from tracer import Embedder, InputError
from tracer.tracing._langid import LanguageDetector

from ._charset import decode
from ._crawlstate import PageState, write_pages
from ._documents import Document, document_from_record, parse_published
from ._extract import document_from_html
from ._ingest import WINDOW, content_sha256, units_for
from ._rows import NewDocument, NewUnit, now
from ._sources import Source
from ._store import IndexStore

log = logging.getLogger(__name__)

MAX_RECORD_BYTES = 5_000_000
"""A page's payload past this is skipped unread (the crawler's and `trace URL`'s cap)."""
MAX_LINE_BYTES = 8_000_000
"""A JSONL line past this is skipped unread."""
HTML_TYPES = ("text/html", "application/xhtml+xml")

_IMPORTS = """CREATE TABLE IF NOT EXISTS imports (
    file TEXT PRIMARY KEY,          -- the file's identity: absolute path, size, digest of its first 64 KiB
    path TEXT NOT NULL,
    done INTEGER NOT NULL,          -- position of the last record stored (byte offset or line number)
    finished INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
)"""


@dataclass(frozen=True)
class ArchivePage:
    """One page of an archive, before extraction."""

    url: str
    position: int
    html: bytes | None = None
    text: str | None = None
    charset: str | None = None
    date: str | None = None
    record: dict[str, object] | None = None
    """A JSONL line in `trace index add` format (url, outlet, lang, text, ...), taken as it is."""


@dataclass(frozen=True)
class Skipped:
    position: int
    reason: str
    detail: str = ""


@dataclass
class ImportSummary:
    files: int = 0
    resumed: int = 0
    records: int = 0
    kept: int = 0
    imported: int = 0
    unchanged: int = 0
    duplicates: int = 0
    sentences: int = 0
    units: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    damaged: list[str] = field(default_factory=list)
    sources: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, object]:
        return {"files": self.files, "resumed": self.resumed, "records": self.records, "kept": self.kept,
                "imported": self.imported, "unchanged": self.unchanged, "duplicates": self.duplicates,
                "sentences": self.sentences, "units": self.units, "skipped": dict(self.skipped),
                "damaged": list(self.damaged), "sources": dict(self.sources)}  # fmt: skip


def file_identity(path: Path) -> str:
    """Path, size and the digest of the first 64 KiB: a file replaced under the same name starts over."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = hashlib.sha256(fh.read(65536)).hexdigest()[:16]
    return f"{path.resolve()}|{size}|{head}"


def is_warc(path: Path) -> bool:
    return path.name.lower().endswith((".warc", ".warc.gz"))


JSONL_ENDINGS = (".jsonl", ".jsonl.gz", ".json.gz", ".ndjson")


def is_archive(path: Path) -> bool:
    return is_warc(path) or path.name.lower().endswith(JSONL_ENDINGS)


def read_archive(path: Path, after: int = -1) -> Iterator[ArchivePage | Skipped]:
    """The pages of ``path`` whose position is past ``after``, and what was skipped, in file order."""
    if is_warc(path):
        yield from _warc_pages(path, after)
    elif path.name.lower().endswith(JSONL_ENDINGS):
        yield from _jsonl_pages(path, after)
    else:
        raise InputError(f"{path}: not a WARC (.warc, .warc.gz) or JSON Lines (.jsonl, .jsonl.gz) file")


def _warc_pages(path: Path, after: int) -> Iterator[ArchivePage | Skipped]:
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    with path.open("rb") as fh:
        if after >= 0:
            fh.seek(after)  # each record of a .warc.gz is a gzip member of its own: reading can start there
        records = ArchiveIterator(fh)
        last, end, size = after, max(after, 0), path.stat().st_size
        try:
            for record in records:
                # the payload is read before the offset is asked for: warcio finds a record's offset
                # by reading it to its end
                url = record.rec_headers.get_header("WARC-Target-URI") or ""
                wanted = record.rec_type == "response" and record.http_headers is not None
                status = record.http_headers.get_statuscode() if wanted else None
                kind = (record.http_headers.get_header("Content-Type") or "") if wanted else ""
                media = kind.split(";")[0].strip().lower()
                body = (
                    record.content_stream().read(MAX_RECORD_BYTES + 1)
                    if status == "200" and media in HTML_TYPES
                    else b""
                )
                offset = records.get_record_offset()  # from the file's start, wherever reading began
                end = offset + records.get_record_length()
                if record.format != "warc":
                    raise ValueError(f"not a WARC record at byte {offset} ({record.format})")
                if offset <= after or not wanted:
                    continue
                last = offset
                if status != "200":
                    yield Skipped(offset, "not_200", f"{url}: HTTP {status}")
                elif media not in HTML_TYPES:
                    yield Skipped(offset, "not_html", f"{url}: {media or 'no content type'}")
                elif len(body) > MAX_RECORD_BYTES:
                    yield Skipped(offset, "too_large", f"{url}: over {MAX_RECORD_BYTES:,} bytes")
                else:
                    charset = next((v.strip().strip("\"'") or None for k, _, v in
                                    (part.partition("=") for part in kind.split(";")[1:])
                                    if k.strip().lower() == "charset"), None)  # fmt: skip
                    yield ArchivePage(url=url, position=offset, html=body, charset=charset,
                                      date=record.rec_headers.get_header("WARC-Date"))  # fmt: skip
            if end < size:  # warcio stops quietly at a cut gzip member: what it did not read is damage
                fh.seek(end)
                if fh.read(64).strip() or size - end > 64:  # (an uncompressed WARC ends with blank lines)
                    raise ValueError(f"{size - end:,} bytes from byte {end} could not be read")
        except (ArchiveLoadFailed, OSError, EOFError, zlib.error, ValueError) as exc:
            where = f"after the record at byte {last}" if last >= 0 else "before its first page"
            raise _Damaged(f"{path}: damaged {where} ({type(exc).__name__}: {_short(exc)})") from exc


def _jsonl_pages(path: Path, after: int) -> Iterator[ArchivePage | Skipped]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:  # type: ignore[operator]
            number = 0
            while raw := fh.readline(MAX_LINE_BYTES + 1):
                number += 1
                if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                    while (rest := fh.readline(1 << 20)) and not rest.endswith(b"\n"):
                        pass  # the rest of the runaway line, unread into memory
                    if number > after:
                        yield Skipped(number, "too_large", f"line {number}: over {MAX_LINE_BYTES:,} bytes")
                    continue
                if number <= after or not raw.strip():
                    continue
                try:
                    data = json.loads(raw)
                    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
                        raise ValueError("not a JSON object with a url")
                except (ValueError, RecursionError) as exc:
                    yield Skipped(number, "bad_line", f"line {number}: {str(exc)[:120]}")
                    continue
                html = data.get("html")
                if isinstance(html, str):
                    date = data.get("published") or data.get("date")
                    yield ArchivePage(url=data["url"], position=number, html=html.encode("utf-8"), charset="utf-8",
                                      date=date if isinstance(date, str) else None)  # fmt: skip
                else:
                    yield ArchivePage(url=data["url"], position=number, record=data)
    except (OSError, EOFError, zlib.error) as exc:
        raise _Damaged(f"{path}: damaged after line {max(after, 0)} ({type(exc).__name__}: {_short(exc)})") from exc


def _short(exc: BaseException, limit: int = 160) -> str:
    text = repr(str(exc))[1:-1]
    return text if len(text) <= limit else f"{text[:limit]}..."


def source_for(sources: Sequence[Source], url: str) -> Source | None:
    """The first of ``sources`` whose allow rules take ``url`` as an article page (sources
    without allow rules take none: they would take every URL of an archive)."""
    return next((s for s in sources if s.allow and s.rule_for(url) is None), None)


def page_document(item: ArchivePage, source: Source, detector: LanguageDetector | None = None) -> Document:
    """One archive page as ``source``'s document: a record taken as it is, a page extracted as the
    crawler extracts it and dated from itself or, failing that, the archive. Raises
    ``InputError`` or ``ValueError`` for a page without article text or a bad record."""
    if item.record is not None:
        return document_from_record({**item.record, "outlet": item.record.get("outlet") or source.outlet,
                                     "lang": item.record.get("lang") or source.langs[0]})  # fmt: skip
    text, _ = decode(item.html or b"", item.charset)
    langs = source.langs
    doc = document_from_html(text, name=item.url, url=item.url, outlet=source.outlet,
                             lang=langs[0] if len(langs) == 1 else None, langs=langs, canonical=True,
                             detector=detector)  # fmt: skip
    if doc.meta.published is None and item.date:
        with contextlib.suppress(ValueError):
            doc = replace(doc, meta=replace(doc.meta, published=parse_published(item.date)))
    return doc


class _Damaged(Exception):
    """A file that cannot be read on: reported, the import goes on with the next file."""


@dataclass
class _Ready:
    doc: Document
    page: PageState
    position: int


class ArchiveImporter:
    """Imports archive files into a store opened for writing (the caller holds its write lock)."""

    def __init__(self, store: IndexStore, embedder: Embedder, sources: Sequence[Source], *, batch_docs: int = 64,
                 progress: Callable[[int], None] | None = None) -> None:  # fmt: skip
        self.store, self.embedder, self.sources = store, embedder, [s for s in sources if s.allow]
        self.batch_docs = batch_docs
        self.progress = progress
        self.window = int(store.manifest.get("window", WINDOW))  # type: ignore[call-overload]
        self._detectors: dict[tuple[str, ...], LanguageDetector] = {}
        self._texts: dict[str, str] = {}
        """Text digest -> outlet of the pages of the batch being prepared (earlier batches' are in
        the index's pages table): duplicates within a batch. Cleared per batch: bounded memory."""
        with store._transaction() as conn:
            conn.execute(_IMPORTS)

    def source_for(self, url: str) -> Source | None:
        return source_for(self.sources, url)

    def run(self, paths: Sequence[Path], summary: ImportSummary | None = None) -> ImportSummary:
        summary = summary or ImportSummary()
        for path in paths:
            summary.files += 1
            key = file_identity(path)
            done, finished = self._resume_point(key)
            if finished:
                log.info("%s: imported before; skipped", path)
                continue
            if done >= 0:
                summary.resumed += 1
                log.info("%s: resuming after position %d", path, done)
            try:
                self._import_file(path, key, done, summary)
            except _Damaged as exc:
                summary.damaged.append(str(exc))
                log.warning("%s", exc)
                continue
            with self.store._transaction() as conn:
                conn.execute("UPDATE imports SET finished = 1, updated_at = ? WHERE file = ?", (now(), key))
        self.store.publish()
        return summary

    def _resume_point(self, key: str) -> tuple[int, bool]:
        row = self.store._conn.execute("SELECT done, finished FROM imports WHERE file = ?", (key,)).fetchone()
        return (int(row[0]), bool(row[1])) if row else (-1, False)

    def _import_file(self, path: Path, key: str, done: int, summary: ImportSummary) -> None:
        batch: list[_Ready] = []
        last = done
        try:
            for item in read_archive(path, done):
                summary.records += 1
                if isinstance(item, Skipped):
                    summary.skipped[item.reason] += 1
                    last = item.position
                    continue
                ready = self._prepare(item, summary)
                last = item.position
                if ready is not None:
                    batch.append(ready)
                if len(batch) >= self.batch_docs:
                    self._store(batch, str(path), key, last, summary)
                    batch = []
        except _Damaged:  # damage further on: what was read before it is stored all the same
            self._store(batch, str(path), key, last, summary)
            raise
        self._store(batch, str(path), key, last, summary)

    def _prepare(self, item: ArchivePage, summary: ImportSummary) -> _Ready | None:
        source = self.source_for(item.url)
        if source is None:
            summary.skipped["not_configured"] += 1
            return None
        summary.kept += 1
        try:
            doc = page_document(item, source, self._detector(source.langs) if len(source.langs) > 1 else None)
        except (InputError, ValueError) as exc:
            summary.skipped["no_text"] += 1
            log.info("%s: %s", item.url, exc)
            return None
        digest = hashlib.sha256(doc.text.encode("utf-8")).hexdigest()
        page = PageState(url=item.url, source=source.name, outlet=source.outlet, status="stored",
                         doc_url=doc.meta.url, text_sha256=digest, checked_at="")  # fmt: skip
        earlier = self._texts.get(digest)
        stored = [p for p in self.store.pages_with_text(digest, exclude_url=item.url) if p.outlet == source.outlet]
        if earlier == source.outlet or stored:
            summary.duplicates += 1  # the same article under another URL (or fetched twice): stored once
            return _Ready(doc, replace(page, status="duplicate", duplicate_of=stored[0].url if stored else None),
                          item.position)  # fmt: skip
        self._texts[digest] = source.outlet
        return _Ready(doc, page, item.position)

    def _detector(self, langs: tuple[str, ...]) -> LanguageDetector:
        if langs not in self._detectors:
            self._detectors[langs] = LanguageDetector(langs)
        return self._detectors[langs]

    def _store(self, batch: list[_Ready], path: str, key: str, last: int, summary: ImportSummary) -> None:
        """Embed and store a batch, with its pages and the file's position, in one transaction."""
        keep = [r for r in batch if r.page.status == "stored"]
        digests = {r.doc.meta.url: content_sha256(r.doc) for r in keep}
        known = self.store.content_hashes(digests)
        fresh = []
        for r in keep:
            if known.get(r.doc.meta.url) == digests[r.doc.meta.url] or any(
                f.doc.meta.url == r.doc.meta.url for f in fresh
            ):
                summary.unchanged += 1
            else:
                fresh.append(r)
        planned = [(r, units_for(r.doc, self.window)) for r in fresh]
        texts = [u[4] for _, units in planned for u in units]
        vectors = self.embedder.embed(texts, role="passage") if texts else []
        new_docs, offset = [], 0
        for r, units in planned:
            rows = [NewUnit(f, la, s, e, t, vectors[offset + k]) for k, (f, la, s, e, t) in enumerate(units)]
            offset += len(units)
            new_docs.append(NewDocument(doc=r.doc.meta, text=r.doc.text, content_sha256=digests[r.doc.meta.url],
                                        units=rows))  # fmt: skip
            summary.sentences += sum(1 for u in rows if u.first == u.last)
            summary.units += len(rows)
            summary.sources[r.page.source] += 1
        stamp = now()

        def record(conn: sqlite3.Connection) -> None:
            write_pages(conn, [r.page for r in batch])
            conn.execute(
                "INSERT INTO imports(file, path, done, finished, updated_at) VALUES (?, ?, ?, 0, ?)"
                " ON CONFLICT(file) DO UPDATE SET done = excluded.done, updated_at = excluded.updated_at",
                (key, path, last, stamp),
            )

        result = self.store.write_batch(new_docs, also=record)
        self._texts.clear()
        summary.imported += result.added + result.replaced
        if self.progress:
            self.progress(len(batch))


def import_paths(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The files to import: the given files, and the archives in given directories, sorted;
    checked before anything is imported."""
    out: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            out += sorted(p for p in given.iterdir() if p.is_file() and is_archive(p))
        elif given.is_file():
            if not is_archive(given):
                raise InputError(f"{given}: not a WARC (.warc, .warc.gz) or JSON Lines (.jsonl, .jsonl.gz) file")
            out.append(given)
        else:
            raise InputError(f"{given}: no such file or directory")
    return out
