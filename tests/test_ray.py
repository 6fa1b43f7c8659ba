"""`trace index import --engine ray` in Ray's local mode on this machine's 2 CPUs: the same index
as the in-process import, shards merged idempotently, a killed run completed, a pool sized so it
cannot hang. Ray runs in subprocesses with time limits, so a hang fails a test instead of the run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import index as ix
from index import _vectors as ix_vectors
from tests.conftest import ROOT, HashEmbedder
from tests.test_import import SOURCES, news_records, page, write_warc
from tests.test_kill import documents

pytestmark = [pytest.mark.heavy, pytest.mark.skipif(not ix._ray.available(), reason="ray[data] not installed")]

RAY_IMPORT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from pathlib import Path
    import index as ix
    from tests.conftest import HashEmbedder
    config = ix.load_sources(Path(sys.argv[2]))
    paths = [Path(p) for p in sys.argv[4:]]
    with ix.writer_for(Path(sys.argv[1]), HashEmbedder(), "torch") as writer:
        print("started", flush=True)
        workers, merged = writer.import_with_ray(paths, config.sources, Path(sys.argv[3]), ix.RayPlan(cpus=2),
                                                 factory=HashEmbedder, batch_docs=4,
                                                 progress=lambda n: __import__("time").sleep(0.2))
    print("workers", workers, "merged", merged.merged, "damaged", len(merged.damaged), flush=True)
""")


def archives(tmp_path: Path) -> tuple[Path, list[Path]]:
    sources = tmp_path / "sources.toml"
    sources.write_text(SOURCES, encoding="utf-8")
    paths = []
    for n in range(3):
        path = tmp_path / f"part-{n}.warc.gz"
        records = news_records(12, start=n * 100)
        records.append((f"https://paper.example/world/{n}", page(f"Paper {n}", [f"Paper story {n} in full."] * 2),
                        "text/html", 200))  # fmt: skip
        write_warc(path, records)
        paths.append(path)
    junk = tmp_path / "part-9.warc"
    junk.write_bytes(b"not a WARC file\n" * 20)  # reported as damaged by both engines, never fatal
    return sources, [*paths, junk]


def ray_import(index: Path, sources: Path, shards: Path, paths: list[Path]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", RAY_IMPORT.format(root=str(ROOT)), str(index), str(sources),
                             str(shards), *map(str, paths)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            start_new_session=True)  # fmt: skip


def contents(index: Path) -> tuple[dict[str, tuple[object, ...]], dict[tuple[str, int, int], np.ndarray]]:
    with ix.IndexStore.open(index) as store:
        docs = {r[0]: tuple(r[1:]) for r in store._conn.execute(
            "SELECT url, outlet, lang, title, published, text, content_sha256 FROM documents")}  # fmt: skip
        rows = store._conn.execute(
            "SELECT d.url, u.first, u.last, u.vector FROM units u JOIN documents d ON d.id = u.doc_id"
        ).fetchall()
        vectors = ix_vectors.decode([r[3] for r in rows], store.model.dim)
        units = {(url, first, last): v for (url, first, last, _), v in zip(rows, vectors, strict=True)}
    return docs, units


def test_ray_gives_the_same_index_as_the_in_process_import_and_merging_twice_changes_nothing(tmp_path: Path) -> None:
    sources, paths = archives(tmp_path)
    local = tmp_path / "local"
    with ix.writer_for(local, HashEmbedder(), "torch") as writer:
        assert len(writer.import_archives(paths, ix.load_sources(sources).sources).damaged) == 1
    on_ray, shards = tmp_path / "ray", tmp_path / "shards"
    proc = ray_import(on_ray, sources, shards, paths)
    out, err = proc.communicate(timeout=240)  # a pool that starved its reads would hang here
    assert proc.returncode == 0, err[-3000:]
    assert "workers 2 merged 39 damaged 1" in out  # one embedding actor per CPU; 3 x (12 + 1) documents
    docs, units = contents(local)
    ray_docs, ray_units = contents(on_ray)
    assert docs == ray_docs and len(docs) == 39
    assert units.keys() == ray_units.keys()
    assert all(np.allclose(units[k], ray_units[k], atol=1e-6) for k in units)
    with ix.IndexStore.open(on_ray) as store:
        generation = store.generation
    with ix.writer_for(on_ray, HashEmbedder(), "torch") as writer:
        again = ix.merge_shards(writer.store, shards)
    assert (again.documents, again.merged, again.unchanged) == (39, 0, 39)
    with ix.IndexStore.open(on_ray) as store:
        assert store.generation == generation
    assert contents(on_ray)[0] == ray_docs


def test_a_killed_ray_import_run_again_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    sources, paths = archives(tmp_path)
    index, shards = tmp_path / "index", tmp_path / "shards"
    proc = ray_import(index, sources, shards, paths)
    deadline = time.monotonic() + 240
    while documents(index) < 10 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the merge waits 0.2 s a batch of 4: ample; a tighter poll takes CPU from Ray's start
    os.killpg(proc.pid, signal.SIGKILL)  # mid-merge, with the local Ray it started: some batches stored
    proc.wait()
    killed_at = documents(index)
    assert 0 < killed_at < 39
    proc = ray_import(index, sources, tmp_path / "shards-2", paths)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    with ix.IndexStore.open(index) as store:
        urls = [r[0] for r in store._conn.execute("SELECT url FROM documents")]
    assert len(urls) == len(set(urls)) == 39
