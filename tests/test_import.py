"""`trace index import`: WARC and JSONL archives the tests write themselves (warcio), the pages of
the configured outlets kept, dated, deduped, stored; resumed after a crash; damage reported and
skipped; the same result through the CLI."""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import index as ix
from cli import main
from tests.conftest import ROOT, HashEmbedder
from tests.test_crawl import EN, paragraphs
from tests.test_kill import documents as stored_documents
from tests.test_store import consistent
from tracer import InputError

SOURCES = """
[[source]]
name = "wire"
outlet = "Wire Agency"
lang = "en"
groups = ["wires"]
feeds = ["https://wire.example/rss"]
allow = ['^https://wire\\.example/news/\\d+$']

[[source]]
name = "paper"
outlet = "Daily Paper"
lang = "en"
groups = ["en"]
feeds = ["https://paper.example/rss"]
allow = ["https://paper.example/world/"]
"""


def page(title: str, lines: list[str], date: str | None = None) -> bytes:
    meta = f'<meta property="article:published_time" content="{date}">' if date else ""
    body = "".join(f"<p>{line}</p>" for line in lines)
    return (f"<html><head><title>{title}</title>{meta}</head><body><article><h1>{title}</h1>{body}"
            "</article></body></html>").encode()  # fmt: skip


def write_warc(path: Path, records: list[tuple[str, bytes, str, int]], *, gz: bool = True) -> None:
    """(url, payload, content type, HTTP status) as WARC response records, with a request record
    and a WARC-Date each, as crawlers write them."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    def ids(n: int, kind: str) -> dict[str, str]:
        # fixed record IDs (warcio draws random ones): the same records give the same bytes, so a
        # file cut at a given share is cut at the same place in every run
        return {"WARC-Record-ID": f"<urn:uuid:00000000-0000-4000-8000-{n:08d}{len(kind):04d}>"}

    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=gz)
        writer.write_record(writer.create_warc_record("", "warcinfo", payload=io.BytesIO(b"software: tests\r\n"),
                                                      warc_content_type="application/warc-fields",
                                                      warc_headers_dict={"WARC-Date": "2025-01-01T00:00:00Z",
                                                                         "WARC-Filename": path.name, **ids(0, "")}))  # fmt: skip
        for n, (url, payload, kind, status) in enumerate(records, start=1):
            headers = StatusAndHeaders(f"{status} {'OK' if status == 200 else 'Error'}",
                                       [("Content-Type", kind)], protocol="HTTP/1.1")  # fmt: skip
            date = f"2025-01-{((n - 1) % 28) + 1:02d}T10:00:00Z"
            request = StatusAndHeaders("GET / HTTP/1.1", [("Host", "news.example")], is_http_request=True)
            writer.write_record(writer.create_warc_record(url, "request", payload=io.BytesIO(b""), http_headers=request,
                                                          warc_headers_dict={"WARC-Date": date, **ids(n, "request")}))  # fmt: skip
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(payload),
                                                          http_headers=headers, warc_headers_dict={"WARC-Date": date, **ids(n, "response")}))  # fmt: skip


def news_records(n: int, start: int = 0) -> list[tuple[str, bytes, str, int]]:
    out = []
    for i in range(start, start + n):
        lines = [line.replace("Report", f"Wire report {i}") for line in paragraphs(i)]
        out.append((f"https://wire.example/news/{i}", page(f"Wire {i}", lines), "text/html; charset=utf-8", 200))
    return out


@pytest.fixture
def config(tmp_path: Path) -> ix.CrawlConfig:
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES, encoding="utf-8")
    return ix.load_sources(path)


def run_import(index: Path, paths: list[Path], config: ix.CrawlConfig, **kw: object) -> ix.ImportSummary:
    with ix.writer_for(index, HashEmbedder(), "torch") as writer:
        return writer.import_archives(paths, config.sources, **kw)  # type: ignore[arg-type]


def documents(index: Path) -> list[tuple[str, str, str | None]]:
    with ix.IndexStore.open(index) as store:
        return [tuple(r) for r in store._conn.execute("SELECT url, outlet, published FROM documents ORDER BY url")]


def test_a_warc_gives_the_configured_outlets_pages_dated_and_deduped(tmp_path: Path, config: ix.CrawlConfig) -> None:
    records = [
        *news_records(3),
        ("https://paper.example/world/a", page("Paper A", [f"The paper writes: {EN[1]}", EN[2]], "2025-02-03"),
         "text/html", 200),
        ("https://wire.example/news/100", news_records(1)[0][1], "text/html", 200),  # another URL, the same text
        ("https://elsewhere.example/news/1", page("Other", [EN[0]]), "text/html", 200),  # no configured outlet
        ("https://wire.example/news/9", b"gone", "text/html", 404),
        ("https://wire.example/news/8.jpg", b"\xff\xd8", "image/jpeg", 200),
    ]  # fmt: skip
    warc = tmp_path / "crawl.warc.gz"
    write_warc(warc, records)
    summary = run_import(tmp_path / "index", [warc], config)
    assert (summary.imported, summary.kept, summary.duplicates) == (4, 5, 1)  # news/100 is news/0 again
    assert summary.skipped["not_configured"] == 1 and summary.skipped["not_200"] == 1
    assert summary.skipped["not_html"] == 1
    docs = documents(tmp_path / "index")
    assert sorted(d[0] for d in docs) == sorted([*(f"https://wire.example/news/{i}" for i in range(3)),
                                                 "https://paper.example/world/a"])  # fmt: skip
    outlets = {url: (outlet, published) for url, outlet, published in docs}
    assert outlets["https://paper.example/world/a"][0] == "Daily Paper"
    assert outlets["https://paper.example/world/a"][1].startswith("2025-02-03")  # the page's own date
    assert outlets["https://wire.example/news/1"] == ("Wire Agency", "2025-01-02T10:00:00+00:00")  # the WARC-Date
    assert consistent(tmp_path / "index")[0] == 4
    again = run_import(tmp_path / "index", [warc], config)
    assert (again.files, again.records, again.imported) == (1, 0, 0)  # imported whole before: skipped


def test_jsonl_dumps_of_pages_and_of_records(tmp_path: Path, config: ix.CrawlConfig) -> None:
    dump = tmp_path / "dump.jsonl.gz"
    lines = [
        json.dumps({"url": "https://wire.example/news/1", "html": page("Wire 1", paragraphs(1)).decode(),
                    "published": "2025-03-01"}),
        json.dumps({"url": "https://paper.example/world/b", "title": "B", "text": f"{EN[0]} {EN[1]}",
                    "published": "2025-03-02"}),
        "{not json",
        json.dumps({"url": "https://nobody.example/x", "text": "ignored"}),
        json.dumps(["a list"]),
    ]  # fmt: skip
    with gzip.open(dump, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    summary = run_import(tmp_path / "index", [dump], config)
    assert summary.imported == 2 and summary.skipped["bad_line"] == 2 and summary.skipped["not_configured"] == 1
    docs = {url: (outlet, published) for url, outlet, published in documents(tmp_path / "index")}
    assert docs["https://paper.example/world/b"] == ("Daily Paper", "2025-03-02")
    assert docs["https://wire.example/news/1"][0] == "Wire Agency"


def test_a_damaged_record_or_file_is_reported_and_the_rest_imported(tmp_path: Path, config: ix.CrawlConfig) -> None:
    good = tmp_path / "a.warc.gz"
    write_warc(good, news_records(2))
    broken = tmp_path / "b.warc.gz"
    write_warc(broken, news_records(4, start=10))
    data = broken.read_bytes()
    broken.write_bytes(data[: len(data) * 2 // 3] + b"\x00garbage" * 50)  # cut in the middle of a record
    junk = tmp_path / "c.warc"
    junk.write_bytes(b"this is not a WARC file at all\n" * 10)
    after = tmp_path / "d.warc"
    write_warc(after, news_records(1, start=20), gz=False)
    summary = run_import(tmp_path / "index", [good, broken, junk, after], config)
    assert [d.split(": damaged ")[0] for d in summary.damaged] == [str(broken), str(junk)]
    assert "could not be read" in summary.damaged[0] and "not a WARC record" in summary.damaged[1]
    urls = [d[0] for d in documents(tmp_path / "index")]
    assert {"https://wire.example/news/0", "https://wire.example/news/1", "https://wire.example/news/20"} <= set(urls)
    assert "https://wire.example/news/10" in urls  # the records before the damage were kept
    assert consistent(tmp_path / "index")[0] == len(urls)


def test_unreadable_inputs_are_one_line_errors(runner: CliRunner, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello", encoding="utf-8")
    for args, message in ((["nothing.warc.gz"], "nothing.warc.gz: no such file or directory"),
                          ([str(text)], f"{text}: not a WARC (.warc, .warc.gz) or JSON Lines (.jsonl, .jsonl.gz) file")):  # fmt: skip
        result = runner.invoke(main, ["index", "import", "--index", str(tmp_path / "index"), *args])
        assert result.exit_code == 2 and result.stderr.strip() == f"Error: {message}", result.output


def test_the_cli_imports_with_groups_and_says_what_it_did(runner: CliRunner, tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text(SOURCES, encoding="utf-8")
    warc = tmp_path / "crawl.warc.gz"
    write_warc(warc, [*news_records(2), ("https://paper.example/world/a", page("A", paragraphs(5)), "text/html", 200)])
    (tmp_path / "backup.tar.gz").write_bytes(b"\x1f\x8b not an archive of pages")  # in the directory: passed over
    index = tmp_path / "index"
    done = runner.invoke(main, ["index", "import", "--index", str(index), "--sources", str(sources), "--group", "wires",
                                "--format", "json", str(tmp_path)])  # fmt: skip
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert (summary["imported"], summary["sources"], summary["skipped"]) == (2, {"wire": 2}, {"not_configured": 1})
    listed = json.loads(runner.invoke(main, ["index", "sources", "--index", str(index), "--sources", str(sources),
                                             "--format", "json"]).stdout)  # fmt: skip
    assert {r["name"]: r["pages"] for r in listed["sources"]} == {"wire": 2, "paper": 0}


IMPORTER = """
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
import index as ix
from tests.conftest import HashEmbedder

