"""Reports for people and for batches: Markdown, HTML (rendered in headless Chromium when the
machine has it), several articles at once, and an article fetched from a URL."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from tests.site import Site

SOURCES = [
    {"url": "https://g.example/troops", "outlet": "The Guardian", "lang": "en", "title": "Troops <b>arrive</b>",
     "published": "2024-11-05", "text": "More than 20 North Korean troops arrived in Kursk on Tuesday. "
     "The White House called them legitimate targets."},
    {"url": "https://e.example/copy", "outlet": "Daily Express", "lang": "en", "title": "Copy",
     "published": "2024-11-06", "text": "Officials said troops arrived in Kursk region on Tuesday night."},
]  # fmt: skip
# The stand-in embedder matches shared words, so these "Indonesian" sentences reuse English words.
ARTICLE = (
    "Sekitar 20 North Korean troops arrived in Kursk on Tuesday, seperti dilansir The Guardian.\n"
    'Harga <script>document.title="pwned"</script> naik & turun "tajam".\n'
)


@pytest.fixture
def index(runner: CliRunner, tmp_path: Path) -> Path:
    src = tmp_path / "sources.jsonl"
    src.write_text("\n".join(json.dumps(s) for s in SOURCES) + "\n", encoding="utf-8")
    path = tmp_path / "index"
    assert runner.invoke(main, ["index", "add", "--index", str(path), str(src)]).exit_code == 0
    return path


@pytest.fixture
def article(tmp_path: Path) -> Path:
    path = tmp_path / "artikel.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    return path


def test_markdown_view(runner: CliRunner, index: Path, article: Path) -> None:
    result = runner.invoke(main, ["--index", str(index), str(article), "--format", "markdown", "--threshold", "0.01"])
    assert result.exit_code == 0, result.stderr
    md = result.stdout
    assert md.startswith(f"### {str(article).replace('_', chr(92) + '_')}: ")
    assert "> — The Guardian, en, 2024-11-05: <https://g.example/troops>" in md
    assert "- credit ok: credits The Guardian, which carries the claim" in md
    assert "\\<script\\>" in md  # Markdown-special characters are escaped


def test_html_view_is_self_contained_and_escaped(runner: CliRunner, index: Path, article: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = runner.invoke(main, ["--index", str(index), str(article), "--format", "html", "-o", str(out),
                                  "--threshold", "0.01"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<title>tracer: artikel.txt</title>" in page  # the file's name, not its path
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "Troops &lt;b&gt;arrive&lt;/b&gt;" in page  # source titles are escaped too
    assert "src=" not in page and "<link" not in page and "@import" not in page  # nothing loaded from outside
    assert page.count('class="row ') == 2 + 1  # two sentences and the header row
    assert "<mark>Sekitar 20</mark>" in page and "<mark>More than 20</mark>" in page  # the flagged spans


def test_several_articles_give_json_lines_and_bad_ones_are_reported(
    runner: CliRunner, index: Path, article: Path, tmp_path: Path
) -> None:
    other = tmp_path / "dua.txt"
    other.write_text("Troops arrived in Kursk region on Tuesday night, officials said.\n", encoding="utf-8")
    empty = tmp_path / "kosong.txt"
    empty.write_text("", encoding="utf-8")
    result = runner.invoke(main, ["--index", str(index), str(article), str(other), str(empty)])
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert [json.loads(line)["article"]["name"] for line in lines] == [str(article), str(other)]
    assert [line for line in result.stderr.splitlines() if line.startswith("Error:")] == [
        f"Error: {empty}: the file is empty",
        "Error: 1 of 3 articles could not be read (see the errors above)",
    ]


def test_several_articles_with_o_naming_a_file_is_an_error(
    runner: CliRunner, index: Path, article: Path, tmp_path: Path
) -> None:
    single = tmp_path / "single.json"
    result = runner.invoke(main, ["--index", str(index), str(article), str(article), "-o", str(single)])
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: {single}: several articles need -o to name a directory (one report each), not a file; "
        "give a directory name, or trace them one at a time\n",
    )
    assert not single.exists()


def test_a_directory_with_o_dir_writes_one_report_per_article(
    runner: CliRunner, index: Path, article: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    shutil.copy(article, folder / "satu.txt")
    shutil.copy(article, folder / "dua.txt")
    (folder / "notes.pdf").write_bytes(b"%PDF")
    out = tmp_path / "reports"
    result = runner.invoke(main, ["--index", str(index), str(folder), "--format", "markdown", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["dua.md", "satu.md"]
    result = runner.invoke(main, ["--index", str(index), str(folder), "--format", "html"])
    assert (result.exit_code, result.stderr) == (
        2,
        "Error: several articles as HTML need -o DIR (one page per article)\n",
    )


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


def test_an_article_url_is_fetched_and_extracted(runner: CliRunner, index: Path, site: Site) -> None:
    site.article("/berita/1", "Tentara Korea Utara tiba di Kursk",
                 ["Sekitar 20 North Korean troops arrived in Kursk on Tuesday, seperti dilansir The Guardian.",
                  "The White House called them legitimate targets, kata juru bicara."])  # fmt: skip
    result = runner.invoke(main, ["--index", str(index), site.url("/berita/1")])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["article"]["name"] == site.url("/berita/1")
    assert [s["text"] for s in report["sentences"]] == [
        "Tentara Korea Utara tiba di Kursk",
        "Sekitar 20 North Korean troops arrived in Kursk on Tuesday, seperti dilansir The Guardian.",
        "The White House called them legitimate targets, kata juru bicara.",
    ]
    assert site.requests_to("/robots.txt") == []  # one page the user asked for is not crawling
    result = runner.invoke(main, ["--index", str(index), site.url("/missing")])
    assert (result.exit_code, result.stderr) == (2, f"Error: cannot fetch {site.url('/missing')}: HTTP 404\n")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (Debian: apt-get install chromium)")
@pytest.mark.heavy
def test_html_renders_in_headless_chromium(runner: CliRunner, index: Path, article: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    args = ["--index", str(index), str(article), "--format", "html", "-o", str(out), "--threshold", "0.01"]
    assert runner.invoke(main, args).exit_code == 0
    base = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*base, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert "<title>tracer: " in dom and "pwned" not in dom.split("<title>")[1].split("</title>")[0]
    assert dom.count('class="row ') == 3 and "credits The Guardian, which carries the claim" in dom
    for width in (1280, 390):  # laptop and phone
        shot = tmp_path / f"shot-{width}.png"
        subprocess.run([*base, f"--screenshot={shot}", f"--window-size={width},900", out.as_uri()],
                       capture_output=True, timeout=120, check=True)  # fmt: skip
        header = shot.read_bytes()[:24]
        assert header[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(header[16:20], "big") == width


CLAIM = "The White House called them legitimate targets"


def _credit_checks(runner: CliRunner, index: Path, tmp_path: Path, credits: list[str], stated: str = "stated_outlet"):  # type: ignore[no-untyped-def]
    """Each credit after the same claim, traced against ``index``: (``stated``, agrees, note) per sentence."""
    article = tmp_path / "kredit.txt"
    article.write_text("".join(f"{CLAIM}, {credit}.\n" for credit in credits), encoding="utf-8")
    result = runner.invoke(main, ["--index", str(index), str(article), "--threshold", "0.01"])
    assert result.exit_code == 0, result.stderr
    return [(s["attribution"][stated], s["attribution"]["agrees"], s["attribution"]["note"])
            for s in json.loads(result.stdout)["sentences"]]  # fmt: skip


def _index_naming_the_guardian(runner: CliRunner, tmp_path: Path, outlet: str) -> Path:
    """The Guardian's article indexed under another outlet name."""
    src = tmp_path / "sources.jsonl"
    src.write_text(json.dumps({**SOURCES[0], "outlet": outlet}) + "\n", encoding="utf-8")
    assert runner.invoke(main, ["index", "add", "--index", str(tmp_path / "index"), str(src)]).exit_code == 0
    return tmp_path / "index"


