"""Reading the Indonesian article: every way a file can be unusable becomes one clear error."""

from __future__ import annotations

import codecs
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracer._errors import InputError

DEFAULT_MAX_BYTES = 1_000_000
"""About 150,000 words: far above any news article, low enough to stop a wrong file early."""


@dataclass(frozen=True)
class Article:
    name: str
    text: str


def _looks_binary(raw: bytes) -> bool:
    if b"\x00" in raw[:8192]:
        return True
    sample = raw[:8192]
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return bool(sample) and controls / len(sample) > 0.05


_UTF16 = {codecs.BOM_UTF16_LE: "utf-16-le", codecs.BOM_UTF16_BE: "utf-16-be"}


def decode(raw: bytes, name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Article:
    if len(raw) > max_bytes:
        raise InputError(f"{name}: larger than the {max_bytes:,}-byte limit for one article",
                         cli_hint="pass --max-bytes N to raise it")  # fmt: skip
    encoding = _UTF16.get(raw[:2])
    if encoding is not None:  # Windows editors save "Unicode" text so: decode it, NULs and all
        try:
            raw = raw[2:].decode(encoding).encode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: starts like UTF-16 text but is not ({exc.reason}); give a UTF-8 file") from None
    if _looks_binary(raw):
        raise InputError(f"{name}: looks like a binary file, not text; give a UTF-8 text file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                         cli_hint=f"convert it first, e.g. iconv -f windows-1252 -t utf-8 {name}") from None  # fmt: skip
    if not text.strip():
        raise InputError(f"{name}: the file is empty")
    return Article(name=name, text=text.replace("\r\n", "\n").replace("\r", "\n"))


def read_article(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Article:
    """``-`` reads standard input."""
    if path == "-":
        return decode(sys.stdin.buffer.read(max_bytes + 1), "<stdin>", max_bytes)
    p = Path(path)
    try:
        if p.is_dir():
            raise InputError(f"{path}: is a directory, expected a text file")
        with p.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    return decode(raw, path, max_bytes)


MAX_PAGE_BYTES = 5_000_000
"""Largest page given to trafilatura: a news page is 0.1-2 MB; extraction time grows with size."""
MAX_LINKS = 10_000
"""More links than this is a link farm or a site map, not an article: trafilatura would spend
minutes of CPU on it (a 7 MB page of 200,000 links took 98 s)."""
_LINK = re.compile(rb"<a[\s>]", re.IGNORECASE)


def extract_page(html: bytes | str, url: str | None) -> Any:
    """trafilatura's main text and metadata of a page, with the options used for every page
    tracer reads (source pages and Indonesian articles alike). Pages too big or too full of
    links to be an article are refused first, in a fraction of a second."""
    import trafilatura

    raw = html.encode("utf-8", "surrogatepass") if isinstance(html, str) else html
    where = url or "the page"
    if len(raw) > MAX_PAGE_BYTES:
        raise InputError(f"{where}: {len(raw):,} bytes of HTML, more than the {MAX_PAGE_BYTES:,} an article page has")
    links = len(_LINK.findall(raw))
    if links > MAX_LINKS:
        raise InputError(f"{where}: {links:,} links on the page: a link farm or a site map, not an article")

    return trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=False, favor_precision=True
    )


def article_from_html(html: str, url: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Article:
    """The headline and main text of an article page (trafilatura), one paragraph per line."""
    extracted = extract_page(html, url)
    text = (getattr(extracted, "text", None) or "").strip() if extracted is not None else ""
    if not text:
        raise InputError(f"{url}: no article text found on the page (is it an article?)")
    title = (getattr(extracted, "title", None) or "").strip()
    if title and not text.startswith(title):
        text = f"{title}\n\n{text}"
    return decode(text.encode("utf-8"), url, max_bytes)