class Slow(HashEmbedder):
    def embed(self, texts, *, role, show_progress=False):
        import time; time.sleep(0.05)
        return super().embed(texts, role=role)

config = ix.load_sources(Path(sys.argv[2]))
with ix.writer_for(Path(sys.argv[1]), Slow(), "torch") as writer:
    print("started", flush=True)
    writer.import_archives([Path(p) for p in sys.argv[3:]], config.sources, batch_docs=3)
print("finished", flush=True)
"""


@pytest.mark.heavy
def test_kill_9_during_import_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text(SOURCES, encoding="utf-8")
    warcs = []
    for n in range(3):
        path = tmp_path / f"part-{n}.warc.gz"
        write_warc(path, news_records(40, start=n * 100))
        warcs.append(path)
    index = tmp_path / "index"
    script = IMPORTER.format(root=str(ROOT))
    seen = []
    for target in (10, 50, 95):
        proc = subprocess.Popen([sys.executable, "-c", script, str(index), str(sources), *map(str, warcs)],
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
        assert proc.stdout is not None and proc.stdout.readline() == "started\n"
        deadline = time.monotonic() + 120
        while stored_documents(index) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        seen.append(consistent(index)[0])
    assert seen == sorted(seen) and seen[-1] < 120, seen  # each run went on from the last; each kill landed mid-way
    proc = subprocess.Popen([sys.executable, "-c", script, str(index), str(sources), *map(str, warcs)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
    assert proc.wait(timeout=300) == 0
    with ix.IndexStore.open(index) as store:
        urls = [r[0] for r in store._conn.execute("SELECT url FROM documents")]
        pages = store._conn.execute("SELECT COUNT(*), COUNT(DISTINCT url) FROM pages").fetchone()
    expected = {f"https://wire.example/news/{n * 100 + i}" for n in range(3) for i in range(40)}
    assert len(urls) == len(set(urls)) and set(urls) == expected  # nothing lost, nothing twice
    assert pages == (120, 120)
    assert consistent(index)[0] == 120


def test_a_shard_with_vectors_of_another_model_is_refused_whole(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    shards = tmp_path / "shards"
    shards.mkdir()
    row = {"url": "https://wire.example/news/1", "outlet": "Wire Agency", "lang": "en", "title": "", "published": None,
           "text": "One sentence.", "content_sha256": "x", "source": "wire", "page_url": "https://wire.example/news/1",
           "units": [{"first": 0, "last": 0, "start": 0, "end": 13, "text": "One sentence.", "vector": [0.5] * 12}]}  # fmt: skip
    pq.write_table(pa.Table.from_pylist([row]), shards / "part-0.parquet")
    with ix.writer_for(tmp_path / "index", HashEmbedder(), "torch") as writer:
        with pytest.raises(InputError, match="has 12 values; the index's model has 64"):
            ix.merge_shards(writer.store, shards)
        with pytest.raises(InputError, match="no Parquet shards"):
            ix.merge_shards(writer.store, tmp_path / "empty")
    assert documents(tmp_path / "index") == []


def test_a_ray_import_without_a_shards_directory_cleans_up_after_itself_and_after_killed_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its Parquet shards (vectors included) go to a scratch directory in the index, removed
    afterwards, even on an error; one left by a kill -9 is removed by the next Ray import."""
    from index import _writer

    seen: list[Path] = []

    def write_shards(paths, sources, factory, out: Path, **kw) -> int:  # type: ignore[no-untyped-def]
        scratch = out.parent == tmp_path / "index" and out.name.startswith(_writer.SCRATCH_SHARDS)
        assert out.is_dir() and (scratch or out == tmp_path / "shards")
        (out / "part-0.parquet").write_bytes(b"shard")
        seen.append(out)
        if len(seen) == 2:
            raise RuntimeError("a worker died")
        return 1

    monkeypatch.setattr(_writer, "write_shards", write_shards)
    monkeypatch.setattr(_writer, "merge_shards", lambda store, directory, **kw: ix.MergeSummary())
    with ix.writer_for(tmp_path / "index", HashEmbedder(), "torch") as writer:
        stale = tmp_path / "index" / f"{_writer.SCRATCH_SHARDS}killed"
        stale.mkdir()
        (stale / "part-0.parquet").write_bytes(b"left by a kill -9")
        assert writer.import_with_ray([], [], None, ix.RayPlan())[0] == 1
        assert not stale.exists() and not seen[0].exists()
        with pytest.raises(RuntimeError, match="a worker died"):
            writer.import_with_ray([], [], None, ix.RayPlan())
        assert not seen[1].exists()
        kept = tmp_path / "shards"  # a directory the user names is theirs: kept
        kept.mkdir()
        writer.import_with_ray([], [], kept, ix.RayPlan())
    assert (kept / "part-0.parquet").exists()
    assert not list((tmp_path / "index").glob(f"{_writer.SCRATCH_SHARDS}*"))
