"""The reference index: source documents, their sentences and vectors, stored crash-safely,
and the crawler that builds and refreshes it from the configured outlets."""

from ._crawl import Crawler, CrawlOptions, CrawlSummary
from ._documents import (
    SOURCE_LANGS,
    Document,
    check_jsonl,
    document_from_record,
    iter_jsonl,
    parse_published,
    read_jsonl,
)
from ._extract import document_from_html, read_html
from ._fetch import Fetcher, FetchError, FetchPolicy, Page
from ._ingest import WINDOW, AddSummary, add_documents, content_sha256, manifest_for, units_for
from ._sources import CrawlConfig, Source, load_sources, shipped_sources
from ._store import IndexStore

__all__ = [
    "SOURCE_LANGS",
    "WINDOW",
    "AddSummary",
    "CrawlConfig",
    "CrawlOptions",
    "CrawlSummary",
    "Crawler",
    "Document",
    "FetchError",
    "FetchPolicy",
    "Fetcher",
    "IndexStore",
    "Page",
    "Source",
    "add_documents",
    "check_jsonl",
    "content_sha256",
    "document_from_html",
    "document_from_record",
    "iter_jsonl",
    "load_sources",
    "manifest_for",
    "parse_published",
    "read_html",
    "read_jsonl",
    "shipped_sources",
    "units_for",
]
