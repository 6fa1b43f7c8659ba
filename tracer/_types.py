"""Data that crosses module boundaries: source documents and the indexed units found for a query."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceDoc:
    """A source article as the index stores it."""

    url: str
    outlet: str
    lang: str
    title: str
    published: str | None


@dataclass(frozen=True)
class SourceUnit:
    """One searchable unit: a sentence (``first == last``) or a window of adjacent sentences.

    ``first``/``last`` are sentence positions in the document, ``start``/``end`` character
    offsets into its text, so a report can say which original sentences a match covers.
    """

    id: int
    doc_id: int
    doc: SourceDoc
    first: int
    last: int
    start: int
    end: int
    text: str

    def overlaps(self, other: SourceUnit) -> bool:
        return self.doc_id == other.doc_id and self.first <= other.last and other.first <= self.last
