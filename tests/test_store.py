"""The index on disk: round trips, replacement by URL, model checks, locking and crash safety."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

import index as ix
from index._store import IndexStore
from tests.conftest import HashEmbedder
from tracer import ReferenceIndexError, SourceDoc


def doc(url: str, text: str, lang: str = "en", outlet: str = "Outlet") -> ix.Document:
    return ix.Document(
        meta=SourceDoc(url=url, outlet=outlet, lang=lang, title="Title", published="2024-11-05"), text=text
    )


def build(path: Path, embedder: HashEmbedder, docs: list[ix.Document]) -> ix.AddSummary:
    with IndexStore.create(path, ix.manifest_for(embedder)) as store, store.write_lock():
        return ix.add_documents(store, docs, embedder)


def consistent(path: Path) -> tuple[int, int]:
    """SQLite units and faiss vectors of the current generation: same ids, same vectors."""
    with IndexStore.open(path) as store:
        index = store.vector_index()
        ids, vecs = store._vectors()
        faiss_ids = np.sort(ix._vectors.ids_in(index))
        assert np.array_equal(np.sort(ids), faiss_ids)
        assert np.allclose(store.unit_vectors(ids.tolist()), vecs)
        return int(store.describe()["documents"]), len(ids)


def test_round_trip(tmp_path: Path, hash_embedder: HashEmbedder) -> None:
    summary = build(
        tmp_path, hash_embedder, [doc("https://a.example/1", "Troops arrived in Kursk. Seoul confirmed it.")]
    )
    assert (summary.added, summary.sentences, summary.units) == (1, 2, 3)
    with IndexStore.open(tmp_path) as store:
        query = hash_embedder.embed(["troops arrived in kursk"], role="query")
        _, ids = store.search(query, 3)
        units = store.units(ids[0].tolist())
        best = units[int(ids[0][0])]
        assert (best.text, best.first, best.last, best.doc.url) == (
            "Troops arrived in Kursk.",
            0,
            0,
            "https://a.example/1",
        )
        window = next(u for u in units.values() if u.first != u.last)
        assert (window.first, window.last, window.text) == (0, 1, "Troops arrived in Kursk. Seoul confirmed it.")
        assert store.model == hash_embedder.info
        assert store.manifest["segmenter"].startswith("blingfire")
    assert consistent(tmp_path) == (1, 3)


def test_readding_a_url_replaces_it(tmp_path: Path, hash_embedder: HashEmbedder) -> None:
    build(tmp_path, hash_embedder, [doc("https://a.example/1", "Old text here. Second one.")])
    again = build(tmp_path, hash_embedder, [doc("https://a.example/1", "Old text here. Second one.")])
    assert (again.added, again.replaced, again.unchanged) == (0, 0, 1)
    changed = build(tmp_path, hash_embedder, [doc("https://a.example/1", "New text now.")])
    assert (changed.added, changed.replaced) == (0, 1)
    with IndexStore.open(tmp_path) as store:
        texts = [r[0] for r in store._conn.execute("SELECT text FROM units")]
    assert texts == ["New text now."]
    assert consistent(tmp_path) == (1, 1)


def test_another_model_is_refused(tmp_path: Path, hash_embedder: HashEmbedder) -> None:
    build(tmp_path, hash_embedder, [doc("https://a.example/1", "Some text.")])
    other = HashEmbedder(dim=32, name="other-model")
    with pytest.raises(ReferenceIndexError) as err:
        IndexStore.create(tmp_path, ix.manifest_for(other))
    assert str(err.value) == (
        f"index at {tmp_path} holds vectors of model 'hash-test' (dim 64), not 'other-model' (dim 32); "
        "use --model 'hash-test' or a new --index directory"
    )


def test_missing_index(tmp_path: Path) -> None:
    with pytest.raises(ReferenceIndexError) as err:
        IndexStore.open(tmp_path / "nope")
    assert str(err.value) == f"no index at {tmp_path / 'nope'}; build one with `trace index add --index DIR FILE...`"
    with pytest.raises(ReferenceIndexError, match="is not a tracer index"):
        IndexStore.open(tmp_path)


def test_second_writer_is_refused(tmp_path: Path, hash_embedder: HashEmbedder) -> None:
    build(tmp_path, hash_embedder, [doc("https://a.example/1", "Some text.")])
    with IndexStore.create(tmp_path, ix.manifest_for(hash_embedder)) as first, first.write_lock():
        second = IndexStore.open(tmp_path, writable=True)
        with (
            pytest.raises(ReferenceIndexError, match=r"is being updated by another process \(pid \d+\)"),
            second.write_lock(),
        ):
            pass
        second.close()


def test_crash_inside_a_batch_leaves_the_previous_index(tmp_path: Path, hash_embedder: HashEmbedder) -> None:
    build(tmp_path, hash_embedder, [doc("https://a.example/1", "First document text.")])

    class Exploding(HashEmbedder):
        def embed(self, texts, *, role, show_progress=False):  # type: ignore[override]
            vectors = super().embed(texts, role=role)
            vectors[-1] = np.nan  # becomes a vector of the wrong shape below
            return vectors[:, :10]

    with pytest.raises(ReferenceIndexError, match="does not fit index dimension 64"):
        build(tmp_path, Exploding(), [doc("https://a.example/1", "Replacement."), doc("https://a.example/2", "New.")])
    with IndexStore.open(tmp_path) as store:
        assert store.generation == 1
        assert [r[0] for r in store._conn.execute("SELECT text FROM units")] == ["First document text."]
    assert consistent(tmp_path) == (1, 1)


def test_crash_between_commit_and_vector_file_is_repaired(
    tmp_path: Path, hash_embedder: HashEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(tmp_path, hash_embedder, [doc("https://a.example/1", "First document text.")])

    def killed(self: IndexStore) -> None:
        raise KeyboardInterrupt  # the process dies after the SQLite commit, before publishing

    monkeypatch.setattr(IndexStore, "publish", killed)
    with pytest.raises(KeyboardInterrupt):
        build(tmp_path, hash_embedder, [doc("https://a.example/2", "Second document text.")])
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.glob("vectors-*")) == ["vectors-1.faiss"]
    # Readers see generation 2: they load generation 1's file and catch it up from SQLite.
    assert consistent(tmp_path) == (2, 2)
    build(tmp_path, hash_embedder, [doc("https://a.example/3", "Third document text.")])
    assert sorted(p.name for p in tmp_path.glob("vectors-*")) == ["vectors-3.faiss"]
    assert consistent(tmp_path) == (3, 3)


def test_reader_snapshot_ignores_a_concurrent_commit(tmp_path: Path, hash_embedder: HashEmbedder) -> None:
    build(tmp_path, hash_embedder, [doc("https://a.example/1", "First document text.")])
    with IndexStore.open(tmp_path) as reader, reader.snapshot():
        build(tmp_path, hash_embedder, [doc("https://a.example/2", "Second document text.")])
        assert reader.generation == 1
        assert reader.describe()["documents"] == 1
    with IndexStore.open(tmp_path) as reader:
        assert reader.generation == 2


def test_damaged_database_is_reported(tmp_path: Path) -> None:
    (tmp_path / "index.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ReferenceIndexError) as err:
        IndexStore.open(tmp_path)
    assert (
        str(err.value) == f"index at {tmp_path} is damaged (file is not a database); rebuild it with `trace index add`"
    )


def test_no_pickle_on_disk(tmp_path: Path, hash_embedder: HashEmbedder) -> None:
    build(tmp_path, hash_embedder, [doc("https://a.example/1", "Some text.")])
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("index.sqlite-")) == [
        "index.sqlite",
        "vectors-1.faiss",
        "write.lock",
    ]
    sqlite3.connect(tmp_path / "index.sqlite").execute("PRAGMA integrity_check").fetchone()


def test_a_lagging_vector_file_is_caught_up_not_trusted(tmp_path: Path, hash_embedder: HashEmbedder) -> None:
    build(tmp_path, hash_embedder, [doc("https://a.example/1", "First text."), doc("https://a.example/2", "Second.")])
    stale = (tmp_path / "vectors-1.faiss").read_bytes()
    build(
        tmp_path,
        hash_embedder,
        [doc("https://a.example/1", "Replaced text here."), doc("https://a.example/3", "Third.")],
    )
    # Put generation 1's file back as if generation 2 had never been published.
    (tmp_path / "vectors-2.faiss").unlink()
    (tmp_path / "vectors-1.faiss").write_bytes(stale)
    assert consistent(tmp_path) == (3, 3)
    with IndexStore.open(tmp_path) as store:
        _, ids = store.search(hash_embedder.embed(["first text"], role="query"), 3)
        texts = {u.text for u in store.units(ids[0].tolist()).values()}
    assert "First text." not in texts and "Replaced text here." in texts


def test_vector_file_is_published_once_per_run(tmp_path: Path, hash_embedder: HashEmbedder, monkeypatch) -> None:
    writes = []
    real = ix._store.faiss.write_index
    monkeypatch.setattr(ix._store.faiss, "write_index", lambda index, path: (writes.append(path), real(index, path)))
    docs = [doc(f"https://a.example/{i}", f"Text number {i}.") for i in range(10)]
    with IndexStore.create(tmp_path, ix.manifest_for(hash_embedder)) as store, store.write_lock():
        ix.add_documents(store, docs, hash_embedder, batch_docs=2)
        assert store.generation == 5
    assert len(writes) == 1
    assert sorted(p.name for p in tmp_path.glob("vectors-*")) == ["vectors-5.faiss"]
    assert consistent(tmp_path) == (10, 10)


def test_add_documents_consumes_its_input_one_batch_at_a_time(tmp_path: Path, hash_embedder: HashEmbedder) -> None:
    pulled = 0

    def stream():  # type: ignore[no-untyped-def]
        nonlocal pulled
        for i in range(10):
            pulled += 1
            yield doc(f"https://s.example/{i}", f"Sentence number {i} of the stream. And one more line.")

    seen_at_write: list[int] = []
    with IndexStore.create(tmp_path / "i", ix.manifest_for(hash_embedder)) as store, store.write_lock():
        real = store.write_batch

        def spy(docs):  # type: ignore[no-untyped-def]
            seen_at_write.append(pulled)
            return real(docs)

        store.write_batch = spy  # type: ignore[method-assign]
        summary = ix.add_documents(store, stream(), hash_embedder, batch_docs=4)
    assert seen_at_write == [4, 8, 10]  # never more than one batch read ahead
    assert summary.added == 10


def test_jsonl_is_checked_whole_then_streamed(tmp_path: Path) -> None:
    import json

    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i in range(1000):
            fh.write(
                json.dumps({"url": f"https://b.example/{i}", "outlet": "B", "lang": "en", "text": f"Text {i}."}) + "\n"
            )
    assert ix.check_jsonl(path) == 1000
    stream = ix.iter_jsonl(path)
    assert next(stream).meta.url == "https://b.example/0"  # a generator, not a list
    with path.open("a", encoding="utf-8") as fh:
        fh.write("{broken\n")
    with pytest.raises(ix._documents.InputError, match="line 1001: not valid JSON"):
        ix.check_jsonl(path)


def test_new_indexes_store_float16_and_older_float32_ones_stay_readable(
    tmp_path: Path, hash_embedder: HashEmbedder
) -> None:
    """SQLite's copy of each vector is float16 (half of float32's bytes); an index written before
    that keeps float32 and keeps being written so, and an index holding both reads both."""
    dim = hash_embedder.info.dim
    text = "Troops arrived in Kursk. Seoul confirmed it. The talks ended."
    build(tmp_path / "new", hash_embedder, [doc("https://a.example/1", text)])
    old_manifest = {k: v for k, v in ix.manifest_for(hash_embedder).items() if k != "stored_vectors"}
    with IndexStore.create(tmp_path / "old", old_manifest) as store, store.write_lock():
        ix.add_documents(store, [doc("https://a.example/1", text)], hash_embedder)

    def blob_sizes(path: Path) -> set[int]:
        with sqlite3.connect(path / "index.sqlite") as conn:
            return {n for (n,) in conn.execute("SELECT length(vector) FROM units")}

    assert blob_sizes(tmp_path / "new") == {2 * dim} and blob_sizes(tmp_path / "old") == {4 * dim}
    with IndexStore.open(tmp_path / "new") as new, IndexStore.open(tmp_path / "old") as old:
        assert new.manifest["stored_vectors"] == "float16" and "stored_vectors" not in old.manifest
        ids_new, v_new = new._vectors()
        _, v_old = old._vectors()
        assert v_new.dtype == np.float32 and np.abs(v_new - v_old).max() < 1e-3 and np.abs(v_new - v_old).max() > 0
        query = hash_embedder.embed(["troops arrived in kursk"], role="query")
        assert new.search(query, 3)[1][0].tolist() == ids_new[np.argsort(-(v_new @ query[0]))[:3]].tolist()
    # one index with both: an old index given float16 rows (as a newer writer's import would)
    with sqlite3.connect(tmp_path / "old" / "index.sqlite") as conn:
        conn.execute("UPDATE units SET vector = ? WHERE id = (SELECT MIN(id) FROM units)",
                     (v_new[0].astype(np.float16).tobytes(),))  # fmt: skip
    for f in (tmp_path / "old").glob("vectors-*.faiss*"):
        f.unlink()
    assert blob_sizes(tmp_path / "old") == {2 * dim, 4 * dim}
    assert consistent(tmp_path / "old") == (1, len(ids_new))
    with sqlite3.connect(tmp_path / "new" / "index.sqlite") as conn:
        conn.execute("UPDATE meta SET value = json_set(value, '$.stored_vectors', 'int4') WHERE key = 'manifest'")
    with pytest.raises(ReferenceIndexError, match="stored_vectors is 'int4', not 'float16' or 'float32'"):
        IndexStore.open(tmp_path / "new")
