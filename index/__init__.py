"""The reference index: source documents, their sentences and vectors, stored crash-safely,
the crawler that builds and refreshes it from the configured outlets, and the importer of
archives (WARC, JSON Lines).
:func:`open_for_writing` is the entry point for adding to it."""

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
from ._import import ArchiveImporter, ImportSummary, import_paths, read_archive
from ._ingest import WINDOW, AddSummary, add_documents, content_sha256, manifest_for, units_for
from ._ray import RayPlan
from ._shards import MergeSummary, merge_shards
from ._sources import CrawlConfig, Source, load_sources, shipped_sources
from ._store import IndexStore
from ._writer import IndexWriter, build_example_index, indexing_embedder, open_for_writing, passage_embedder, writer_for

__all__ = [
    "SOURCE_LANGS",
    "WINDOW",
    "AddSummary",
    "ArchiveImporter",
    "CrawlConfig",
    "CrawlOptions",
    "CrawlSummary",
    "Crawler",
    "Document",
    "FetchError",
    "FetchPolicy",
    "Fetcher",
    "ImportSummary",
    "IndexStore",
    "IndexWriter",
    "MergeSummary",
    "Page",
    "RayPlan",
    "Source",
    "add_documents",
    "build_example_index",
    "check_jsonl",
    "content_sha256",
    "document_from_html",
    "document_from_record",
    "import_paths",
    "indexing_embedder",
    "iter_jsonl",
    "load_sources",
    "manifest_for",
    "merge_shards",
    "open_for_writing",
    "parse_published",
    "passage_embedder",
    "read_archive",
    "read_html",
    "read_jsonl",
    "shipped_sources",
    "units_for",
    "writer_for",
]
