"""Rows that cross the store's modules: documents and units on their way in, a batch's result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from tracer import SourceDoc


@dataclass(frozen=True)
class NewUnit:
    """A sentence or window ready to store, with its vector."""

    first: int
    last: int
    start: int
    end: int
    text: str
    vector: np.ndarray


@dataclass(frozen=True)
class NewDocument:
    doc: SourceDoc
    text: str
    content_sha256: str
    units: Sequence[NewUnit]


@dataclass(frozen=True)
class BatchResult:
    added: int
    replaced: int
    units: int


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()
