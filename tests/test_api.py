"""The library's entry points: Tracer (open once, trace from many threads) and open_for_writing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import index as ix
import tracer
from tests.conftest import HashEmbedder
from tracer.tracing._judge import rule_for

DOCS = [
    {"url": "https://a.example/kursk", "outlet": "The Guardian", "lang": "en", "published": "2024-11-05",
     "text": "North Korean troops arrived in Kursk region on Tuesday. The White House called them legitimate targets."},
]  # fmt: skip
ARTICLE = "North Korean troops arrived in Kursk region on Tuesday.\nPemerintah Indonesia mengimbau warga tetap waspada."


def add(path: Path, records: list[dict[str, object]], embedder: HashEmbedder) -> None:
    with ix.writer_for(path, embedder, "torch") as writer:
        writer.add([ix.document_from_record(r) for r in records])


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, HashEmbedder]:
    embedder = HashEmbedder()
    add(tmp_path / "index", DOCS, embedder)
    return tmp_path / "index", embedder


def test_tracer_is_exported_and_traces_text(built: tuple[Path, HashEmbedder]) -> None:
    path, embedder = built
    assert "Tracer" in tracer.__all__ and "open_for_writing" in ix.__all__
    with tracer.Tracer(path, embedder, rule_for(embedder.info.name)) as t:
        report = t.trace(ARTICLE, name="artikel.txt", before="2024-12-01")
    assert isinstance(report, tracer.Report)
    assert [s.status for s in report.sentences] == ["traced", "no_source"]
    assert report.sentences[0].matches[0].url == "https://a.example/kursk"
    assert report.article["name"] == "artikel.txt"


@pytest.mark.parametrize(("text", "message"), [("", "the file is empty"), ("  \n ", "the file is empty"),
                                               ("\x00\x01" * 50, "binary")])  # fmt: skip
def test_bad_text_is_an_input_error(built: tuple[Path, HashEmbedder], text: str, message: str) -> None:
    path, embedder = built
    with (
        tracer.Tracer(path, embedder, rule_for(embedder.info.name)) as t,
        pytest.raises(tracer.InputError, match=message),
    ):
        t.trace(text)


def test_bad_options_are_input_errors(built: tuple[Path, HashEmbedder]) -> None:
    path, embedder = built
    with tracer.Tracer(path, embedder, rule_for(embedder.info.name)) as t:
        with pytest.raises(tracer.InputError, match="before: 'soon' is not a date"):
            t.trace(ARTICLE, before="soon")
        for bad in (0, 21, "3", 2.5, True):
            with pytest.raises(tracer.InputError, match="top_k: expected an integer from 1 to 20"):
                t.trace(ARTICLE, top_k=bad)  # type: ignore[arg-type]
        for bad in (5, -1, float("nan"), "0.5"):
            with pytest.raises(tracer.InputError, match="threshold: expected a number from 0 to 1"):
                t.trace(ARTICLE, threshold=bad)  # type: ignore[arg-type]
        with pytest.raises(tracer.InputError, match="before: expected a date"):
            t.trace(ARTICLE, before=5)  # type: ignore[arg-type]
        with pytest.raises(tracer.InputError, match="article: expected the article's text"):
            t.trace(None)  # type: ignore[arg-type]
        for bad in ("[::1", "http://[::1/", f"http://{'a' * 300}.example/"):
            with pytest.raises(tracer.InputError, match="cannot fetch"):
                t.trace_url(bad)
        assert t.trace(ARTICLE, threshold=1).sentences[0].status != "traced"  # within range: still taken


def test_close_waits_for_running_traces_and_later_calls_are_refused(built: tuple[Path, HashEmbedder]) -> None:
    path, _ = built

    class Slow(HashEmbedder):
        def __init__(self) -> None:
            super().__init__()
            self.entered, self.go = threading.Event(), threading.Event()

        def embed(self, texts, *, role, show_progress=False):  # type: ignore[no-untyped-def]
            if role == "query":
                self.entered.set()
                self.go.wait(10)
            return super().embed(texts, role=role)

    slow = Slow()
    t = tracer.Tracer(path, slow, rule_for(slow.info.name))
    results: list[object] = []
    running = threading.Thread(target=lambda: results.append(t.trace(ARTICLE)))
    running.start()
    assert slow.entered.wait(5)
    closing = threading.Thread(target=t.close)
    closing.start()
    closing.join(0.3)
    assert closing.is_alive()  # waits for the running trace rather than closing its store under it
    slow.go.set()
    running.join(10)
    closing.join(10)
    assert not closing.is_alive() and isinstance(results[0], tracer.Report)
    for call in (lambda: t.trace(ARTICLE), t.stats, lambda: t.generation):
        with pytest.raises(tracer.TracerError, match="tracer is closed"):
            call()
    t.close()  # twice is harmless


def test_threads_share_one_vector_index_and_a_refresh_gets_a_new_one(built: tuple[Path, HashEmbedder]) -> None:
    path, embedder = built
    t = tracer.Tracer(path, embedder, rule_for(embedder.info.name))
    barrier = threading.Barrier(4)
    statuses: list[str] = []
    held: list[object] = []

    def work() -> None:
        with t._store() as store:  # four callers at once: four pooled stores
            barrier.wait(5)
            held.append(store.vector_index())
        statuses.append(t.trace(ARTICLE).sentences[0].status)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert statuses == ["traced"] * 4
    assert len(t._all) == 4 and len({id(v) for v in held}) == 1  # one copy in memory
    old = held[0]
    before = old.ntotal  # type: ignore[attr-defined]
    add(path, [{"url": "https://c.example/port", "outlet": "Reuters", "lang": "en",
                "text": "Drones struck the port of Odesa overnight."}], embedder)  # fmt: skip
    report = t.trace("Drones struck the port of Odesa overnight.")
    assert report.sentences[0].matches[0].url == "https://c.example/port"
    assert old.ntotal == before  # searched by callers still on the old generation: never changed in place  # type: ignore[attr-defined]
    t.close()


def test_open_for_writing_refuses_another_model_and_a_missing_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracer.model import _embed

    monkeypatch.setattr(_embed, "load_embedder", lambda *a, **kw: HashEmbedder())
    with ix.open_for_writing(tmp_path / "i", backend="torch") as writer:
        summary = writer.add([ix.document_from_record(DOCS[0])])
    assert (summary.added, writer.backend) == (1, "torch")
    with pytest.raises(tracer.ReferenceIndexError, match="holds vectors of model 'hash-test', not 'other'"):
        ix.open_for_writing(tmp_path / "i", model="other")
    with pytest.raises(tracer.ReferenceIndexError, match="no index at"):
        ix.open_for_writing(tmp_path / "none", create=False)


def test_the_public_embedder_takes_turns_with_tracing(built: tuple[Path, HashEmbedder]) -> None:
    path, embedder = built
    seen: list[bool] = []

    class Watching(HashEmbedder):
        def embed(self, texts, *, role, show_progress=False):  # type: ignore[no-untyped-def]
            seen.append(t._compute_lock.locked())
            return super().embed(texts, role=role, show_progress=show_progress)

    with tracer.Tracer(path, Watching(), rule_for(embedder.info.name)) as t:
        vectors = t.embedder.embed(["North Korean troops"], role="query")
        assert vectors.shape == (1, embedder.info.dim) and t.embedder.info == embedder.info
    assert seen == [True]  # the call ran under the lock every encoder run and search takes


def test_warm_up_pays_the_first_articles_costs_without_changing_the_index(built: tuple[Path, HashEmbedder]) -> None:
    path, embedder = built
    with tracer.Tracer(path, embedder, rule_for(embedder.info.name)) as t:
        generation, stats = t.generation, t.stats()
        embedder.calls.clear()  # building the index embedded its passages
        assert t._detector is None
        t.warm_up()
        assert t._detector is not None  # loaded now, not on the first request
        assert embedder.calls[0] == ("query", 16)  # the bundled example's 16 sentences went through the encoder
        assert (t.generation, t.stats()) == (generation, stats)
        report = t.trace(ARTICLE)
    assert [s.status for s in report.sentences] == ["traced", "no_source"]


def test_threads_that_first_trace_together_load_one_language_detector(
    built: tuple[Path, HashEmbedder], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four threads loading the detector at once failed in CPython 3.11's ast parser (numpy reads
    its arrays through it): the detector is loaded once, under a lock."""
    from tracer import _api

    made: list[int] = []
    real = _api.LanguageDetector

    def slow_detector() -> object:
        made.append(1)
        threading.Event().wait(0.2)  # wide enough for every thread to arrive while it loads
        return real()

    monkeypatch.setattr(_api, "LanguageDetector", slow_detector)
    path, embedder = built
    t = tracer.Tracer(path, embedder, rule_for(embedder.info.name))
    barrier = threading.Barrier(4)
    seen: list[object] = []

    def first_use() -> None:
        barrier.wait(5)
        seen.append(t.detector)

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert len(made) == 1 and len(seen) == 4 and len({id(d) for d in seen}) == 1
    t.close()
