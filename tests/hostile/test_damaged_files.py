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


def _meta(path: Path, key: str, value: str | None) -> None:
    import sqlite3

    with sqlite3.connect(path / "index.sqlite") as conn:
        if value is None:
            conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            conn.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))


@pytest.mark.parametrize(("key", "value", "said"), [
    ("manifest", "[1, 2]", "its manifest is list"),
    ("manifest", '{"format": 2}', "its manifest names no model"),
    ("manifest", '{"format": 2, "model": {"name": "x"}}', "its manifest's model is incomplete"),
    ("generation", "many", "its generation is 'many'"),
    ("generation", None, "its generation is missing"),
])  # fmt: skip
def test_damaged_metadata_is_one_line_and_exit_3_everywhere(tmp_path: Path, key: str, value: str | None,
                                                             said: str) -> None:  # fmt: skip
    path = tmp_path / "index"
    build(path, HashEmbedder())
    _meta(path, key, value)
    article = tmp_path / "a.txt"
    article.write_text("Sungai naik tujuh meter dalam semalam di kota itu, kata pejabat setempat.", encoding="utf-8")
    for args in (["index", "stats", "--index", str(path)], ["--index", str(path), str(article)],
                 ["serve", "--index", str(path), "--port", "0"]):  # fmt: skip
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 3, (args, result.output)
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert "Traceback" not in result.stderr and len(errors) == 1, (args, result.stderr)
        assert errors[0].startswith("Error: index at ") and "is damaged" in errors[0] and said in errors[0]


def test_a_stored_vector_of_the_wrong_length_or_norm_is_damage_not_an_answer(tmp_path: Path) -> None:
    """With the vector file gone, vectors are rebuilt from SQLite's copies: a corrupted one must
    stop the search with a clear error, not come back as a score-1.0 match for every sentence."""
    import sqlite3

    import numpy as np

    embedder = HashEmbedder()
    for blob, said in ((b"\x00" * 12, "is not 64 float16 or float32 values"),
                       ((np.ones(64, np.float32) * 50).tobytes(), "is not a unit vector"),
                       (np.full(64, np.nan, np.float32).tobytes(), "is not a unit vector")):  # fmt: skip
        path = tmp_path / f"index-{len(blob)}-{blob[:4].hex()}"
        build(path, embedder)
        with sqlite3.connect(path / "index.sqlite") as conn:
            conn.execute("UPDATE units SET vector = ? WHERE id = (SELECT MIN(id) FROM units)", (blob,))
        for f in path.glob("vectors-*.faiss*"):
            f.unlink()
        with (
            pytest.raises(tracer.ReferenceIndexError, match=f"is damaged: the stored vector of unit \\d+ {said}"),
            tracer.Tracer(path, embedder, rule_for(embedder.info.name)) as t,
        ):
            t.trace(ARTICLE)
