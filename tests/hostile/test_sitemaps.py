"""Sitemap bombs: a sitemap index that lists itself, children with far more entries than the
protocol allows, gzip that inflates a hundredfold. Discovery stays bounded in requests, entries
and memory, and the newest links win."""

from __future__ import annotations

import gzip
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

import index as ix
from index._crawl import SourceCounts, discover
from index._discover import parse_listing
from index._sources import Source
from tests.site import Response, Site
from tracer import InputError

NOW = datetime(2025, 7, 25, 12, tzinfo=UTC)


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


def urlset(site: Site, start: int, n: int) -> bytes:
    entries = "".join(
        f"<url><loc>{site.url(f'/news/{i}')}</loc><lastmod>{(NOW - timedelta(minutes=i)).isoformat()}</lastmod></url>"
        for i in range(start, start + n)
    )
    return f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'.encode()


@pytest.mark.heavy
def test_a_sitemap_index_listing_itself_and_huge_gzip_children_stays_bounded(site: Site) -> None:
    children = [f"/sitemap-{k}.xml.gz" for k in range(3)]
    index_xml = "".join(f"<sitemap><loc>{site.url(p)}</loc></sitemap>" for p in ["/sitemap.xml"] * 40 + children)
    site.route("/sitemap.xml", Response(body=f"<sitemapindex>{index_xml}</sitemapindex>".encode(),
                                        content_type="application/xml"))  # fmt: skip
    for k, path in enumerate(children):  # 12,000 entries each, the newest in the first child
        site.route(
            path, Response(body=gzip.compress(urlset(site, k * 12_000, 12_000)), content_type="application/gzip")
        )
    src = Source(name="bomb", outlet="Bomb", langs=("en",), sitemaps=(site.url("/sitemap.xml"),), delay=0.0,
                 allow_private=True)  # fmt: skip
    policy = ix.FetchPolicy(read_timeout=5, connect_timeout=2, deadline=20, retries=0, max_bytes=5_000_000)
    tracemalloc.start()
    with ix.Fetcher(policy) as fetcher:
        links = discover(src, fetcher, SourceCounts(), None, keep=1_000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(site.requests_to("/sitemap.xml")) == 1  # listed 40 times by itself: read once
    assert all(len(site.requests_to(p)) == 1 for p in children)
    assert len(links) == 1_000
    assert [link.url for link in links[:2]] == [site.url("/news/0"), site.url("/news/1")]  # newest first
    assert peak < 60_000_000, f"discovery held {peak / 1e6:.0f} MB at its peak"


def test_a_listing_past_the_entry_cap_is_read_no_further(site: Site) -> None:
    listing = parse_listing(urlset(site, 0, 500), site.url("/sitemap.xml"), max_entries=100)
    assert len(listing.links) == 100 and listing.links[0].url == site.url("/news/0")
    bomb = gzip.compress(b"<urlset>" + b"<url><loc>http://x.example/a</loc></url>" * 2_000_000 + b"</urlset>")
    assert len(bomb) < 1_000_000  # 80 MB once inflated: refused past the 50 MB cap, before parsing
    with pytest.raises(InputError, match="bytes once decompressed"):
        parse_listing(bomb, "http://x.example/sitemap.xml")
