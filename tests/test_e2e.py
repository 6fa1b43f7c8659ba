"""End to end through the real `trace` command and the real default model.

The bundled example: each sourced sentence must come back with its original (outlet and
sentence positions), and the sentences written without a source must not be traced. On
NTREX (../shared/data), the README's figures must hold.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

import tracer
from tests.conftest import NTREX, ROOT, SHARED_DATA

pytestmark = pytest.mark.slow
REALCASES = SHARED_DATA / "realcases"
SCORE_CASE = SHARED_DATA.parent / "tools" / "score_case.py"

SCHEMA = json.loads((Path(tracer.__file__).parent / "report.schema.json").read_text(encoding="utf-8"))
TRACE = Path(sys.executable).with_name("trace")

# sentence index -> (outlet of the original, positions of the original sentences in it)
SOURCED = {
    1: ({"RIA Novosti", "TASS"}, [0]),
    2: ({"RIA Novosti"}, [1]),
    3: ({"RIA Novosti", "TASS"}, [1, 2]),  # same sentence at position 2 (RIA) and 1 (TASS)
    4: ({"Yonhap"}, [0]),
    5: ({"Yonhap"}, [1]),
    6: ({"Yonhap"}, [2, 3]),  # merges two adjacent originals
    7: ({"Strana.ua"}, [0]),
    8: ({"Strana.ua"}, [1]),
    9: ({"The Guardian"}, [0]),
    10: ({"The Guardian"}, [1]),
    11: ({"The Guardian"}, [3]),
    12: ({"Daily Express"}, [0]),  # credited to The Guardian, carried only by the rewrite
}
UNSOURCED = {0, 13, 14, 15}  # the headline, a Telegram post, two Indonesian background sentences
NEAR_MISS = 13
"""The Telegram post: Zelensky says the world must react before North Korean troops reach the
front; Strana.ua has Zelensky saying North Korea's part in the war is a first step to a world
war. Same speaker, same story, another claim, as close by cosine and margin (0.752 / 0.104) as
the reworded RIA quote of sentence 1 (0.764 / 0.107). Word recall tells them apart: it is a
possible source for an editor to check, not traced (it was traced before word recall)."""


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = [str(TRACE)] if TRACE.exists() else [sys.executable, "-m", "cli"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("home")
    e = {k: v for k, v in os.environ.items() if k not in ("TRACER_INDEX", "TRACER_CONFIG")}
    e.update(XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"))
    return e


@pytest.fixture(scope="module")
def first_run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run("tracer/example/artikel.txt", env=env)


def test_first_run_builds_the_example_index_and_prints_json(first_run, env) -> None:
    assert first_run.returncode == 0, first_run.stderr
    index = Path(env["XDG_DATA_HOME"]) / "tracer" / "index"
    assert (
        f"tracer: no index at {index} yet (first run): building the example index from the bundled sources"
        in first_run.stderr
    )
    report = json.loads(first_run.stdout)
    jsonschema.validate(report, SCHEMA)
    assert report["model"]["name"] == "multilingual-e5-small"
    assert report["model"]["adapter"].startswith("tracer-tatoeba-1@")
    from tracer.model._onnx import query_precision

    # the first run indexes through the export (or torch, exporting it) and traces through it, as later runs do
    assert report["model"]["precision"] == query_precision()
    assert report["decision"]["calibrated"] is True
    assert report["index"]["documents"] == 8


def test_sourced_sentences_find_their_originals(first_run) -> None:
    sentences = json.loads(first_run.stdout)["sentences"]
    assert len(sentences) == 16
    for i, (outlets, positions) in SOURCED.items():
        best = sentences[i]["matches"][0]
        assert best["outlet"] in outlets, (i, best)
        assert set(best["source_sentences"]) <= set(positions) and best["source_sentences"], (i, best)
    # The right original always comes first, and every sourced sentence is traced, including
    # those the newsroom reworded ("laporan ... sebagai berita palsu" for "очередная утка"):
    # their neighbours come from the same source in the same order.
    assert [i for i in SOURCED if sentences[i]["status"] != "traced"] == []
    # Sentence 9's credit ("Media Inggris The Guardian melaporkan") is left out of the match.
    assert sentences[9]["status"] == "traced"
    assert sentences[6]["matches"][0]["source_sentences"] == [2, 3]


def test_the_example_story_slips_are_each_reported_and_nothing_else(first_run) -> None:
    sentences = json.loads(first_run.stdout)["sentences"]
    flags = {s["index"]: [(f["kind"], f["article"], f["source"]) for f in s["flags"]] for s in sentences}
    assert {i: f for i, f in flags.items() if f} == {
        4: [("name", "Kim Jong-hyun", "Kim Yong-hyun")],  # a minister's name changed
        5: [("number", "sekitar 20", "more than 20")],  # "more than 20" became "about 20"
        7: [("name", "Krylo Budanov", "Кирило Буданов")],  # Kyrylo misspelled, across scripts
        11: [("hedge", "500", "more than 500")],  # the "500 kilometres of passages" sentence
    }
    credits = {s["index"]: s["attribution"] for s in sentences if s["attribution"]}
    # The garbled credit for a RIA/TASS quote: not an outlet tracer knows.
    assert credits[1]["stated"] == "Russia Elium" and credits[1]["stated_outlet"] is None
    assert "no outlet tracer knows" in credits[1]["note"]
    # Credited to The Guardian, carried only by a Daily Express rewrite.
    assert (credits[12]["stated_outlet"], credits[12]["agrees"]) == ("The Guardian", False)
    assert credits[12]["note"] == "credits The Guardian, but the claim was found in Daily Express, not in The Guardian"
    # Right credits agree; people are not outlets.
    assert (credits[5]["stated_outlet"], credits[5]["matched_outlet"], credits[5]["agrees"]) == (
        "Yonhap",
        "Yonhap",
        True,
    )
    assert (credits[9]["stated_outlet"], credits[9]["agrees"]) == ("The Guardian", True)
    assert (credits[3]["stated"], credits[3]["stated_outlet"], credits[3]["agrees"]) == ("Peskov", None, None)
    # The Kremlin line is carried by RIA and, 35 minutes later, TASS: the other one is also_in, RIA is the earliest.
    best, also = sentences[3]["matches"][0]["outlet"], sentences[3]["also_in"]
    assert {best, *(c["outlet"] for c in also)} == {"RIA Novosti", "TASS"} and len(also) == 1
    sources = {s["outlet"]: s["earliest"] for s in json.loads(first_run.stdout)["sources"]}
    assert sources["RIA Novosti"] is True


@pytest.mark.parametrize("precision", ["float32", "bf16"])
def test_later_runs_embed_through_the_onnx_export_with_the_same_verdicts(first_run, env, precision) -> None:
    """The first run loads the model through torch, exports it and traces through the export;
    later runs start without torch, in float32 through ONNX Runtime or, where the CPU multiplies
    in it, bf16 through OpenVINO. In the first run's precision, the report is the first run's."""
    from tracer.model._onnx import bf16_available, query_precision

    if precision == "bf16" and not bf16_available():
        pytest.skip("needs OpenVINO and a CPU with bfloat16 products")
    again = run("tracer/example/artikel.txt", "-v", env={**env, "TRACER_PRECISION": precision})
    assert again.returncode == 0, again.stderr
    runtime = "OpenVINO" if precision == "bf16" else "ONNX Runtime"
    assert f"embedding with the ONNX export of multilingual-e5-small in {precision} through {runtime}" in again.stderr
    assert "exporting" not in again.stderr
    assert json.loads(again.stdout)["model"]["precision"] == precision
    first, second = (json.loads(r.stdout)["sentences"] for r in (first_run, again))
    assert [s["status"] for s in second] == [s["status"] for s in first]
    for a, b in zip(first, second, strict=True):
        assert b["matches"][0]["url"] == a["matches"][0]["url"]
        if precision == query_precision():  # the first run's encoder: the very same matches
            assert b["matches"] == a["matches"]
        else:  # bf16 against float32: a possible source's confidence sits where the curve is steep (0.628 -> 0.630);
            # past the first match, of a page's sentence and its two-sentence window the nearer one may swap
            assert b["matches"][0]["score"] == pytest.approx(a["matches"][0]["score"], abs=5e-3)
            assert sorted(m["url"] for m in b["matches"]) == sorted(m["url"] for m in a["matches"])


def test_before_ignores_sources_published_later(env) -> None:
    result = run("tracer/example/artikel.txt", "--before", "2024-10-31", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    published = [m["published"] for s in report["sentences"] for m in s["matches"] if m["published"]]
    assert published and all(p[:10] <= "2024-10-31" for p in published)
    # The Guardian (4-5 Nov) and the Daily Express (6 Nov) are left out; of the sources published
    # before, TASS (24 Oct, "около 10 тыс.") states the figure of the Guardian's "more than 10,000"
    # sentence, which then comes first (figures-first) ahead of Strana.ua's "11 тисяч"
    assert {s["outlet"] for s in report["sources"]} == {"Yonhap", "RIA Novosti", "Strana.ua", "TASS"}
    assert report["sentences"][9]["matches"][0]["outlet"] == "TASS"


def test_unsourced_sentences_are_not_traced(first_run) -> None:
    sentences = json.loads(first_run.stdout)["sentences"]
    assert [sentences[i]["status"] for i in sorted(UNSOURCED)] == ["no_source", "possible", "no_source", "no_source"]
    near = sentences[NEAR_MISS]["matches"][0]
    assert (near["outlet"], near["source_sentences"]) == ("Strana.ua", [4])


def test_sources_summary(first_run) -> None:
    sources = {s["outlet"]: s["sentences"] for s in json.loads(first_run.stdout)["sources"]}
    # sentences 1 and 3 are carried word for word by RIA and TASS: either may be the original
    assert sorted(sources.get("RIA Novosti", []) + sources.get("TASS", [])) == [1, 2, 3]
    assert (sources["Yonhap"], sources["The Guardian"], sources["Daily Express"]) == ([4, 5, 6], [9, 10, 11], [12])
    assert sources["Strana.ua"] == [7, 8]


def test_text_view_and_stats_reuse_the_index(first_run, env) -> None:
    text = run("tracer/example/artikel.txt", "--format", "text", env=env)
    assert text.returncode == 0
    assert "building the example index" not in text.stderr
    assert text.stdout.startswith("tracer/example/artikel.txt: 12 of 16 sentences traced, 1 possible (model ")
    assert "[6] TRACED" in text.stdout and "[14] NO SOURCE" in text.stdout and "[0] NO SOURCE" in text.stdout
    assert "[13] POSSIBLE SOURCE" in text.stdout and "nearest (" in text.stdout
    stats = run("index", "stats", env=env)
    assert "RIA Novosti          ru          2         8" in stats.stdout


def test_index_add_html_and_trace_with_the_real_model(env, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>Troops reach Kursk</title>"
        '<meta property="article:published_time" content="2024-11-05T10:00:00Z"></head>'
        "<body><nav>Home</nav><article><h1>Troops reach Kursk</h1>"
        "<p>More than 10,000 North Korean soldiers have arrived in Russia's Kursk region, Ukraine's intelligence said on Tuesday.</p>"
        "<p>The troops were trained in the far east of Russia before being moved west by train.</p>"
        "</article></body></html>",
        encoding="utf-8",
    )
    index = tmp_path / "index"
    add = run(
        "index",
        "add",
        "--index",
        str(index),
        str(page),
        "--url",
        "https://g.example/kursk",
        "--outlet",
        "The Guardian",
        env=env,
    )
    assert add.returncode == 0, add.stderr
    # The model is exported by now (by this run or an earlier one): adding again needs no torch.
    again = run("index", "add", "-v", "--index", str(index), str(page), "--url", "https://g.example/kursk",
                "--outlet", "The Guardian", env=env)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "embedding with the ONNX export of multilingual-e5-small in int8 through ONNX Runtime" in again.stderr
    assert "0 added, 0 replaced, 1 unchanged" in again.stderr
    article = tmp_path / "a.txt"
    article.write_text(
        "Lebih dari 10.000 tentara Korea Utara telah tiba di wilayah Kursk, Rusia, kata intelijen Ukraina.",
        encoding="utf-8",
    )
    report = json.loads(run("--index", str(index), str(article), env=env).stdout)
    best = report["sentences"][0]["matches"][0]
    assert (best["url"], best["lang"], best["published"]) == ("https://g.example/kursk", "en", "2024-11-05")


@pytest.mark.skipif(not NTREX.exists(), reason=f"parallel evaluation data not found at {NTREX}")
def test_ntrex_protocol_meets_measured_figures(traced_embedder, tmp_path: Path) -> None:
    """Test half of NTREX dev (documents the decision rule was not fitted on), both layouts: README figures."""
    from tracer.evaluation._evaluate import Protocol, pr_curve, read_parallel_tsv, run_protocols, score_by_lang
    from tracer.tracing._judge import rule_for

    protocol = Protocol(layouts=("runs", "mixed"))
    outcomes = run_protocols(read_parallel_tsv(NTREX), traced_embedder, tmp_path, protocol, runs=3)  # as `trace eval`
    rule = rule_for(traced_embedder.info.name)
    # Measured (2026-12-07, float32 through torch and through the ONNX export alike; 2026-12-08,
    # the same to four places in bf16 through OpenVINO): runs 0.970 traced right, best candidate
    # 0.978, wrong-source 0.052; mixed 0.942 / 0.973 / 0.052; per language top1 .992/.962/.963
    # and .978/.929/.926
    # (before word recall: runs 0.950 at 0.067, mixed 0.927 at 0.069). Small margins for CPU numerics.
    for layout, top1, any_, low in (("runs", 0.958, 0.97, 0.95), ("mixed", 0.925, 0.96, 0.91)):
        test = [o for o in outcomes if o.query.split == "test" and o.query.layout == layout]
        result = score_by_lang(test, rule)
        overall, per_lang = result["overall"], result["per_lang"]
        assert overall["top1"] >= top1, layout
        assert overall["top1_any"] >= any_, layout
        assert overall["wrong_source"] <= 0.065, layout
        assert overall["wrong_pick"] <= 0.015, layout
        assert min(per_lang[lang]["top1"] for lang in ("en", "ru", "uk")) >= low, layout
        # The precision/recall curve agrees with the scores at the operating threshold and moves one way.
        (at,) = pr_curve(test, rule, [rule.threshold])
        assert (at["recall"], at["wrong_source"]) == (overall["top1"], overall["wrong_source"])
        curve = pr_curve(test, rule)
        assert [p["recall"] for p in curve] == sorted((p["recall"] for p in curve), reverse=True)
        assert [p["wrong_source"] for p in curve] == sorted((p["wrong_source"] for p in curve), reverse=True)


def test_an_index_built_with_int8_passages_still_finds_every_original(env, tmp_path: Path) -> None:
    index = tmp_path / "int8"
    add = run("index", "add", "--index", str(index), "--backend", "onnx-int8", "tracer/example/sources.jsonl", env=env)
    assert add.returncode == 0, add.stderr
    report = json.loads(run("--index", str(index), "tracer/example/artikel.txt", env=env).stdout)
    sentences = report["sentences"]
    for i, (outlets, _) in SOURCED.items():
        assert sentences[i]["matches"][0]["outlet"] in outlets, i
    assert all(sentences[i]["status"] != "traced" for i in UNSOURCED)
    stats = json.loads(run("index", "stats", "--index", str(index), "--format", "json", env=env).stdout)
    assert stats["passage_backend"] == "onnx-int8"


@pytest.mark.skipif(not NTREX.exists(), reason=f"parallel evaluation data not found at {NTREX}")
def test_eval_measures_the_int8_backend_when_asked(env, tmp_path: Path) -> None:
    lines = NTREX.read_text(encoding="utf-8").splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    doc_id = header.split("\t").index("doc_id")
    ids = list(dict.fromkeys(r.split("\t")[doc_id] for r in rows))[:9]
    small = tmp_path / "ntrex-9.tsv"
    small.write_text(header + "".join(r for r in rows if r.split("\t")[doc_id] in ids), encoding="utf-8")
    results = {}
    for backend in ("torch", "onnx-int8"):
        done = run("eval", str(small), "--runs", "1", "--split", "all", "--backend", backend, env=env)
        assert done.returncode == 0, done.stderr
        results[backend] = json.loads(done.stdout)
    assert [r["passage_backend"] for r in results.values()] == ["torch", "onnx-int8"]
    torch, int8 = (results[b]["overall"] for b in ("torch", "onnx-int8"))
    assert torch["n"] == int8["n"] > 100
    assert int8["top1_any"] >= 0.9 and abs(int8["top1_any"] - torch["top1_any"]) <= 0.03


def _cases() -> list[Path]:
    return sorted(p for p in REALCASES.iterdir() if (p / "gold.json").exists()) if REALCASES.exists() else []


def _gold_lines(case: Path) -> tuple[int, int]:
    """(sourced, unsourced) gold lines of a case, as score_case.py counts them."""
    queries = [
        q for article in json.loads((case / "gold.json").read_text(encoding="utf-8")) for q in article["queries"]
    ]
    return sum(q["url"] is not None for q in queries), sum(q["url"] is None for q in queries)


NEWSROOM_FLOOR = {
    # Lines traced right per case through `trace index add` + `trace`, scored by score_case.py
    # (docs/quality.md), less one line each: bf16 encodings differ slightly between machines.
    "an24-amur-crash": 13,  # measured 14 of 15
    "energoatom-ministers-resign": 9,  # 10 of 11
    "indonesia-joins-brics": 8,  # 9 of 9
    "indonesians-in-mercenary-list": 9,  # 10 of 12
    "poland-downs-russian-drones": 6,  # 7 of 9
    "shoigu-replaced-belousov": 9,  # 10 of 13
    "sumy-palm-sunday-strike": 9,  # 10-11 of 11
    "trump-putin-alaska-indonesia": 2,  # 3 of 5
    "whatsapp-telegram-calls": 10,  # 11 of 11
}
NEW_CASE_FLOOR = 0.5
"""A case added to ../shared after these floors were measured must trace at least this share."""


@pytest.mark.skipif(not SCORE_CASE.exists(), reason=f"score_case.py not found at {SCORE_CASE}")
@pytest.mark.parametrize("case", _cases() or [pytest.param(None, marks=pytest.mark.skip(reason=f"real cases not found at {REALCASES}"))],
                         ids=lambda c: c.name if c else "none")  # fmt: skip
def test_real_case_traced_as_a_newsroom_would_meets_its_measured_floor(case: Path, env, tmp_path: Path) -> None:
    """`trace index add` + `trace` on each real case (one test per case folder found), scored
    by the CEO's own score_case.py."""
    import re

    index, reports = tmp_path / "index", tmp_path / "reports"
    reports.mkdir(parents=True)
    add = run("index", "add", "--index", str(index), str(case / "sources.jsonl"), env=env)
    assert add.returncode == 0, add.stderr
    traced = run("--index", str(index), str(case / "article.txt"), "-o", str(reports / "article.json"), env=env)
    assert traced.returncode == 0, traced.stderr
    scored = subprocess.run([sys.executable, str(SCORE_CASE), str(case / "gold.json"), str(reports)],
                            capture_output=True, text=True, check=True)  # fmt: skip
    p1, n = re.search(r"P@1=([\d.]+) .* n=(\d+)", scored.stdout).groups()  # type: ignore[union-attr]
    sourced, _ = _gold_lines(case)
    assert int(n) == sourced
    hits = round(float(p1) * int(n))
    floor = NEWSROOM_FLOOR.get(case.name, NEW_CASE_FLOOR * sourced)
    assert hits >= floor, f"{case.name}: {hits} of {n} traced right, floor {floor}"


