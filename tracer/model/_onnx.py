"""The loaded model's transformer exported to ONNX (run by ONNX Runtime, or by OpenVINO for
bf16, on CPU), with mean pooling and normalization in numpy. One export per model identity,
cached, serves three precisions:

- ``float32``: the same numbers as torch (cosine 1.0000), so ``trace`` embeds an article's
  sentences without importing torch, sentence-transformers or peft: that import and the model
  load were most of the cold start.
- ``int8``: MatMul weights quantized per output channel (dynamic quantization), the backend
  for embedding many source sentences when building the index (3.56x torch float32 at -0.4
  points of top-1, ``benchmarks/embed_backends.py``).
- ``bf16``: the float32 graph run by OpenVINO with bfloat16 matrix products, on CPUs that have
  them (AVX512-BF16, AMX): what ``trace`` encodes articles with where it can, 1.79x ONNX Runtime
  float32 at cosine 0.99995 or more to it (``benchmarks/embed_backends.py``).

sentence-transformers' own ONNX backend goes through ``optimum``, which on this package set
would pull an older transformers (see the README); exporting directly avoids that.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import queue
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from tracer._cpus import encoder_threads
from tracer._errors import ConfigError, ModelError
from tracer._files import one_at_a_time, sha256_file
from tracer._paths import cache_dir
from tracer.model._embed import (
    Embedder,
    ModelInfo,
    Role,
    SentenceTransformerEmbedder,
    WordPieces,
    adapter_identity,
    resolve,
    unit_rows,
    word_rows,
)

log = logging.getLogger(__name__)

MARKER = "tracer-onnx.json"
EXPORT_VERSION = 4
"""4: the marker records each file's SHA-256, size and time, checked before use."""
FILES = {"float32": "model.onnx", "int8": "model-int8.onnx"}
CHECKED = (*FILES.values(), "tokenizer.json")
Precision = Literal["float32", "int8", "bf16"]
GRAPH: dict[str, str] = {**FILES, "bf16": FILES["float32"]}
"""The exported graph each precision runs (bf16 is the float32 graph, run in bfloat16)."""


def export_key(name: str, source: str, adapter: str | None) -> str:
    """What identifies a model before it is loaded (its recorded info is checked after).

    A local model directory is identified by its files too: retrained in place, it keeps its
    name and recorded info, and must not be traced through the old weights' export."""
    files = _fingerprint(Path(name)) if source == "local" else []
    ident = json.dumps([name, source, adapter, EXPORT_VERSION, files])
    return hashlib.sha256(ident.encode()).hexdigest()[:16]


def _fingerprint(directory: Path) -> list[tuple[str, int, int]]:
    return sorted(
        (str(p.relative_to(directory)), (st := p.stat()).st_size, st.st_mtime_ns)
        for p in directory.rglob("*")
        if p.is_file()
    )


def export_dir(name: str, source: str, adapter: str | None) -> Path:
    return cache_dir() / "onnx" / export_key(name, source, adapter)


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """torch.onnx's tracer warnings and onnxruntime's pre-processing advice (logged on the root
    logger) are about graph export details, nothing a user can act on."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


def export(st_model: object, info: ModelInfo, target: Path) -> None:
    """Export ``st_model``'s transformer to ONNX float32 and int8 and save its tokenizer.

    Written into a temporary directory and renamed into place, marker included, so an
    interrupted export leaves nothing that looks complete."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    transformer = st_model[0]  # type: ignore[index]
    auto_model = transformer.auto_model

    class Encoder(torch.nn.Module):
        """BertModel called by keyword (transformers 5 no longer takes these positionally)."""

        def __init__(self) -> None:
            super().__init__()
            self.model = auto_model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".onnx-", dir=target.parent))
    attention = getattr(auto_model.config, "_attn_implementation", None)
    with _quiet_export():
        try:
            # Traced through eager attention: SDPA's traced mask handling adds Where/IsNaN nodes
            # that ONNX Runtime then runs on every batch; the eager graph gives the same vectors.
            if attention not in (None, "eager"):
                auto_model.set_attn_implementation("eager")
            ids = torch.ones((2, 8), dtype=torch.long)
            fp32 = work / FILES["float32"]
            with torch.no_grad():
                torch.onnx.export(
                    Encoder().eval(), (ids, torch.ones_like(ids)), str(fp32), opset_version=17, dynamo=False,
                    input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                    dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                  "last_hidden_state": {0: "batch", 1: "seq"}},
                )  # fmt: skip
            # MatMuls only (quantizing the embedding Gather too costs agreement), one scale per
            # output channel: cosine to float32 0.990 on average instead of 0.957 per tensor.
            quantize_dynamic(str(fp32), str(work / FILES["int8"]), weight_type=QuantType.QInt8,
                             op_types_to_quantize=["MatMul"], per_channel=True)  # fmt: skip
            transformer.tokenizer.backend_tokenizer.save(str(work / "tokenizer.json"))
            files = {name: _fingerprint_file(work / name, full=True) for name in CHECKED}
            (work / MARKER).write_text(json.dumps({"version": EXPORT_VERSION, "info": info.to_dict(), "files": files},
                                                  indent=2))  # fmt: skip
            if read_export(target) == info:  # another process finished first: keep its copy (it may be in use)
                return
            if target.exists():
                shutil.rmtree(target)
            os.replace(work, target)
        finally:
            if attention not in (None, "eager"):
                auto_model.set_attn_implementation(attention)
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)


