"""Source documents from HTML pages, through trafilatura (main text, title, date, canonical URL)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from tracer import InputError, SourceDoc
from tracer.tracing._article import extract_page
from tracer.tracing._langid import LanguageDetector

from ._documents import SOURCE_LANGS, Document, parse_published

_READ_MORE = re.compile(
    r"^\s*(?:read more|related|more on this story|sign up|subscribe|читайте также|читайте також|подписывайтесь|"
    r"підписуйтесь|ещё по теме|більше новин)\b.{0,80}$",
    re.IGNORECASE,
)


def _same_site(a: str, b: str) -> bool:
    def host(u: str) -> str:
        h = (urlsplit(u).hostname or "").lower()
        return h.removeprefix("www.").removeprefix("m.")

    return host(a) == host(b) and urlsplit(b).scheme in ("http", "https")


def _clean(text: str) -> str:
    """Drop "Read more"/subscribe lines trafilatura keeps; paragraphs stay one per line."""
    return "\n".join(line for line in text.splitlines() if line.strip() and not _READ_MORE.match(line))


def document_from_html(
    html: bytes | str,
    *,
    name: str,
    url: str | None = None,
    outlet: str | None = None,
    lang: str | None = None,
    langs: tuple[str, ...] = SOURCE_LANGS,
    canonical: bool = False,
    published: str | None = None,
    detector: LanguageDetector | None = None,
) -> Document:
    """Extract one article; options override what the page says about itself.

    With ``canonical``, the page's canonical URL (same site only: a cross-site canonical would
    credit another outlet) replaces ``url``, so one article under several URLs is one document.
    ``published`` (a feed's date, which carries the time) overrides the page's own date."""
    extracted = extract_page(html, url)
    text = _clean((getattr(extracted, "text", None) or "").strip()) if extracted is not None else ""
    if not text:
        raise InputError(f"{name}: no article text found in the HTML (is it an article page?)")
    own_url = getattr(extracted, "url", None)
    page_url = url or own_url
    if canonical and url and own_url and _same_site(url, str(own_url)):
        page_url = str(own_url)
    if not page_url or not str(page_url).startswith(("http://", "https://")):
        raise InputError(f"{name}: the page names no URL; give it with --url https://...")
    site = outlet or getattr(extracted, "sitename", None) or getattr(extracted, "hostname", None)
    if not site:
        raise InputError(f"{name}: the page names no outlet; give it with --outlet NAME")
    if lang is None:
        detector = detector or LanguageDetector(langs)
        lang = detector.detect(text).lang
    if lang not in SOURCE_LANGS:
        raise InputError(f"{name}: language {lang!r} is not a source language ({', '.join(SOURCE_LANGS)}); set --lang")
    if published is None:
        try:
            published = parse_published(getattr(extracted, "date", None))
        except ValueError:
            published = None
    meta = SourceDoc(
        url=str(page_url),
        outlet=str(site),
        lang=lang,
        title=(getattr(extracted, "title", None) or "").strip(),
        published=published,
    )
    return Document(meta=meta, text=text)


def read_html(path: Path, **options: object) -> Document:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc
    return document_from_html(raw, name=str(path), **options)  # type: ignore[arg-type]
