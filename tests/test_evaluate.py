"""Evaluation on composed articles (both layouts) and on real case folders, with the stand-in embedder."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA, HashEmbedder
from tracer._types import SourceDoc, SourceUnit
from tracer.evaluation._cases import ablated, find_cases, read_case, run_case
from tracer.evaluation._evaluate import (
    Accept,
    ParallelDoc,
    calibrate,
    compose_articles,
    make_plan,
    score,
    word_overlap,
)

REALCASES = SHARED_DATA / "realcases"
TOOLS = SHARED_DATA.parent / "tools"


def _docs(n: int = 9, length: int = 8) -> list[ParallelDoc]:
    segs = lambda d: [  # noqa: E731
        {lang: f"Laporan {d} kalimat {k} menyebut angka {d * 100 + k}." for lang in ("en", "id", "ru", "uk")}
        for k in range(length)
    ]
    return [ParallelDoc(f"bbc.{d}", segs(d)) for d in range(n)]


def test_runs_layout_keeps_every_sentence_in_order_per_document() -> None:
    docs = _docs()
    plan = make_plan(docs, ("en", "ru", "uk"), 0.2, seed=1)
    for _, queries in compose_articles(docs, plan, 1, "runs"):
        for doc_id in {q.doc_id for q in queries}:
            segs = [q.segments for q in queries if q.doc_id == doc_id]
            assert segs == [(k,) for k in range(8)]


def test_mixed_layout_drops_shuffles_merges_and_credits() -> None:
    docs = _docs(30)
    plan = make_plan(docs, ("en", "ru", "uk"), 0.2, seed=1)
    articles = compose_articles(docs, plan, 1, "mixed")
    queries = [q for _, qs in articles for q in qs]
    texts = "\n".join(text for text, _ in articles)
    per_doc = {}
    for q in queries:
        per_doc.setdefault(q.doc_id, []).append(q.segments[0])
    assert sum(len(v) for v in per_doc.values()) < 30 * 8 * 0.85  # sentences dropped
    assert any(v != sorted(v) for v in per_doc.values())  # swapped pairs
    assert any(len(q.segments) == 2 for q in queries)  # merged pairs: one sentence, two originals
    assert "seperti dilansir BBC" in texts or "dikutip dari BBC" in texts or "seperti diberitakan BBC" in texts
    # runs of documents are interleaved: some article switches document more often than it has documents
    switches = max(sum(a.doc_id != b.doc_id for a, b in pairwise(qs)) for _, qs in articles)
    assert switches > 3


def test_an_unknown_layout_is_refused() -> None:
    docs = _docs()
    with pytest.raises(Exception, match="layout must be one of runs, mixed"):
        compose_articles(docs, make_plan(docs, ("en",), 0.2, 1), 1, "random")


def _unit(url: str, text: str, start: int = 0) -> SourceUnit:
    return SourceUnit(1, 1, SourceDoc(url, "X", "en", "", None), 0, 0, start, start + len(text), text)


def test_an_accept_list_counts_a_passage_that_holds_an_accepted_sentence() -> None:
    accept = Accept("https://a.example/1", texts=("Crew error is being considered as the likely cause.",))
    window = _unit("https://a.example/1", "Crew error is being considered as the likely cause. Rescuers flew in.")
    assert accept.covers(window)
    assert not accept.covers(_unit("https://b.example/1", window.text))
    assert not accept.covers(_unit("https://a.example/1", "Rescuers flew in by helicopter on Friday."))
    assert Accept("https://a.example/1", span=(10, 20)).covers(_unit("https://a.example/1", "x" * 5, start=18))
    assert word_overlap("a b c", "a b c d e f") == 1.0


def _write_case(root: Path) -> Path:
    case = root / "kursk"
    case.mkdir(parents=True)
    pages = [
        ("https://g.example/kursk", "The Guardian", "More than 10,000 North Korean soldiers arrived in Kursk. "
         "The troops were trained in the far east of Russia."),
        ("https://r.example/kursk", "Reuters", "More than 10,000 North Korean soldiers arrived in Kursk, officials said."),
        ("https://t.example/other", "TASS", "The governor opened a new bridge over the river on Monday."),
    ]  # fmt: skip
    with (case / "sources.jsonl").open("w", encoding="utf-8") as fh:
        for url, outlet, text in pages:
            fh.write(json.dumps({"url": url, "outlet": outlet, "lang": "en", "title": "", "published": None,
                                 "text": text}) + "\n")  # fmt: skip
    (case / "article.txt").write_text(
        "Pasukan Korea Utara\nMore than 10,000 North Korean soldiers arrived in Kursk, seperti dilansir Reuters. "
        "The troops were trained in the far east of Russia. The mayor praised the weather on Sunday.\n",
        encoding="utf-8",
    )
    gold = [{"article": "article.txt", "queries": [
        {"line": "1", "ind": "More than 10,000 North Korean soldiers arrived in Kursk, seperti dilansir Reuters.",
         "url": "https://g.example/kursk", "lang": "en", "sources": ["More than 10,000 North Korean soldiers arrived in Kursk."],
         "accept": [{"url": "https://g.example/kursk", "sources": ["More than 10,000 North Korean soldiers arrived in Kursk."]},
                    {"url": "https://r.example/kursk", "sources": ["More than 10,000 North Korean soldiers arrived in Kursk, officials said."]}]},
        {"line": "2", "ind": "The troops were trained in the far east of Russia.", "url": "https://g.example/kursk",
         "lang": "en", "sources": ["The troops were trained in the far east of Russia."]},
        {"line": "3", "ind": "The mayor praised the weather on Sunday.", "url": None, "lang": None, "sources": []},
    ]}]  # fmt: skip
    (case / "gold.json").write_text(json.dumps(gold), encoding="utf-8")
    return case


def test_a_case_is_traced_and_scored_as_score_case_does(tmp_path: Path) -> None:
    case = read_case(_write_case(tmp_path / "cases"))
    embedder = HashEmbedder()
    outcomes = run_case(case, embedder, embedder, tmp_path / "index", margin_k=4)
    # the heading has no query: context only; the three queries map onto their sentences
    assert [o.labelled for o in outcomes] == [False, True, True, True]
    assert [o.gold is None for o in outcomes[1:]] == [False, False, True]
    assert {a.url for a in outcomes[1].gold} == {"https://g.example/kursk", "https://r.example/kursk"}
    assert outcomes[1].covers_gold(outcomes[1].candidates[0])
    assert outcomes[2].covers_gold(outcomes[2].candidates[0])
    rule, _ = calibrate(outcomes, model="hash-test", margin_k=4)
    figures = score(outcomes, rule)
    assert (figures["n"], figures["n_sourced"], figures["n_unsourced"]) == (3, 2, 1)
    assert figures["top1_any"] == 1.0


def test_an_ablated_variant_removes_the_pages_of_some_lines(tmp_path: Path) -> None:
    case = read_case(_write_case(tmp_path / "cases"))
    variant = ablated(case, seed=1, share=0.5)
    assert variant.name == "kursk-s1" and variant.removed
    lines = [q for a in variant.articles for q in a.queries]
    unsourced = [q for q in lines if not q.accept]
    assert len(unsourced) == 2  # the labelled unsourced line and one line whose pages are gone
    assert all(g.url not in variant.removed for q in lines for g in q.accept)


def test_find_cases_takes_a_case_or_a_folder_of_them(tmp_path: Path) -> None:
    case = _write_case(tmp_path / "cases")
    assert find_cases([case]) == find_cases([tmp_path / "cases"]) == [case]
    with pytest.raises(Exception, match="not a case folder"):
        find_cases([tmp_path])


@pytest.mark.skipif(not (REALCASES.exists() and TOOLS.exists()), reason=f"real cases not found at {REALCASES}")
def test_ablation_removes_the_same_pages_as_the_shared_tool(tmp_path: Path) -> None:
    import subprocess
    import sys

    for path in find_cases([REALCASES]):
        case = read_case(path)
        for seed in (1, 2):
            out = tmp_path / f"{path.name}-{seed}"
            subprocess.run([sys.executable, str(TOOLS / "ablate_case.py"), str(path), str(out), "--seed", str(seed)],
                           check=True, capture_output=True)  # fmt: skip
            kept = {
                json.loads(line)["url"] for line in (out / "sources.jsonl").read_text(encoding="utf-8").splitlines()
            }
            assert set(case.urls()) - ablated(case, seed).removed == kept


def test_real_cases_are_evaluated_through_the_exports_without_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the model was exported before, cases are indexed with its int8 export and traced
    in this machine's precision, as `trace index add` and `trace` do, and torch is never loaded."""
    from tracer.evaluation._measure import case_outcomes
    from tracer.model import _embed, _onnx

    case = _write_case(tmp_path / "cases")
    made: dict[str, HashEmbedder] = {}

    def export(name: str, prompts: object = None, precision: str = "float32") -> HashEmbedder:
        return made.setdefault(precision, HashEmbedder())

    monkeypatch.setattr(_onnx, "exported_embedder", export)
    monkeypatch.setattr(_embed, "load_embedder", lambda *a, **kw: pytest.fail("the torch model was loaded"))
    outcomes = case_outcomes((case,), "hash-test", (), notify=lambda _: None)
    assert [o.labelled for o in outcomes] == [False, True, True, True]
    assert "int8" in made and made["int8"].calls[0][0] == "passage"  # the pages, through the int8 export
    traced = made[_onnx.query_precision()]
    assert traced is not made["int8"] and ("query", 4) in traced.calls  # the article's sentences


