"""Damaged index files: detected, said, and never turned into confident wrong answers."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import index as ix
import tracer
from cli import main
from tests.conftest import HashEmbedder
from tracer.tracing._judge import rule_for

ARTICLE = "Story 7 says the river rose 7 metres overnight in the city."


def build(path: Path, embedder: HashEmbedder) -> None:
    records = [{"url": f"https://a.example/{i}", "outlet": "The Guardian", "lang": "en",
                "text": f"Story {i} says the river rose {i} metres overnight in the city. Officials counted {i * 3} boats."}
               for i in range(40)]  # fmt: skip
    with ix.writer_for(path, embedder, "torch") as writer:
        writer.add([ix.document_from_record(r) for r in records])


def test_random_bytes_in_the_vector_file_are_detected_and_searches_stay_right(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "index"
    embedder = HashEmbedder()
    build(path, embedder)
    with tracer.Tracer(path, embedder, rule_for(embedder.info.name)) as t:
        good = t.trace(ARTICLE).to_dict()["sentences"]
    vectors = next(path.glob("vectors-*.faiss"))
    size = vectors.stat().st_size
    with vectors.open("r+b") as fh:  # 4 KB of noise in the middle, same size
        fh.seek(size // 2 - 2048)
        fh.write(os.urandom(4096))
    assert vectors.stat().st_size == size
    with caplog.at_level(logging.WARNING), tracer.Tracer(path, embedder, rule_for(embedder.info.name)) as t:
        again = t.trace(ARTICLE).to_dict()["sentences"]
    assert "is damaged (its checksum is not the one recorded" in caplog.text
    assert again == good  # the database's vectors, not the damaged file's
    stats = CliRunner().invoke(main, ["index", "stats", "--index", str(path), "--format", "json"])
    assert json.loads(stats.stdout)["vector_file"] == f"{vectors.name} DAMAGED (rebuilt in memory on use)"
    with ix.writer_for(path, embedder, "torch") as writer:  # the next add writes a good file
        writer.add([ix.document_from_record({"url": "https://b.example/x", "outlet": "BBC", "lang": "en",
                                             "text": "A new report arrived."})])  # fmt: skip
    stats = CliRunner().invoke(main, ["index", "stats", "--index", str(path), "--format", "json"])
    assert json.loads(stats.stdout)["vector_file"].endswith(" verified")


def test_a_vector_file_without_its_recorded_checksum_is_not_trusted(tmp_path: Path) -> None:
    """A writer killed between writing the file and recording it leaves a file nobody vouches for."""
    path = tmp_path / "index"
    embedder = HashEmbedder()
    build(path, embedder)
    vectors = next(path.glob("vectors-*.faiss"))
    stray = path / "vectors-99.faiss"
    stray.write_bytes(vectors.read_bytes())
    with ix.IndexStore.open(path) as store:
        assert store._intact(vectors) and not store._intact(stray)