def test_credit_checks_know_what_the_index_cannot_tell(runner: CliRunner, index: Path, tmp_path: Path) -> None:
    credits = _credit_checks(runner, index, tmp_path,
                             ["seperti dilansir Reuters", "dikutip dari Daily Express", "seperti dilansir Guardian"])  # fmt: skip
    assert credits == [
        ("Reuters", None, "credits Reuters, which is not in the index; the claim was found in The Guardian"),
        (
            "Daily Express",
            False,
            "credits Daily Express, but the claim was found in The Guardian, not in Daily Express",
        ),
        ("The Guardian", True, "credits The Guardian, which carries the claim"),
    ]


def test_a_credit_checks_against_an_outlet_the_index_names_its_own_way(runner: CliRunner, tmp_path: Path) -> None:
    index = _index_naming_the_guardian(runner, tmp_path, "guardian")
    # the alias table says "The Guardian", the index "guardian": the same outlet, not one missing from the index
    assert _credit_checks(runner, index, tmp_path, ["seperti dilansir The Guardian"]) == [
        ("guardian", True, "credits guardian, which carries the claim")
    ]


def test_a_credit_naming_two_outlets_agrees_when_either_carries_the_claim(
    runner: CliRunner, index: Path, tmp_path: Path
) -> None:
    credits = ["seperti dilansir Reuters dan The Guardian", "seperti dilansir Daily Express dan Reuters"]
    assert _credit_checks(runner, index, tmp_path, credits, stated="stated") == [
        ("The Guardian", True, "credits The Guardian, which carries the claim"),
        (
            "Daily Express",
            False,
            "credits Daily Express, but the claim was found in The Guardian, not in Daily Express",
        ),
    ]


def test_a_credit_to_an_agency_agrees_with_its_syndicated_copy(runner: CliRunner, tmp_path: Path) -> None:
    index = _index_naming_the_guardian(runner, tmp_path, "NDTV (AFP)")
    # NDTV republished AFP's report: the credit is right, not "not in the index"
    assert _credit_checks(runner, index, tmp_path, ["dikutip dari AFP", "seperti dilansir Reuters"]) == [
        ("AFP", True, "credits AFP, whose report NDTV (AFP) carries"),
        ("Reuters", None, "credits Reuters, which is not in the index; the claim was found in NDTV (AFP)"),
    ]


