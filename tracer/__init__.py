"""tracer: find where each sentence of an Indonesian news article came from.

The pipeline runs one way: input -> segment -> embed -> search -> judge -> report.
Modules are private; this package exports what callers and the ``index`` package use.
"""

from ._embed import DEFAULT_MODEL, Embedder, ModelInfo, SentenceTransformerEmbedder, load_embedder
from ._errors import ConfigError, InputError, ModelError, ReferenceIndexError, TracerError
from ._segment import SEGMENTER_ID, Sentence, segment
from ._types import SourceDoc, SourceUnit

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MODEL",
    "SEGMENTER_ID",
    "ConfigError",
    "Embedder",
    "InputError",
    "ModelError",
    "ModelInfo",
    "ReferenceIndexError",
    "Sentence",
    "SentenceTransformerEmbedder",
    "SourceDoc",
    "SourceUnit",
    "TracerError",
    "__version__",
    "load_embedder",
    "segment",
]