@pytest.mark.skipif(not _cases(), reason=f"real cases not found at {REALCASES}")
def test_eval_reports_real_cases_and_their_ablated_variants(env) -> None:
    from tracer.evaluation._cases import ablated, read_case

    seeds = (1,)  # one seed exercises the variants; benchmarks/real_cases.py measures all three
    done = run("eval", str(REALCASES), "--ablate", ",".join(map(str, seeds)), env=env)
    assert done.returncode == 0, done.stderr
    cases = json.loads(done.stdout)["cases"]
    found = _cases()
    assert len(cases) == len(found) * (1 + len(seeds)) + 2
    full, variants = cases["all cases"], cases["all ablated variants"]
    # what the figures count, read from gold.json (one traced sentence per gold line in these cases)
    assert (full["n_sourced"], full["n_unsourced"]) == tuple(map(sum, zip(*map(_gold_lines, found), strict=True)))
    lines = [q for case in found for s in seeds for a in ablated(read_case(case), s).articles for q in a.queries]
    assert (variants["n_sourced"], variants["n_unsourced"]) == (sum(bool(q.accept) for q in lines),
                                                                 sum(not q.accept for q in lines))  # fmt: skip
    # Measured with the shipped rule (2026-12-07, late night, `trace eval ... --ablate 1`): 0.875
    # traced right; ablated with seed 1, 0.597 traced right and 0.159 of the unsourced lines traced.
    assert full["top1"] >= 0.84
    assert variants["top1"] >= 0.54
    assert variants["wrong_source"] <= 0.27