def _fingerprint_file(path: Path, full: bool) -> dict[str, object]:
    st = path.stat()
    out: dict[str, object] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if full:
        out["sha256"] = sha256_file(path)
    return out


def _files_intact(directory: Path, recorded: dict[str, dict[str, object]]) -> bool:
    """Each file as exported: same size and time (cheap, every start), else the same SHA-256
    (a copied cache keeps its contents but not its times). A truncated or overwritten file fails."""
    for name in CHECKED:
        want = recorded.get(name) or {}
        try:
            have = _fingerprint_file(directory / name, full=False)
            if (have["size"], have["mtime_ns"]) == (want.get("size"), want.get("mtime_ns")):
                continue
            if have["size"] != want.get("size") or _fingerprint_file(directory / name, True)["sha256"] != want.get(
                "sha256"
            ):
                log.warning(
                    "the ONNX export in %s is damaged (%s is not as it was written); making it again", directory, name
                )
                return False
        except OSError:
            return False
    return True


def read_export(directory: Path) -> ModelInfo | None:
    """The model info recorded by a complete, intact export in ``directory``, else None."""
    try:
        marker = json.loads((directory / MARKER).read_text(encoding="utf-8"))
        if marker.get("version") != EXPORT_VERSION or not _files_intact(directory, marker.get("files") or {}):
            return None
        return ModelInfo(**marker["info"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


TOKENS_PER_BATCH = 512
"""Padded tokens per ONNX batch: many short sentences or a few long ones, so activations stay
cache-sized. int8 on 2 cores: 3.57x torch at 512, 2.96x at 128, 3.37x at 2048
(``benchmarks/embed_backends.py --budgets 128,2048``); 2.81x before, with 16 sentences per
batch and the SDPA graph."""


def token_batches(lengths: np.ndarray, tokens: int = TOKENS_PER_BATCH) -> Iterator[np.ndarray]:
    """Indices of ``lengths``, shortest first, in batches whose padded size (rows x longest)
    stays within ``tokens`` (a longer sentence goes alone)."""
    order = np.argsort(lengths, kind="stable")
    start = 0
    for end in range(1, len(order) + 1):
        if end == len(order) or (end + 1 - start) * lengths[order[end]] > tokens:
            yield order[start:end]
            start = end


def bf16_available() -> bool:
    """Whether OpenVINO is installed and this CPU multiplies in bfloat16 natively (elsewhere the
    hint would be emulated or ignored: no faster than float32)."""
    try:
        import openvino as ov

        return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:  # not installed, or a build without the CPU plugin
        return False


PRECISION_ENV = "TRACER_PRECISION"
"""auto (the default), float32 or bf16: what articles are encoded with."""


def query_precision(setting: str | None = None) -> Precision:
    """What ``trace`` encodes articles with (``setting``; None: ``$TRACER_PRECISION``): ``auto``
    takes bf16 where :func:`bf16_available`, else float32 (ONNX Runtime, the same numbers as torch)."""
    if setting is None:
        setting = os.environ.get(PRECISION_ENV)
    chosen = (setting or "auto").strip().lower()
    if chosen not in ("auto", "float32", "bf16"):
        raise ConfigError(f"{PRECISION_ENV}={setting!r} is not a precision; use auto, float32 or bf16")
    if chosen == "float32":
        return "float32"
    if bf16_available():
        return "bf16"
    if chosen == "bf16":
        raise ConfigError(f"{PRECISION_ENV}=bf16 needs OpenVINO (pip install openvino) and a CPU with bfloat16 "
                          "products (AVX512-BF16 or AMX); use auto or float32")  # fmt: skip
    return "float32"


class _OrtRunner:
    """Last hidden states through ONNX Runtime; its sessions are safe to share between threads."""

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        # no busy-waiting between runs: the faiss search and Python work that follow get both cores
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]  # type: ignore[no-any-return]


class _OpenVinoRunner:
    """Last hidden states through OpenVINO in bfloat16. A compiled model is shared; its infer
    requests are not, so each call borrows one from a pool (one per concurrent caller)."""

    def __init__(self, path: Path, threads: int) -> None:
        import openvino as ov

        # no CACHE_DIR: a compiled blob (~450 MB) would load in 0.15 s instead of compiling in
        # ~1.2 s, but carries no checksum, and a damaged one loads silently with wrong weights
        config = {"INFERENCE_PRECISION_HINT": "bf16", "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
        self._compiled = ov.Core().compile_model(str(path), "CPU", config)
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        try:
            request = self._idle.get_nowait()
        except queue.Empty:
            request = self._compiled.create_infer_request()
        try:
            # the output lives in the request's own buffer, which its next caller overwrites
            return np.array(request.infer({"input_ids": ids, "attention_mask": mask})[0], dtype=np.float32)
        finally:
            self._idle.put(request)


class OnnxEmbedder:
    """Sentences through one exported graph of a model, pooled and normalized like the original."""

    def __init__(self, info: ModelInfo, directory: Path, precision: Precision = "float32",
                 tokens_per_batch: int = TOKENS_PER_BATCH, threads: int | None = None) -> None:  # fmt: skip
        from tokenizers import Tokenizer

        self._info = info
        self._precision = precision
        self._tokens_per_batch = tokens_per_batch
        runner = _OpenVinoRunner if precision == "bf16" else _OrtRunner
        self._run_graph = runner(directory / GRAPH[precision], threads or encoder_threads())
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(info.max_seq_length)
        self._tokenizer.no_padding()  # padded per batch below
        self._pad_id = self._tokenizer.token_to_id("<pad>") or 0

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def precision(self) -> str:
        return self._precision

    def embed(self, texts: Sequence[str], *, role: Role, show_progress: bool = False) -> np.ndarray:
        return self._run(texts, role, tokens=False)[0]

    def token_vectors(self, texts: Sequence[str], *, role: Role) -> list[np.ndarray]:
        return [p.vectors for p in self._run(texts, role, tokens=True)[1]]

    def embed_with_tokens(self, texts: Sequence[str], *, role: Role) -> tuple[np.ndarray, list[WordPieces]]:
        return self._run(texts, role, tokens=True)

    def _run(self, texts: Sequence[str], role: Role, *, tokens: bool) -> tuple[np.ndarray, list[WordPieces]]:
        out = np.zeros((len(texts), self._info.dim), dtype=np.float32)
        none = WordPieces(np.zeros((0, self._info.dim), np.float32), ())
        pieces: list[WordPieces] = [none] * (len(texts) if tokens else 0)
        prompt = len(self._info.query_prompt if role == "query" else self._info.passage_prompt)
        for rows, hidden, mask, encodings in self._states(texts, role):
            summed = (hidden * mask[:, :, None]).sum(axis=1)
            pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            out[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            for r, i in enumerate(rows if tokens else ()):
                words = word_rows(encodings[i].tokens, encodings[i].offsets, prompt)
                pieces[i] = WordPieces(unit_rows(hidden[r, words]), tuple(encodings[i].tokens[w] for w in words))
        return out, pieces

    def _states(self, texts: Sequence[str], role: Role) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, list]]:
        """The last hidden states of ``texts``, in length-sorted batches: (rows, states, mask, encodings)."""
        if not texts:
            return
        prompt = self._info.query_prompt if role == "query" else self._info.passage_prompt
        encodings = self._tokenizer.encode_batch([prompt + t for t in texts])
        lengths = np.array([len(e.ids) for e in encodings])
        for rows in token_batches(lengths, self._tokens_per_batch):
            ids = np.full((len(rows), int(lengths[rows].max())), self._pad_id, dtype=np.int64)
            mask = np.zeros_like(ids)
            for r, i in enumerate(rows):
                ids[r, : lengths[i]] = encodings[i].ids
                mask[r, : lengths[i]] = 1
            yield rows, self._run_graph(ids, mask), mask, encodings


class SplitEmbedder:
    """Queries through one embedder, passages through another, one model identity: the index
    is built fast and articles are traced at full precision."""

    def __init__(self, query: object, passage: object) -> None:
        self._query, self._passage = query, passage

    @property
    def info(self) -> ModelInfo:
        return self._query.info  # type: ignore[attr-defined, no-any-return]

    @property
    def precision(self) -> str:
        return self._query.precision  # type: ignore[attr-defined, no-any-return]

    @property
    def passage(self) -> object:
        return self._passage

    def embed(self, texts: Sequence[str], *, role: Role, show_progress: bool = False) -> np.ndarray:
        target = self._query if role == "query" else self._passage
        return target.embed(texts, role=role, show_progress=show_progress)  # type: ignore[attr-defined, no-any-return]

    def token_vectors(self, texts: Sequence[str], *, role: Role) -> list[np.ndarray]:
        """Always the query side's (for passages too): word recall compares an article sentence
        with its candidates at full precision, whatever built the index."""
        return self._query.token_vectors(texts, role=role)  # type: ignore[attr-defined, no-any-return]

    def embed_with_tokens(self, texts: Sequence[str], *, role: Role) -> tuple[np.ndarray, list[WordPieces]]:
        """The query side's word pieces, with each role's own vectors: a passage's vector is the
        passage side's (int8, say) even when a memo asks for both at once."""
        vectors, pieces = self._query.embed_with_tokens(texts, role=role)  # type: ignore[attr-defined]
        if role == "passage":
            vectors = self._passage.embed(texts, role=role)  # type: ignore[attr-defined]
        return vectors, pieces


def as_traced(embedder: Embedder, base: SentenceTransformerEmbedder, precision: Precision,
              progress: Callable[[str], None] | None = None) -> Embedder:  # fmt: skip
    """``embedder`` with articles encoded as ``trace`` encodes them in ``precision`` (bf16: the
    export of ``base`` through OpenVINO; float32: as it is, the same numbers), passages as before.
    Evaluations trace through this, so their figures are what ``trace`` on this machine gives."""
    if precision != "bf16" or exportable(base.model) is not None:
        return embedder
    return SplitEmbedder(OnnxEmbedder(base.info, ensure_export(base, progress), "bf16"), embedder)  # type: ignore[return-value]


def available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def exportable(st_model: object) -> str | None:
    """None if the export reproduces ``st_model`` (a transformer, mean pooling over every token,
    optionally normalization), else why not (LaBSE, for one, pools the CLS token through a
    Dense layer)."""
    names = [type(m).__name__ for m in st_model]  # type: ignore[attr-defined]
    if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return f"its modules are {' -> '.join(names)}, not Transformer -> Pooling (mean) -> Normalize"
    config = st_model[1].get_config_dict()  # type: ignore[index]
    mean = config.get("pooling_mode") == "mean" or (
        config.get("pooling_mode_mean_tokens") and not config.get("pooling_mode_cls_token")
    )
    if not mean or config.get("include_prompt", True) is False:
        return f"it pools with {config}, not the mean of all tokens"
    return None


def ensure_export(base: SentenceTransformerEmbedder, progress: Callable[[str], None] | None = None) -> Path:
    """The export of ``base``'s model, made on first use."""
    if not available():
        raise ModelError("ONNX export needs onnxruntime and onnx: pip install onnxruntime onnx")
    why_not = exportable(base.model)
    if why_not is not None:
        raise ModelError(f"{base.info.name} cannot run through tracer's ONNX export: {why_not}")
    info = base.info
    directory = export_dir(info.name, info.source, info.adapter)
    if read_export(directory) == info:
        return directory
    try:
        with one_at_a_time(directory, progress):
            if read_export(directory) == info:  # another process made it while this one waited
                return directory
            if progress:
                progress(f"exporting {info.name} to ONNX (once, into {directory})")
            export(base.model, info, directory)
    except OSError as exc:
        raise ModelError(f"cannot export {info.name} to ONNX into {directory}: {exc}; "
                         "set TRACER_CACHE_DIR to a writable directory") from exc  # fmt: skip
    except Exception as exc:  # torch.onnx and onnxruntime raise many kinds
        raise ModelError(f"cannot export {info.name} to ONNX: {exc}") from exc
    prune(directory.parent)
    return directory


def prune(root: Path, stale_after: float = 86400.0) -> None:
    """Remove exports in an older format (never read again, ~900 MB each for the default
    model) and temporary directories that interrupted exports left over a day ago."""
    import time

    for entry in root.iterdir() if root.is_dir() else []:
        try:
            if entry.name.startswith(".onnx-"):
                stale = time.time() - entry.stat().st_mtime > stale_after
            else:
                marker = json.loads((entry / MARKER).read_text(encoding="utf-8"))
                stale = marker.get("version") != EXPORT_VERSION
        except (OSError, ValueError, AttributeError):
            continue  # not an export of ours, or one being written: leave it
        if stale:
            log.info("removing stale ONNX export %s", entry)
            shutil.rmtree(entry, ignore_errors=True)


def traced_export(name: str, prompts: tuple[str, str] | None = None, setting: str | None = None) -> OnnxEmbedder | None:
    """The model's export as `trace` encodes articles with it: in :func:`query_precision`
    (``setting``, else ``$TRACER_PRECISION``, else bf16 where this CPU runs it natively), falling
    back to float32 where OpenVINO cannot load it; None where the model was never exported."""
    chosen = query_precision(setting)
    found = exported_embedder(name, prompts, chosen)
    return found if found is not None or chosen == "float32" else exported_embedder(name, prompts)


def int8_embedder(base: SentenceTransformerEmbedder, progress: Callable[[str], None] | None = None) -> SplitEmbedder:
    """``base`` for queries, its int8 ONNX export (cached, made on first use) for passages."""
    directory = ensure_export(base, progress)
    return SplitEmbedder(base, OnnxEmbedder(base.info, directory, "int8"))


def exported_embedder(
    name: str, prompts: tuple[str, str] | None = None, precision: Precision = "float32"
) -> OnnxEmbedder | None:
    """An ONNX embedder for model ``name`` (with these prompts, if given) if it was exported
    before; None means: load the model with sentence-transformers (and export it then).

    Nothing heavy is imported: the model's identity (name, origin, adapter digest) is worked
    out as loading would, and the export's recorded info says the rest (callers compare it with
    what an index recorded)."""
    if not available():
        return None
    try:
        spec = resolve(name)
    except ModelError:
        return None
    adapter = adapter_identity(spec.adapter, spec.adapter_name) if spec.adapter is not None else None
    directory = export_dir(spec.name, spec.source, adapter)
    info = read_export(directory)
    if info is None or (prompts is not None and (info.query_prompt, info.passage_prompt) != prompts):
        return None
    try:
        embedder = OnnxEmbedder(info, directory, precision)
    except Exception as exc:  # onnxruntime, OpenVINO and tokenizers raise their own kinds for unreadable files
        if precision == "bf16":  # the caller falls back to float32 through ONNX Runtime
            log.warning("OpenVINO cannot load the ONNX export in %s (%s)", directory, str(exc)[:200])
        else:
            log.warning("the ONNX export in %s cannot be loaded (%s); making it again", directory, str(exc)[:200])
        return None
    runtime = "OpenVINO" if precision == "bf16" else "ONNX Runtime"
    log.info("embedding with the ONNX export of %s in %s through %s (%s)", info.name, precision, runtime, directory)
    return embedder
