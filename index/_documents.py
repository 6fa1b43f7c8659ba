"""Source documents as users hand them to ``trace index add``: JSONL lines, validated whole
before anything is stored, so a bad file adds nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit

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


_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]")
"""Control characters, and the bidirectional controls that can make a name display reversed
(U+202E RIGHT-TO-LEFT OVERRIDE): no outlet name or title needs them."""


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
    for field in _FIELDS:
        value = record.get(field)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f'"{field}" holds a lone surrogate (\\ud800-\\udfff escape): not text') from None
    for field in ("outlet", "title"):
        value = record.get(field)
        if isinstance(value, str) and (bad := _CONTROLS.search(re.sub(r"[\t\n\r]", " ", value))):
            raise ValueError(f'"{field}" holds the control character U+{ord(bad.group()):04X}; a name or title '
                             "is plain text on one line")  # fmt: skip
    url = record["url"].strip()
    if not url.startswith(("http://", "https://")):
        raise ValueError(f'"url" must start with http:// or https://, got {url!r}')
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    if not host:
        raise ValueError(f'"url" must name a host, got {url[:200]!r}')
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
    outlet, title = (" ".join(v.split()) for v in (record["outlet"], title))  # one line each
    meta = SourceDoc(url=url, outlet=outlet, lang=lang, title=title, published=published)
    return Document(meta=meta, text=record["text"])


MAX_DOCUMENT_CHARS = 1_000_000
"""Characters of one document's text: far above any news article (a long one is 50,000), low
enough that one runaway line cannot take the machine's memory (`index add --max-doc-chars`)."""
BYTES_PER_CHAR = 8
"""Bytes a JSONL line may spend per text character (\\u escapes take 6): beyond that a line is
refused unread, in bounded memory."""


def _lines(path: Path, max_line: int | None = None) -> Iterator[tuple[int, str | None]]:
    """Numbered lines of a UTF-8 file, read as a stream (bounded memory for any file size); a
    line longer than ``max_line`` bytes is skipped unread and given as None."""
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
        number = 0
        while raw := fh.readline(-1 if max_line is None else max_line + 1):
            number += 1
            if max_line is not None and len(raw) > max_line and not raw.endswith(b"\n"):
                offset += len(raw)
                while (rest := fh.readline(1 << 20)) and not rest.endswith(b"\n"):  # skip the rest, a MB at a time
                    offset += len(rest)
                offset += len(rest)
                yield number, None
                continue
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


def check_jsonl(path: Path, max_chars: int = MAX_DOCUMENT_CHARS) -> int:
    """Validate every line of a JSONL file without keeping its documents; the number of documents,
    or an :class:`InputError` naming every bad line (up to five)."""
    errors: list[str] = []
    seen: dict[str, int] = {}
    count = prose = 0
    too_long = f"the document is longer than {max_chars:,} characters; pass --max-doc-chars N to raise the limit"
    for number, line in _lines(path, BYTES_PER_CHAR * max_chars):
        if line is None:
            errors.append(f"line {number}: {too_long}")
            continue
        if not line.strip():
            continue
        try:
            doc = document_from_record(json.loads(line))
            if len(doc.text) > max_chars:
                raise ValueError(too_long)
        except json.JSONDecodeError as exc:
            errors.append(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})")
            prose += not line.lstrip().startswith(("{", "["))
            continue
        except RecursionError:
            errors.append(f"line {number}: JSON nested too deeply to be a document")
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


def iter_jsonl(path: Path, max_chars: int = MAX_DOCUMENT_CHARS) -> Iterator[Document]:
    """The documents of a file that :func:`check_jsonl` accepted, one at a time."""
    for _, line in _lines(path, BYTES_PER_CHAR * max_chars):
        if line is not None and line.strip():
            yield document_from_record(json.loads(line))


def read_jsonl(path: Path) -> list[Document]:
    """All documents of a JSONL file, validated whole first (small files: the example, tests)."""
    check_jsonl(path)
    return list(iter_jsonl(path))
