"""kill -9 in the middle of `index add`: the index stays consistent and the next run completes it.

A subprocess indexes many small documents in small atomic batches (with the stand-in
embedder, so the test is fast) and is killed with SIGKILL at different moments."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index._store import IndexStore
from tests.conftest import ROOT
from tests.test_store import consistent

WRITER = """
import sys
sys.path.insert(0, {root!r})
import index as ix
from tests.conftest import HashEmbedder
from tracer import SourceDoc
emb = HashEmbedder()
docs = [ix.Document(SourceDoc(f"https://k.example/{{i}}", "K", "en", "", None),
                    f"Document number {{i}} says troops arrived. It adds detail {{i * 7}}. And ends.")
        for i in range(2000)]
with ix.IndexStore.create(ix_path := __import__("pathlib").Path(sys.argv[1]), ix.manifest_for(emb)) as store, store.write_lock():
    print("started", flush=True)
    ix.add_documents(store, docs, emb, batch_docs=4)
print("finished", flush=True)
"""


def start(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(root=str(ROOT)), str(path)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert proc.stdout is not None and proc.stdout.readline() == "started\n"
    return proc


def documents(path: Path) -> int:
    try:
        with sqlite3.connect(f"{(path / 'index.sqlite').as_uri()}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.heavy
def test_kill_9_during_index_add_never_corrupts(tmp_path: Path) -> None:
    path = tmp_path / "index"
    seen = []
    for target in (100, 700, 1300):
        proc = start(path)
        deadline = time.monotonic() + 120
        while documents(path) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        docs, units = consistent(path)
        seen.append(docs)
        assert units == docs * 5  # 3 sentences + 2 windows per document: no half-written document
    assert seen == sorted(seen)  # every run resumed without losing committed work
    assert seen[-1] < 2000, seen  # every kill landed mid-way
    proc = start(path)
    assert proc.wait(timeout=300) == 0
    assert consistent(path) == (2000, 10000)
    with IndexStore.open(path) as store:
        urls = [r[0] for r in store._conn.execute("SELECT url FROM documents")]
    assert len(urls) == len(set(urls)) == 2000


CRAWLER = """
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
import index as ix
from index._sources import Source
from tests.conftest import HashEmbedder
emb = HashEmbedder()
src = Source(name="big", outlet="Big Site", langs=("en",), feeds=(sys.argv[2],), delay=0.0, allow_private=True,
             max_articles=100000)
policy = ix.FetchPolicy(retries=0, concurrency=2)
store = ix.IndexStore.create(Path(sys.argv[1]), ix.manifest_for(emb))
with store, store.write_lock(), ix.Fetcher(policy) as fetcher:
    print("started", flush=True)
    ix.Crawler(store, fetcher, emb, ix.CrawlOptions(batch_docs=4)).run([src], "refresh")
print("finished", flush=True)
"""


def crawled_pages(path: Path) -> int:
    try:
        with sqlite3.connect(f"{(path / 'index.sqlite').as_uri()}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT COUNT(*) FROM pages").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.heavy
def test_kill_9_during_a_crawl_never_corrupts_and_the_next_run_stores_each_article_once(tmp_path: Path) -> None:
    from tests.site import Site
    from tests.test_crawl import NOW, paragraphs

    n = 400
    site = Site()
    try:
        for i in range(n):
            site.article(f"/news/{i}", f"Report {i}", paragraphs(i))
        site.rss("/feed.rss", [(f"/news/{i}", NOW) for i in range(n)])
        path = tmp_path / "index"

        def run() -> subprocess.Popen[str]:
            proc = subprocess.Popen(
                [sys.executable, "-c", CRAWLER.format(root=str(ROOT)), str(path), site.url("/feed.rss")],
                stdout=subprocess.PIPE, text=True, cwd=ROOT,
            )  # fmt: skip
            assert proc.stdout is not None and proc.stdout.readline() == "started\n"
            return proc

        progress = []
        for target in (40, 160, 280):
            proc = run()
            deadline = time.monotonic() + 120
            while crawled_pages(path) < target and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            progress.append(crawled_pages(path))
            # Readers never see a half-done crawl: no document is visible until a run completes.
            assert consistent(path) == (0, 0)
        assert progress == sorted(progress) and progress[-1] < n, progress
        proc = run()
        assert proc.wait(timeout=300) == 0
        assert consistent(path) == (n, n * 9)  # headline + 4 sentences, and 4 windows per article
        with IndexStore.open(path) as store:
            urls = [r[0] for r in store._conn.execute("SELECT url FROM documents")]
            assert store._conn.execute("SELECT COUNT(*) FROM staged_documents").fetchone()[0] == 0
        assert sorted(urls) == sorted(site.url(f"/news/{i}") for i in range(n))
        bodies = site.bodies_served()
        # Pages staged before a kill are not downloaded again; only ones in flight at a kill may be.
        assert len(bodies) - n <= 3 * 8, len(bodies) - n
    finally:
        site.close()
