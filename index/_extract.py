"""Source documents from HTML pages, through trafilatura (main text, title, date, canonical URL)."""

from __future__ import annotations

from pathlib import Path

from tracer import InputError, SourceDoc
from tracer._langid import LanguageDetector

from ._documents import SOURCE_LANGS, Document, parse_published


def document_from_html(
    html: bytes | str,
    *,
    name: str,
    url: str | None = None,
    outlet: str | None = None,
    lang: str | None = None,
    detector: LanguageDetector | None = None,
) -> Document:
    """Extract one article; options override what the page says about itself."""
    import trafilatura

    extracted = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
    )
    text = (getattr(extracted, "text", None) or "").strip() if extracted is not None else ""
    if not text:
        raise InputError(f"{name}: no article text found in the HTML (is it an article page?)")
    page_url = url or getattr(extracted, "url", None)
    if not page_url or not str(page_url).startswith(("http://", "https://")):
        raise InputError(f"{name}: the page names no URL; give it with --url https://...")
    site = outlet or getattr(extracted, "sitename", None) or getattr(extracted, "hostname", None)
    if not site:
        raise InputError(f"{name}: the page names no outlet; give it with --outlet NAME")
    if lang is None:
        detector = detector or LanguageDetector(SOURCE_LANGS)
        lang = detector.detect(text).lang
    if lang not in SOURCE_LANGS:
        raise InputError(f"{name}: language {lang!r} is not a source language ({', '.join(SOURCE_LANGS)}); set --lang")
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
