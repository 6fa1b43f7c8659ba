"""An index on a read-only mount (a shared volume, a container image) is read, not called damaged."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import index as ix
import tracer
from tests.conftest import HashEmbedder
from tracer.tracing._judge import rule_for


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A directory and a read-only bind mount of it (needs root and mount permission)."""
    src, ro = tmp_path / "src", tmp_path / "ro"
    src.mkdir()
    ro.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(src), str(ro)], capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("cannot bind-mount here (needs root with mount permission)")
    try:
        if subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], capture_output=True).returncode != 0:
            pytest.skip("cannot remount read-only here")
        yield src, ro
    finally:
        subprocess.run(["umount", str(ro)], capture_output=True)


def test_a_wal_index_on_a_read_only_mount_is_read(read_only: tuple[Path, Path]) -> None:
    src, ro = read_only
    embedder = HashEmbedder()
    with ix.writer_for(src / "index", embedder, "torch") as writer:
        writer.add([ix.document_from_record({"url": "https://a.example/1", "outlet": "The Guardian", "lang": "en",
                                             "text": "North Korean troops arrived in Kursk region on Tuesday."})])  # fmt: skip
    assert not (ro / "index" / "index.sqlite-shm").exists()
    with pytest.raises(OSError):
        (ro / "index" / "probe").write_text("x")
    with ix.IndexStore.open(ro / "index") as store:
        assert store.describe()["documents"] == 1
    with tracer.Tracer(ro / "index", embedder, rule_for(embedder.info.name)) as t:
        report = t.trace("North Korean troops arrived in Kursk region on Tuesday.")
    assert report.sentences[0].status == "traced"
