"""Article links from RSS/Atom feeds and (news) sitemaps, with their dates.

trafilatura's feed and sitemap helpers fetch by themselves and return bare links; the crawler
needs every request to go through its own polite, guarded fetcher and needs the dates (newest
first, back to ``--since``, skip what has not changed), so the XML is read here.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin
from xml.etree import ElementTree

from tracer import InputError
from tracer._dates import parse_instant

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


def parse_listing(body: bytes, base_url: str) -> Listing:
    """Read an RSS 2.0, RSS 1.0 (RDF), Atom, sitemap or sitemap-index document.

    Raises :class:`InputError` for malformed XML or an unknown document type."""
    try:
        root = ElementTree.fromstring(_decompress(body))
    except ElementTree.ParseError as exc:
        raise InputError(f"malformed XML ({exc})") from exc
    except gzip.BadGzipFile as exc:  # pragma: no cover - zlib reports first
        raise InputError(f"damaged gzip data ({exc})") from exc
    kind = _local(root.tag)
    links: list[Link] = []
    sitemaps: list[Link] = []
    if kind in ("rss", "rdf"):
        for item in root.iter():
            if _local(item.tag) != "item":
                continue
            url = _child_text(item, "link") or (item.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about") or None)
            if url is None:
                guid = _child_text(item, "guid")
                url = guid if guid and guid.startswith(("http://", "https://")) else None
            if url:
                # pubDate is the publication date: an updated article keeps it, so it says nothing
                # about modification.
                links.append(Link(urljoin(base_url, url), parse_instant(_child_text(item, "pubdate", "date"))))
    elif kind == "feed":
        for entry in root:
            if _local(entry.tag) != "entry":
                continue
            href = None
            for link in entry:
                if _local(link.tag) == "link" and link.get("rel", "alternate") == "alternate" and link.get("href"):
                    href = link.get("href")
                    break
            if href:
                published = parse_instant(_child_text(entry, "published"))
                modified = parse_instant(_child_text(entry, "updated"))
                links.append(Link(urljoin(base_url, href), published or modified, modified or published))
    elif kind in ("urlset", "sitemapindex"):
        target = links if kind == "urlset" else sitemaps
        for entry in root:
            if _local(entry.tag) not in ("url", "sitemap"):
                continue
            loc = _child_text(entry, "loc")
            if not loc:
                continue
            modified = parse_instant(_child_text(entry, "lastmod"))
            published = parse_instant(_descendant_text(entry, "publication_date"))
            target.append(Link(urljoin(base_url, loc), published or modified, modified or published))
    else:
        raise InputError(f"not a feed or sitemap (root element <{kind}>)")
    return Listing(links=links, sitemaps=sitemaps)
