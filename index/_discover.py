"""Article links from RSS/Atom feeds and (news) sitemaps, with their dates.

trafilatura's feed and sitemap helpers fetch by themselves and return bare links; the crawler
needs every request to go through its own polite, guarded fetcher and needs the dates (newest
first, back to ``--since``, skip what has not changed), so the XML is read here.
"""

from __future__ import annotations

import io
import logging
import zlib
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin
from xml.etree import ElementTree

from tracer import InputError
from tracer._dates import parse_instant

log = logging.getLogger("tracer")

MAX_XML_BYTES = 50_000_000
"""Cap on a decompressed sitemap (the sitemap protocol allows 50 MB)."""


@dataclass(frozen=True)
class Link:
    url: str
    published: datetime | None = None
    """Publication date if the feed gives one, else the last-modified date."""
    modified: datetime | None = None


@dataclass(frozen=True)
class Listing:
    """What one feed or sitemap lists: article links and, for sitemap indexes, more sitemaps."""

    links: list[Link]
    sitemaps: list[Link]


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _child_text(element: ElementTree.Element, *names: str) -> str | None:
    for child in element:
        if _local(child.tag) in names and child.text and child.text.strip():
            return child.text.strip()
    return None


def _descendant_text(element: ElementTree.Element, name: str) -> str | None:
    for child in element.iter():
        if _local(child.tag) == name and child.text and child.text.strip():
            return child.text.strip()
    return None


def _decompress(body: bytes) -> bytes:
    if body[:2] != b"\x1f\x8b":
        return body
    try:
        out = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, MAX_XML_BYTES + 1)
    except zlib.error as exc:
        raise InputError(f"damaged gzip data ({exc})") from exc
    if len(out) > MAX_XML_BYTES:
        raise InputError(f"more than {MAX_XML_BYTES} bytes once decompressed")
    return out


MAX_ENTRIES = 50_000
"""Entries read from one feed or sitemap: the sitemap protocol's own limit. A listing of
hundreds of thousands is a bomb or a mistake; the rest of it is not read."""


def _entry_link(kind: str, entry: ElementTree.Element, base_url: str) -> Link | None:
    """The link of one <item>, <entry>, <url> or <sitemap>, with its dates."""
    if kind in ("rss", "rdf"):
        url = _child_text(entry, "link") or (entry.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about") or None)
        if url is None:
            guid = _child_text(entry, "guid")
            url = guid if guid and guid.startswith(("http://", "https://")) else None
        # pubDate is the publication date: an updated article keeps it, so it says nothing about modification.
        return Link(urljoin(base_url, url), parse_instant(_child_text(entry, "pubdate", "date"))) if url else None
    if kind == "feed":
        for link in entry:
            if _local(link.tag) == "link" and link.get("rel", "alternate") == "alternate" and link.get("href"):
                published = parse_instant(_child_text(entry, "published"))
                modified = parse_instant(_child_text(entry, "updated"))
                return Link(urljoin(base_url, link.get("href", "")), published or modified, modified or published)
        return None
    loc = _child_text(entry, "loc")
    if not loc:
        return None
    modified = parse_instant(_child_text(entry, "lastmod"))
    published = parse_instant(_descendant_text(entry, "publication_date"))
    return Link(urljoin(base_url, loc), published or modified, modified or published)


_ENTRY = {"rss": "item", "rdf": "item", "feed": "entry", "urlset": "url", "sitemapindex": "sitemap"}


def parse_listing(body: bytes, base_url: str, max_entries: int = MAX_ENTRIES) -> Listing:
    """Read an RSS 2.0, RSS 1.0 (RDF), Atom, sitemap or sitemap-index document, streaming: each
    entry is dropped once read, and reading stops after ``max_entries``, so memory stays small
    whatever the document's size.

    Raises :class:`InputError` for malformed XML or an unknown document type."""
    links: list[Link] = []
    sitemaps: list[Link] = []
    kind = ""
    stack: list[ElementTree.Element] = []
    entries = 0
    try:
        for event, element in ElementTree.iterparse(io.BytesIO(_decompress(body)), events=("start", "end")):
            if event == "start":
                if not stack:
                    kind = _local(element.tag)
                    if kind not in _ENTRY:
                        raise InputError(f"not a feed or sitemap (root element <{kind}>)")
                stack.append(element)
                continue
            stack.pop()
            if _local(element.tag) != _ENTRY[kind] or (kind == "feed" and len(stack) != 1):
                continue
            link = _entry_link(kind, element, base_url)
            if link is not None:
                (sitemaps if kind == "sitemapindex" else links).append(link)
            if stack:
                stack[-1].remove(element)  # read: let it go
            entries += 1
            if entries >= max_entries:
                log.warning("%s: more than %d entries; the rest is not read", base_url, max_entries)
                break
    except ElementTree.ParseError as exc:
        if not kind or entries < max_entries:
            raise InputError(f"malformed XML ({exc})") from exc
    if not kind:
        raise InputError("malformed XML (no root element)")
    return Listing(links=links, sitemaps=sitemaps)