def test_the_int8_protocol_runs_through_the_exports_without_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`trace eval --backend onnx-int8`: sources through the int8 export, articles in this
    machine's precision, torch never loaded where both exports exist."""
    from tests.test_memo import TokenHashEmbedder
    from tracer.evaluation._measure import protocol_outcomes
    from tracer.model import _embed, _onnx

    rows = ["line\tdoc_id\tseg_in_doc\teng\tind\trus\tukr"]
    for d in range(6):
        for s in range(2):
            rows.append(f"{d * 2 + s}\tdoc{d}\t{s + 1}\tStory {d} says {s} things.\tCerita {d} berkata {s} hal.\t"
                        f"История {d} говорит {s}.\tІсторія {d} каже {s}.")  # fmt: skip
    data = tmp_path / "tiny.tsv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    made: dict[str, TokenHashEmbedder] = {}

    def export(name: str, prompts: object = None, precision: str = "float32") -> TokenHashEmbedder:
        return made.setdefault(precision, TokenHashEmbedder())

    monkeypatch.setattr(_onnx, "exported_embedder", export)
    monkeypatch.setattr(_embed, "load_embedder", lambda *a, **kw: pytest.fail("the torch model was loaded"))
    outcomes, name, backend = protocol_outcomes(data, "hash-test", 0.1, 1, 1, "en,ru,uk", "onnx-int8",
                                                notify=lambda _: None)  # fmt: skip
    assert (name, backend) == ("hash-test", "onnx-int8") and outcomes
    assert {role for role, _ in made["int8"].calls} == {"passage"}  # the sources' vectors, all of them
    assert {role for role, _ in made[_onnx.query_precision()].calls} >= {"query", "both:query"}
