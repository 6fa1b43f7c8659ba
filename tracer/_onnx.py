"""A faster embedding backend for index building: the loaded model's transformer exported to
ONNX and dynamically quantized to int8 (ONNX Runtime), with mean pooling and normalization in
numpy. Exported once per model identity into the user cache.

sentence-transformers' own ONNX backend goes through ``optimum``, which on this package set
would pull an older transformers (see the README); exporting directly avoids that.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ._embed import ModelInfo, Role, SentenceTransformerEmbedder
from ._errors import ModelError
from ._paths import cache_dir

BACKENDS = ("torch", "onnx-int8")
MARKER = "tracer-onnx.json"
EXPORT_VERSION = 1


def _cache_key(info: ModelInfo) -> str:
    import hashlib

    ident = json.dumps([info.name, info.source, info.dim, info.adapter, EXPORT_VERSION])
    return hashlib.sha256(ident.encode()).hexdigest()[:16]


def export_int8(st_model: object, target: Path) -> None:
    """Export ``st_model``'s transformer to ONNX, quantize it to int8, save its tokenizer."""
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
    try:
        ids = torch.ones((2, 8), dtype=torch.long)
        fp32 = work / "model-fp32.onnx"
        with torch.no_grad():
            torch.onnx.export(
                Encoder().eval(), (ids, torch.ones_like(ids)), str(fp32), opset_version=17, dynamo=False,
                input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                              "last_hidden_state": {0: "batch", 1: "seq"}},
            )  # fmt: skip
        quantize_dynamic(str(fp32), str(work / "model.onnx"), weight_type=QuantType.QInt8)
        fp32.unlink()
        transformer.tokenizer.backend_tokenizer.save(str(work / "tokenizer.json"))
        (work / MARKER).write_text(json.dumps({"version": EXPORT_VERSION, "max_seq_length": transformer.max_seq_length}))
        if target.exists():
            shutil.rmtree(target)
        os.replace(work, target)  # complete or absent: an interrupted export is redone
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


class OnnxEmbedder:
    """Passages (and, if asked, queries) through the int8 ONNX graph of a loaded model."""

    def __init__(self, info: ModelInfo, directory: Path, batch_size: int = 32, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._info = info
        self._batch_size = batch_size
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        self._session = ort.InferenceSession(str(directory / "model.onnx"), options,
                                             providers=["CPUExecutionProvider"])  # fmt: skip
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(info.max_seq_length)
        self._tokenizer.enable_padding(pad_id=self._tokenizer.token_to_id("<pad>") or 0)

    @property
    def info(self) -> ModelInfo:
        return self._info

    def embed(self, texts: Sequence[str], *, role: Role, show_progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self._info.dim), dtype=np.float32)
        if not texts:
            return out
        prompt = self._info.query_prompt if role == "query" else self._info.passage_prompt
        order = np.argsort([len(t) for t in texts])  # batches of similar length pad less
        for start in range(0, len(texts), self._batch_size):
            rows = order[start : start + self._batch_size]
            enc = self._tokenizer.encode_batch([prompt + texts[i] for i in rows])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            (hidden,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
            summed = (hidden * mask[:, :, None]).sum(axis=1)
            pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            out[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


class SplitEmbedder:
    """Queries through one embedder, passages through another, one model identity: the index
    is built fast and articles are traced at full precision."""

    def __init__(self, query: object, passage: object) -> None:
        self._query, self._passage = query, passage

    @property
    def info(self) -> ModelInfo:
        return self._query.info  # type: ignore[attr-defined, no-any-return]

    def embed(self, texts: Sequence[str], *, role: Role, show_progress: bool = False) -> np.ndarray:
        target = self._query if role == "query" else self._passage
        return target.embed(texts, role=role, show_progress=show_progress)  # type: ignore[attr-defined, no-any-return]


def int8_embedder(base: SentenceTransformerEmbedder, progress: Callable[[str], None] | None = None) -> SplitEmbedder:
    """``base`` for queries, its int8 ONNX export (cached, made on first use) for passages."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise ModelError("the onnx-int8 backend needs onnxruntime and onnx: pip install onnxruntime onnx") from exc
    directory = cache_dir() / "onnx" / _cache_key(base.info)
    if not (directory / MARKER).is_file():
        if progress:
            progress(f"exporting {base.info.name} to ONNX int8 (once, into {directory})")
        try:
            export_int8(base.model, directory)
        except Exception as exc:  # torch.onnx and onnxruntime raise many kinds
            raise ModelError(f"cannot export {base.info.name} to ONNX: {exc}") from exc
    return SplitEmbedder(base, OnnxEmbedder(base.info, directory))
