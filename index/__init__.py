"""The reference index: source documents, their sentences and vectors, stored crash-safely."""

from ._documents import SOURCE_LANGS, Document, document_from_record, parse_published, read_jsonl
from ._extract import document_from_html, read_html
from ._ingest import WINDOW, AddSummary, add_documents, content_sha256, manifest_for, units_for
from ._store import IndexStore

__all__ = [
    "SOURCE_LANGS",
    "WINDOW",
    "AddSummary",
    "Document",
    "IndexStore",
    "add_documents",
    "content_sha256",
    "document_from_html",
    "document_from_record",
    "manifest_for",
    "parse_published",
    "read_html",
    "read_jsonl",
    "units_for",
]
