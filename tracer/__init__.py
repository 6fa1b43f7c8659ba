"""tracer: find where each sentence of an Indonesian news article came from.

The pipeline runs one way: input -> segment -> embed -> search -> judge -> report.
Modules are private; this package exports what callers and the ``index`` package use.
:class:`Tracer` is the entry point for tracing (``Tracer.open(index_dir).trace(text)``).
"""

from typing import TYPE_CHECKING

from tracer._errors import ConfigError, InputError, ModelError, ReferenceIndexError, TracerError
from tracer._types import SourceDoc, SourceUnit
from tracer.model._embed import DEFAULT_MODEL, Embedder, ModelInfo, SentenceTransformerEmbedder, load_embedder
from tracer.tracing._segment import SEGMENTER_ID, Sentence, segment

if TYPE_CHECKING:
    from tracer._api import Prepared, Tracer
    from tracer.report._report import Report

__version__ = "0.2.0"


def __getattr__(name: str) -> object:
    """``Tracer`` and what it returns load on first use: they sit above the ``index`` package,
    which imports this one, so importing them here eagerly would make a cycle."""
    if name in ("Tracer", "Prepared"):
        from tracer import _api

        return getattr(_api, name)
    if name == "Report":
        from tracer.report._report import Report

        return Report
    raise AttributeError(f"module 'tracer' has no attribute {name!r}")


__all__ = [
    "DEFAULT_MODEL",
    "SEGMENTER_ID",
    "ConfigError",
    "Embedder",
    "InputError",
    "ModelError",
    "ModelInfo",
    "Prepared",
    "ReferenceIndexError",
    "Report",
    "Sentence",
    "SentenceTransformerEmbedder",
    "SourceDoc",
    "SourceUnit",
    "Tracer",
    "TracerError",
    "__version__",
    "load_embedder",
    "segment",
]
