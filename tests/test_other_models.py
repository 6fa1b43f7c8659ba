"""Any sentence-transformers model from a local path goes through the same code path as the default.

The model here is a tiny randomly initialised BERT (built offline from the default model's
tokenizer), so the test checks plumbing, prompts, model records and refusals, not quality."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from tests.conftest import EXAMPLE

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def private_exports(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """ONNX exports of this module's throwaway models go to tmp, not the shared model cache."""
    from tracer.model import _onnx

    monkeypatch.setattr(_onnx, "cache_dir", lambda: tmp_path / "cache")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models
    from transformers import BertConfig, BertModel

    from tracer.model._embed import default_checkpoint

    base, _ = default_checkpoint()
    raw = tmp_path_factory.mktemp("tiny-raw")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(base / name, raw / name)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=250037, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, pad_token_id=1)  # fmt: skip
    BertModel(config).save_pretrained(raw)
    transformer = models.Transformer(str(raw), max_seq_length=128)
    pooling = models.Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    out = tmp_path_factory.mktemp("tiny") / "tiny-bert"
    SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu").save(str(out))
    return out


def test_local_model_builds_and_traces_with_a_generic_rule(tiny_model: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    index = tmp_path / "index"
    add = runner.invoke(
        main, ["index", "add", "--index", str(index), "--model", str(tiny_model), str(EXAMPLE / "sources.jsonl")]
    )
    assert add.exit_code == 0, add.stderr
    stats = json.loads(runner.invoke(main, ["index", "stats", "--index", str(index), "--format", "json"]).stdout)
    assert stats["model"] == {"name": str(tiny_model), "source": "local", "dim": 32, "query_prompt": "",
                              "passage_prompt": "", "max_seq_length": 128, "adapter": None}  # fmt: skip
    result = runner.invoke(main, ["--index", str(index), str(EXAMPLE / "artikel.txt")])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model"]["name"] == str(tiny_model)
    assert report["decision"]["calibrated"] is False
    assert f"model '{tiny_model}' has no calibration; verdicts use a generic margin rule" in report["warnings"]
    assert len(report["sentences"]) == 16


def test_adding_with_another_model_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    index = tmp_path / "index"
    runner.invoke(
        main, ["index", "add", "--index", str(index), "--model", str(tiny_model), str(EXAMPLE / "sources.jsonl")]
    )
    result = runner.invoke(
        main,
        ["index", "add", "--index", str(index), "--model", "multilingual-e5-small", str(EXAMPLE / "sources.jsonl")],
    )
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: index at {index} holds vectors of model '{tiny_model}', not 'multilingual-e5-small'; "
        f"use --model '{tiny_model}' (or none) or a new --index directory\n"
    )
