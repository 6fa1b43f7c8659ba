"""Source documents as users hand them to ``trace index add``: JSONL lines, validated whole
before anything is stored, so a bad file adds nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from tracer import InputError, SourceDoc

SOURCE_LANGS = ("en", "ru", "uk")
_FIELDS = ("url", "outlet", "lang", "title", "published", "text")
_MAX_REPORTED = 5
_NOT_IN_URLS = re.compile(r'[\s\x00-\x1f\x7f<>"{}|\\^`]')
"""Characters RFC 3986 never allows in a URL: one that carries them would inject markup into views."""


@dataclass(frozen=True)
class Document:
    """A source article with its full text, before segmentation."""

    meta: SourceDoc
    text: str


def parse_published(value: object) -> str | None:
    """ISO 8601 date or datetime, normalized; ``None`` stays ``None``."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO 8601 date string or null, got {type(value).__name__}")
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
    except ValueError:
        raise ValueError(
            f"must be an ISO 8601 date or datetime like 2024-11-05 or 2024-11-05T09:30:00+03:00, got {value!r}"
        ) from None


def document_from_record(record: object) -> Document:
    """Validate one decoded JSON object; the error text names the field and what is expected."""
    if not isinstance(record, dict):
        raise ValueError(f"must be a JSON object with fields {', '.join(_FIELDS)}")
    missing = [f for f in ("url", "outlet", "lang", "text") if f not in record]
    if missing:
        raise ValueError(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    for field in ("url", "outlet", "lang", "text"):
        if not isinstance(record[field], str) or not record[field].strip():
            raise ValueError(f'"{field}" must be a non-empty string')
    url = record["url"].strip()
    if not url.startswith(("http://", "https://")):
        raise ValueError(f'"url" must start with http:// or https://, got {url!r}')
    if _NOT_IN_URLS.search(url):
        raise ValueError(f'"url" must not contain spaces, control characters or <>"{{}}|\\^`, got {url!r}')
    lang = record["lang"].strip().lower()
    if lang not in SOURCE_LANGS:
        raise ValueError(f'"lang" must be one of {", ".join(SOURCE_LANGS)}, got {record["lang"]!r}')
    title = record.get("title") or ""
    if not isinstance(title, str):
        raise ValueError('"title" must be a string or null')
    try:
        published = parse_published(record.get("published"))
    except ValueError as exc:
        raise ValueError(f'"published" {exc}') from None
    meta = SourceDoc(url=url, outlet=record["outlet"].strip(), lang=lang, title=title.strip(), published=published)
    return Document(meta=meta, text=record["text"])


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered lines of a UTF-8 file, read as a stream (bounded memory for any file size)."""
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a .jsonl or .html file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc
    with fh:
        offset = 0
        for number, raw in enumerate(fh, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw, offset = raw[3:], 3
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{path}: not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {offset + exc.start}); JSONL must be UTF-8"
                ) from None
            offset += len(raw)
            yield number, line


def check_jsonl(path: Path) -> int:
    """Validate every line of a JSONL file without keeping its documents; the number of documents,
    or an :class:`InputError` naming every bad line (up to five)."""
    errors: list[str] = []
    seen: dict[str, int] = {}
    count = prose = 0
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            doc = document_from_record(json.loads(line))
        except json.JSONDecodeError as exc:
            errors.append(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})")
            prose += not line.lstrip().startswith(("{", "["))
            continue
        except ValueError as exc:
            errors.append(f"line {number}: {exc}")
            continue
        if doc.meta.url in seen:
            errors.append(f"line {number}: url {doc.meta.url} already given on line {seen[doc.meta.url]}")
            continue
        seen[doc.meta.url] = number
        count += 1
    if errors and not count and prose == len(errors):
        raise InputError(
            f"{path}: plain text, not JSON Lines: it looks like an article; `trace {path}` traces it, "
            "and `trace index add` takes one JSON document per line (url, outlet, lang, title, published, text)"
        )
    if errors:
        more = f"; and {len(errors) - _MAX_REPORTED} more" if len(errors) > _MAX_REPORTED else ""
        raise InputError(
            f"{path}: {len(errors)} bad line{'s' if len(errors) > 1 else ''}, nothing added from this file: "
            + "; ".join(errors[:_MAX_REPORTED])
            + more
        )
    if not count:
        raise InputError(f"{path}: no documents (the file is empty)")
    return count


def iter_jsonl(path: Path) -> Iterator[Document]:
    """The documents of a file that :func:`check_jsonl` accepted, one at a time."""
    for _, line in _lines(path):
        if line.strip():
            yield document_from_record(json.loads(line))


def read_jsonl(path: Path) -> list[Document]:
    """All documents of a JSONL file, validated whole first (small files: the example, tests)."""
    check_jsonl(path)
    return list(iter_jsonl(path))
