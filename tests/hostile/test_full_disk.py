"""A full disk while adding: a clear error, nothing half-stored, no temporary file left to
fill the disk for every later run."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import index as ix
import tracer
from tests.conftest import HashEmbedder
from tracer.tracing._judge import rule_for


def docs(start: int, n: int) -> list[ix.Document]:
    return [
        ix.document_from_record({"url": f"https://a.example/{i}", "outlet": "The Guardian", "lang": "en",
                                 "text": f"Story {i} says the river rose {i} metres overnight in the city. " * 20})
        for i in range(start, start + n)
    ]  # fmt: skip


def test_sqlite_full_is_one_clear_error_and_earlier_batches_stay(tmp_path: Path) -> None:
    path = tmp_path / "index"
    with ix.writer_for(path, HashEmbedder(), "torch") as writer:
        writer.add(docs(0, 5))
        pages = writer.store._conn.execute("PRAGMA page_count").fetchone()[0]
        writer.store._conn.execute(f"PRAGMA max_page_count = {pages + 8}")  # a disk with a few pages left
        with pytest.raises(tracer.ReferenceIndexError, match=r"is full \(database or disk is full\); nothing of this "
                           r"batch was stored \(earlier batches were\); free some space"):  # fmt: skip
            writer.add(docs(5, 200), batch_docs=50)
    with ix.IndexStore.open(path) as store:
        stored = store.describe()["documents"]
    assert 5 <= stored < 205 and (stored - 5) % 50 == 0  # whole batches only


def test_a_vector_file_that_cannot_be_written_is_removed_and_costs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from index import _store

    path = tmp_path / "index"
    embedder = HashEmbedder()
    with ix.writer_for(path, embedder, "torch") as writer:
        writer.add(docs(0, 3))
    (path / "vectors-1.faiss.tmp-99999").write_bytes(b"\0" * 10_000)  # left by a writer killed mid-write

    def full(index: object, name: str) -> None:
        Path(name).write_bytes(b"\0" * 4096)
        raise RuntimeError("Error in faiss::FileIOWriter: fwrite failed: No space left on device")

    monkeypatch.setattr(_store.faiss, "write_index", full)
    with caplog.at_level(logging.WARNING), ix.writer_for(path, embedder, "torch") as writer:
        writer.add(docs(3, 2))
    assert "could not write the vector file" in caplog.text and "No space left on device" in caplog.text
    assert sorted(p.name for p in path.glob("vectors-*")) == ["vectors-1.faiss"]  # no temporary file, stale or new
    monkeypatch.undo()
    with tracer.Tracer(path, embedder, rule_for(embedder.info.name)) as t:  # the new documents are found all the same
        report = t.trace("Story 4 says the river rose 4 metres overnight in the city.")
    assert report.sentences[0].matches[0].url == "https://a.example/4"
