"""A damaged ONNX export in the model cache is noticed before use and made again, instead of a
traceback on every run (truncated) or silent nonsense (overwritten)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tracer import ModelInfo
from tracer.model._onnx import CHECKED, EXPORT_VERSION, MARKER, _fingerprint_file, read_export

INFO = ModelInfo(name="m", source="test", dim=4, query_prompt="q: ", passage_prompt="p: ", max_seq_length=16)


def fake_export(directory: Path) -> None:
    directory.mkdir(parents=True)
    for name in CHECKED:
        (directory / name).write_bytes(os.urandom(50_000))
    files = {name: _fingerprint_file(directory / name, full=True) for name in CHECKED}
    (directory / MARKER).write_text(json.dumps({"version": EXPORT_VERSION, "info": INFO.to_dict(), "files": files}))


def test_an_intact_export_is_used_even_when_copied(tmp_path: Path) -> None:
    fake_export(tmp_path / "a")
    assert read_export(tmp_path / "a") == INFO
    shutil.copytree(tmp_path / "a", tmp_path / "b", copy_function=shutil.copyfile)  # new times, same bytes
    assert read_export(tmp_path / "b") == INFO


def test_a_truncated_or_overwritten_file_makes_the_export_unusable(tmp_path: Path) -> None:
    for k, name in enumerate(CHECKED):
        directory = tmp_path / str(k)
        fake_export(directory)
        size = (directory / name).stat().st_size
        if k % 2:
            with open(directory / name, "r+b") as fh:  # truncated
                fh.truncate(size // 2)
        else:
            with open(directory / name, "r+b") as fh:  # overwritten in the middle, same size
                fh.seek(size // 2)
                fh.write(os.urandom(4096))
        assert read_export(directory) is None, name


def test_an_export_of_an_older_format_is_not_used(tmp_path: Path) -> None:
    fake_export(tmp_path / "old")
    marker = json.loads((tmp_path / "old" / MARKER).read_text())
    (tmp_path / "old" / MARKER).write_text(json.dumps({**marker, "version": EXPORT_VERSION - 1}))
    assert read_export(tmp_path / "old") is None