def _report_with_near_misses():  # type: ignore[no-untyped-def]
    from tracer.report._report import Match, Report, SentenceResult

    def m(i: int, score: float) -> Match:
        return Match(score, 0.8, 0.01, f"Original {i}.", "ru", f"Outlet {i}", f"https://o{i}.example/a", "", None,
                     [0], 0, 10)  # fmt: skip

    sentences = [
        SentenceResult(0, "Kalimat satu.", 0, 13, "traced", [m(1, 0.9), m(2, 0.3)]),
        SentenceResult(1, "Kalimat dua.", 14, 26, "possible", [m(3, 0.45), m(4, 0.3), m(5, 0.2), m(6, 0.1)]),
        SentenceResult(2, "Kalimat tiga.", 27, 40, "no_source", [m(7, 0.2), m(8, 0.1), m(9, 0.05), m(10, 0.01)]),
    ]
    decision = {"threshold": 0.57, "possible": 0.4, "operating_point": "test"}
    return Report({"name": "m"}, {"documents": 10}, decision, {"name": "a.txt"}, sentences, [])


def test_views_label_a_possible_source_and_show_near_misses_of_untraced_sentences() -> None:
    from tracer.report._views import render_html, render_markdown, render_text

    report = _report_with_near_misses()
    text = render_text(report, width=200)
    assert text.startswith("a.txt: 1 of 3 sentences traced, 1 possible (model m, threshold 0.57)")
    assert "[1] POSSIBLE SOURCE 0.45  Kalimat dua." in text
    assert "    <? check: ru · Outlet 3 · date unknown: Original 3." in text
    # the possible source, then the next two candidates; three candidates for a sentence without source
    assert [line.split(",")[0] for line in text.splitlines() if "nearest (" in line] == [
        "    nearest (Outlet 4", "    nearest (Outlet 5", "    nearest (Outlet 7", "    nearest (Outlet 8",
        "    nearest (Outlet 9",
    ]  # fmt: skip
    md = render_markdown(report)
    assert "**[1] POSSIBLE SOURCE 0.45** Kalimat dua." in md and "> *possible source, to check:*" in md
    assert "- nearest (Outlet 9, ru, 0.05): Original 9. <https://o9.example/a>" in md
    assert "Outlet 10" not in md and "Outlet 2" not in md  # a traced sentence lists no near misses
    page = render_html(report)
    assert 'class="row possible"' in page and "possible source, to check" in page
    assert page.count('<ol class="near">') == 2 and page.count("<li lang=") == 5


HOSTILE_URL = "https://evil.example/e><img src=x onerror=alert(1)>\n<script>alert(2)</script>\n# heading"
HOSTILE_TEXT = "\u001b]0;TITLE\u0007\u001b[2JKremlin said\n# Owned ![x](https://evil.example/p.png) <b>bold</b>"


def _hostile_report():  # type: ignore[no-untyped-def]
    from tracer.report._report import Carrier, Match, Report, SentenceResult, SourceSummary

    m = Match(0.9, 0.8, 0.1, HOSTILE_TEXT, "en", HOSTILE_TEXT, HOSTILE_URL, HOSTILE_TEXT, None, [0], 0, 10)
    also = Carrier(HOSTILE_URL, HOSTILE_TEXT, "en", "", None, HOSTILE_TEXT, 0.9)
    sentences = [
        SentenceResult(0, HOSTILE_TEXT, 0, 10, "traced", [m], also_in=[also]),
        SentenceResult(1, "Kalimat dua.", 11, 20, "no_source", [m]),
    ]
    sources = [SourceSummary(HOSTILE_URL, HOSTILE_TEXT, "en", "", None, [0])]
    return Report({"name": "m"}, {"documents": 1}, {"threshold": 0.5, "operating_point": "x"},
                  {"name": HOSTILE_TEXT}, sentences, sources)  # fmt: skip


def test_markdown_escapes_every_field_when_rendered_by_a_real_renderer() -> None:
    from markdown_it import MarkdownIt

    from tracer.report._views import render_markdown

    md = render_markdown(_hostile_report())
    rendered = MarkdownIt("commonmark").render(md)
    for live in ("<img", "<script", "<b>", "<h1", "onerror=alert(1)>"):
        assert live not in rendered, live
    assert "%3Cimg" in md and "%0A" not in md.split("\n")[0]  # the URL's markup is percent-encoded
    assert '<a href="https://evil.example/e%3E%3Cimg%20src=x%20onerror=alert(1)%3E' in rendered


def test_human_views_never_pass_terminal_control_sequences() -> None:
    from tracer.report._views import render_html, render_markdown, render_text

    report = _hostile_report()
    for view in (render_text(report, width=120), render_markdown(report), render_html(report)):
        assert "\u001b" not in view and "\u0007" not in view
    assert "]0;TITLE[2JKremlin said" in render_text(report, width=500)  # the printable rest stays
