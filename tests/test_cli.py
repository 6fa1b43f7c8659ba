"""The command line with a stand-in embedder: exact output, exact errors, meaningful exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

import tracer
from cli import main
from tests.conftest import HashEmbedder
from tracer.tracing._langid import Guess, not_indonesian_warning

SCHEMA = json.loads((Path(tracer.__file__).parent / "report.schema.json").read_text(encoding="utf-8"))

SOURCES = [
    {"url": "https://a.example/kursk", "outlet": "The Guardian", "lang": "en", "title": "Troops", "published": "2024-11-05",
     "text": "North Korean troops arrived in Kursk region on Tuesday. The White House called them legitimate targets."},
    {"url": "https://b.example/peskov", "outlet": "RIA Novosti", "lang": "ru", "title": "Песков", "published": None,
     "text": "Песков назвал сообщения уткой. Кремль не комментирует детали."},
]  # fmt: skip
# The stand-in embedder matches shared words, so this "article" reuses English words on purpose.
ARTICLE = "North Korean troops arrived in Kursk region on Tuesday.\nPemerintah Indonesia mengimbau warga tetap waspada."


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    path = tmp_path / "sources.jsonl"
    path.write_text("\n".join(json.dumps(s) for s in SOURCES) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def built(runner: CliRunner, sources: Path, tmp_path: Path) -> Path:
    index = tmp_path / "index"
    result = runner.invoke(main, ["index", "add", "--index", str(index), str(sources)])
    assert result.exit_code == 0, result.output
    return index


@pytest.fixture
def article(tmp_path: Path) -> Path:
    path = tmp_path / "artikel.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    return path


def test_index_add_and_stats(runner: CliRunner, sources: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    result = runner.invoke(main, ["index", "add", "--index", str(index), str(sources)])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == f"tracer: 2 added, 0 replaced, 0 unchanged; 4 sentences (6 searchable units) in {index}\n"
    again = runner.invoke(main, ["index", "add", "--index", str(index), str(sources)])
    assert again.stderr == f"tracer: 0 added, 0 replaced, 2 unchanged; 0 sentences (0 searchable units) in {index}\n"
    stats = runner.invoke(main, ["index", "stats", "--index", str(index), "--format", "json"])
    data = json.loads(stats.stdout)
    assert (data["documents"], data["units"], data["model"]["name"]) == (2, 6, "hash-test")
    assert data["outlets"] == [
        {"outlet": "RIA Novosti", "lang": "ru", "documents": 1, "sentences": 2, "newest": None,
         "last_refresh": None, "failures": 0},
        {"outlet": "The Guardian", "lang": "en", "documents": 1, "sentences": 2, "newest": "2024-11-05",
         "last_refresh": None, "failures": 0},
    ]  # fmt: skip
    text = runner.invoke(main, ["index", "stats", "--index", str(index)]).stdout
    assert "model     hash-test (test, dim 64)" in text
    assert (
        "The Guardian         en          1         2  2024-11-05                -                                0"
        in text
    )


def test_trace_writes_schema_valid_json_on_stdout(runner: CliRunner, built: Path, article: Path) -> None:
    result = runner.invoke(main, ["--index", str(built), str(article)])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    assert report["schema_version"] == "1"
    first = report["sentences"][0]
    assert first["text"] == "North Korean troops arrived in Kursk region on Tuesday."
    assert first["matches"][0]["url"] == "https://a.example/kursk"
    assert first["matches"][0]["source_sentences"] == [0]
    assert [s["status"] for s in report["sentences"]][1] == "no_source"
    assert "model 'hash-test' has no calibration; verdicts use a generic margin rule" in report["warnings"]


def test_trace_text_view_and_output_file(runner: CliRunner, built: Path, article: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    result = runner.invoke(main, ["--index", str(built), str(article), "--format", "text", "-o", str(out)])
    assert result.exit_code == 0
    assert result.stdout == ""
    text = out.read_text(encoding="utf-8")
    assert text.startswith(f"{article}: ")
    assert "[1] NO SOURCE" in text


def test_trace_reads_stdin(runner: CliRunner, built: Path) -> None:
    result = runner.invoke(main, ["--index", str(built), "-", "--top-k", "1"], input=ARTICLE)
    report = json.loads(result.stdout)
    assert report["article"]["name"] == "<stdin>"
    assert all(len(s["matches"]) == 1 for s in report["sentences"])


def test_non_indonesian_text_warns(runner: CliRunner, built: Path, tmp_path: Path) -> None:
    path = tmp_path / "english.txt"
    path.write_text(
        "The minister said more than twenty officers were commanding units near the border.", encoding="utf-8"
    )
    result = runner.invoke(main, ["--index", str(built), str(path)])
    assert result.exit_code == 0
    assert f"tracer: {path}: the article looks like English (en), not Indonesian; matches may be poor" in result.stderr


@pytest.mark.parametrize(
    ("setup", "code", "message"),
    [
        (lambda p: None, 2, "Error: {article}: no such file"),
        (lambda p: p.write_bytes(b""), 2, "Error: {article}: the file is empty"),
        (lambda p: p.write_bytes(b"\x00\x01\x02binary"), 2, "Error: {article}: looks like a binary file, not text; give a UTF-8 text file"),
        (lambda p: p.write_text("Baca juga: Gempa di Aceh\nEditor: Sandro\n"), 2, "Error: {article}: no sentences found (only datelines, boilerplate or symbols)"),
    ],
)  # fmt: skip
def test_bad_articles(runner: CliRunner, built: Path, tmp_path: Path, setup, code: int, message: str) -> None:
    path = tmp_path / "bad.txt"
    setup(path)
    result = runner.invoke(main, ["--index", str(built), str(path)])
    assert (result.exit_code, result.stdout) == (code, "")
    assert result.stderr == message.format(article=path) + "\n"


def test_huge_article_limit_can_be_raised(runner: CliRunner, built: Path, tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("Pasukan tiba di Kursk. " * 50, encoding="utf-8")
    small = runner.invoke(main, ["--index", str(built), str(path), "--max-bytes", "100"])
    assert small.exit_code == 2
    assert (
        small.stderr
        == f"Error: {path}: larger than the 100-byte limit for one article; pass --max-bytes N to raise it\n"
    )
    assert runner.invoke(main, ["--index", str(built), str(path), "--max-bytes", "5000"]).exit_code == 0


def test_missing_index_is_exit_3(runner: CliRunner, article: Path, tmp_path: Path) -> None:
    result = runner.invoke(main, ["--index", str(tmp_path / "none"), str(article)])
    assert result.exit_code == 3
    assert (
        result.stderr
        == f"Error: no index at {tmp_path / 'none'}; build one with `trace index add --index DIR FILE...`\n"
    )


def test_another_model_is_refused(runner: CliRunner, built: Path, article: Path) -> None:
    result = runner.invoke(main, ["--index", str(built), str(article), "--model", "LaBSE"])
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: index at {built} was built with model 'hash-test', not 'LaBSE'; "
        "drop --model or use an index built with 'LaBSE'\n"
    )


def test_bad_jsonl_adds_nothing(runner: CliRunner, sources: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(SOURCES[0]) + "\n{oops\n", encoding="utf-8")
    index = tmp_path / "index"
    result = runner.invoke(main, ["index", "add", "--index", str(index), str(sources), str(bad)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {bad}: 1 bad line, nothing added from this file: "
        "line 2: not valid JSON (Expecting property name enclosed in double quotes at column 2)\n"
    )
    assert not index.exists()


def test_html_source_with_metadata_options(runner: CliRunner, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>Troops reach Kursk</title></head><body><article><h1>Troops reach Kursk</h1>"
        "<p>More than 10,000 North Korean soldiers have arrived in Russia's Kursk region, Ukraine's intelligence said.</p>"
        "<p>The troops were trained in the far east of Russia before being moved west by train.</p>"
        "</article></body></html>",
        encoding="utf-8",
    )
    index = tmp_path / "index"
    result = runner.invoke(
        main,
        ["index", "add", "--index", str(index), str(page), "--url", "https://g.example/x", "--outlet", "The Guardian"],
    )
    assert result.exit_code == 0, result.stderr
    stats = json.loads(runner.invoke(main, ["index", "stats", "--index", str(index), "--format", "json"]).stdout)
    assert stats["outlets"][0]["outlet"] == "The Guardian"
    assert stats["outlets"][0]["lang"] == "en"


def test_config_defaults_apply_and_bad_keys_are_named(
    runner: CliRunner, built: Path, article: Path, tmp_path: Path
) -> None:
    config = tmp_path / "tracer.toml"
    config.write_text(f'[article]\ntop_k = 1\nindex = "{built}"\n', encoding="utf-8")
    report = json.loads(runner.invoke(main, ["--config", str(config), str(article)]).stdout)
    assert all(len(s["matches"]) == 1 for s in report["sentences"])
    assert report["index"]["path"] == str(built)
    config.write_text("[article]\ntopk = 1\n", encoding="utf-8")
    result = runner.invoke(main, ["--config", str(config), str(article)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {config}: unknown key article.topk (known in [article]: before, format, index, max_bytes, model, threshold, top_k)\n"
    )


def test_shipped_config_is_valid() -> None:
    from tracer._config import load_config

    root = Path(__file__).resolve().parent.parent
    assert load_config(root / "configs" / "tracer.toml")["article"] == {
        "fmt": "json",
        "top_k": 3,
        "max_bytes": 1000000,
    }


def test_help_explains_both_forms(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    assert result.stdout.startswith(
        "Usage: trace [--config FILE] [OPTIONS] ARTICLE...\n       trace [--config FILE] COMMAND [ARGS]...\n"
    )
    article_help = runner.invoke(main, ["article", "--help"]).stdout
    assert "--threshold FLOAT RANGE" in article_help


def old_index(path: Path, example: bool) -> None:
    import index as ix

    old = HashEmbedder(name="old-model")
    manifest = {**ix.manifest_for(old), **({"example": True} if example else {})}
    with ix.IndexStore.create(path, manifest) as store, store.write_lock():
        ix.add_documents(
            store, [ix.Document(tracer.SourceDoc("https://o.example", "O", "en", "", None), "Old text.")], old
        )


def test_example_index_of_an_older_model_is_rebuilt(runner: CliRunner, article: Path) -> None:
    from tracer._paths import default_index_dir

    path = default_index_dir()
    old_index(path, example=True)
    result = runner.invoke(main, [str(article)])
    assert result.exit_code == 0, result.stderr
    assert (
        f"tracer: the example index at {path} was built with another model: building the example index" in result.stderr
    )
    report = json.loads(result.stdout)
    assert (report["model"]["name"], report["model"]["precision"], report["index"]["documents"]) == (
        "hash-test",
        "float32",
        8,
    )


def test_a_first_run_builds_the_example_with_the_models_export_without_torch(
    runner: CliRunner, article: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the default model was exported before, the example is indexed through its float32
    export (torch's numbers) and torch is never loaded: ~10 s of a first run's 18."""
    from tracer.model import _embed, _onnx

    exported, asked = HashEmbedder(name="exported"), []

    def export(name: str, prompts: object = None, precision: str = "float32") -> HashEmbedder:
        asked.append(precision)
        return exported

    monkeypatch.setattr(_onnx, "exported_embedder", export)
    monkeypatch.setattr(_embed, "load_embedder", lambda *a, **kw: pytest.fail("the torch model was loaded"))
    result = runner.invoke(main, [str(article)])
    assert result.exit_code == 0, result.stderr
    assert "yet (first run): building the example index from the bundled sources" in result.stderr
    report = json.loads(result.stdout)
    assert (report["model"]["name"], report["index"]["documents"]) == ("exported", 8)
    assert asked[0] == "float32"  # the index: full precision, as torch gives


def test_user_index_of_an_older_model_is_never_touched(runner: CliRunner, article: Path, tmp_path: Path) -> None:
    path = tmp_path / "mine"
    old_index(path, example=False)
    result = runner.invoke(main, ["--index", str(path), str(article)])
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: index at {path} was built with model 'old-model' (dim 64), but 'old-model' now loads as "
        "model 'hash-test' (dim 64); rebuild it with `trace index add` (into a new --index directory)\n"
    )
    assert (path / "index.sqlite").exists()


def test_adding_to_the_example_index_protects_it_from_rebuilds(runner: CliRunner, article: Path, sources: Path) -> None:
    import index as ix
    from tracer._paths import default_index_dir

    path = default_index_dir()
    assert runner.invoke(main, [str(article)]).exit_code == 0  # builds the example index
    with ix.IndexStore.open(path) as store:
        assert store.manifest["example"] is True
    assert runner.invoke(main, ["index", "add", str(sources)]).exit_code == 0
    with ix.IndexStore.open(path) as store:
        assert store.manifest["example"] is False
        assert store.describe()["documents"] == 10


def test_config_given_with_equals_sign(runner: CliRunner, built: Path, article: Path, tmp_path: Path) -> None:
    config = tmp_path / "tracer.toml"
    config.write_text(f'[article]\ntop_k = 1\nindex = "{built}"\n', encoding="utf-8")
    result = runner.invoke(main, [f"--config={config}", str(article)])
    assert result.exit_code == 0, result.stderr
    assert all(len(s["matches"]) == 1 for s in json.loads(result.stdout)["sentences"])


def test_output_through_a_symlink_keeps_the_link(runner: CliRunner, built: Path, article: Path, tmp_path: Path) -> None:
    target = tmp_path / "reports" / "latest.json"
    target.parent.mkdir()
    target.write_text("old", encoding="utf-8")
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    assert runner.invoke(main, ["--index", str(built), str(article), "-o", str(link)]).exit_code == 0
    assert link.is_symlink() and link.resolve() == target
    assert json.loads(target.read_text(encoding="utf-8"))["schema_version"] == "1"


def test_output_to_a_fifo_is_written_through_not_replaced(
    runner: CliRunner, built: Path, article: Path, tmp_path: Path
) -> None:
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text(encoding="utf-8")))
    reader.start()
    result = runner.invoke(main, ["--index", str(built), str(article), "-o", str(fifo)])
    reader.join(timeout=30)
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still a FIFO, not a regular file put in its place
    assert json.loads(received[0])["schema_version"] == "1"


def test_a_failing_stdout_is_one_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import cli

    class Full:
        def write(self, text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def flush(self) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cli.sys, "stdout", Full())
    with pytest.raises(cli.TracerError, match=r"^cannot write the report to stdout: No space left on device$"):
        cli._write_output("{}", None)


def test_unwritable_output_is_one_error_line(runner: CliRunner, built: Path, article: Path, tmp_path: Path) -> None:
    result = runner.invoke(main, ["--index", str(built), str(article), "-o", str(tmp_path / "no" / "such" / "r.json")])
    assert result.exit_code == 1
    assert result.stderr.endswith(
        f"\nError: cannot write {tmp_path / 'no' / 'such' / 'r.json'}: No such file or directory\n"
    )


def _parallel_tsv(path: Path, docs: int = 12) -> Path:
    import csv

    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["doc_id", "eng", "ind", "rus", "ukr"])
        for d in range(docs):
            for k in range(3):
                text = f"Report {d} line {k} says troops {d * 7 + k} crossed river number {d}."
                w.writerow([f"doc{d}", text, text, text, text])
    return path


def test_eval_reports_a_precision_recall_curve_and_plots_it(runner: CliRunner, tmp_path: Path) -> None:
    from xml.etree import ElementTree

    data = _parallel_tsv(tmp_path / "parallel.tsv")
    plot = tmp_path / "pr.svg"
    result = runner.invoke(main, ["eval", str(data), "--split", "all", "--plot", str(plot)])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    curve = report["curve"]["overall"]
    assert [p["threshold"] for p in curve][:3] == [0.0, 0.02, 0.04] and curve[-1]["threshold"] == 1.0
    assert set(report["curve"]) == {"overall", "runs", "mixed"} == {"overall", *report["layouts"]}
    svg = ElementTree.parse(plot).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(svg.findall("{http://www.w3.org/2000/svg}polyline")) == len(report["curve"])
    bad = runner.invoke(main, ["eval", str(data), "--plot", str(tmp_path / "pr.png")])
    assert (bad.exit_code, bad.stderr) == (
        2,
        f"Error: --plot {tmp_path / 'pr.png'}: plots are written as SVG; name the file *.svg\n",
    )


def test_calibrate_and_eval_pool_several_protocol_runs(runner: CliRunner, tmp_path: Path) -> None:
    data = _parallel_tsv(tmp_path / "parallel.tsv")
    target = tmp_path / "calibration.json"
    result = runner.invoke(main, ["calibrate", str(data), "--runs", "2", "-o", str(target)])
    assert result.exit_code == 0, result.stderr
    assert "36 sentences of 12 documents, 2 run(s) from seed 1, layouts runs, mixed" in result.stderr
    entry = json.loads(target.read_text(encoding="utf-8"))["rules"]["hash-test"]
    assert entry["operating_point"] == (
        "at most 2% wrong-source on unsourced calibration sentences "
        "(parallel.tsv, calibration half, 2 runs, seeds 1-2, 20% of documents absent, layout all)"
    )
    assert entry["version"] == 2 and 0.0 <= entry["possible"] <= entry["threshold"] <= 1.0
    assert set(entry["sentence"]["weights"]) <= {"cosine", "margin", "carriers", "names", "credited"}
    assert "evidence" in entry["article"]["weights"]
    assert set(entry["article"]["weights"]) <= {"evidence", "support", "sequence", "sides"}
    assert all(
        entry["article"]["weights"][f] >= 0
        for f in ("support", "sequence", "sides")
        if f in entry["article"]["weights"]
    )
    one, two = (
        json.loads(
            runner.invoke(main, ["eval", str(data), "--split", "all", "--runs", str(n), "--layout", "runs"]).stdout
        )
        for n in (1, 2)
    )
    assert two["overall"]["n"] == 2 * one["overall"]["n"] == 72


def test_calibrate_and_eval_take_real_case_folders(runner: CliRunner, tmp_path: Path) -> None:
    from tests.test_evaluate import _write_case

    data = _parallel_tsv(tmp_path / "parallel.tsv")
    _write_case(tmp_path / "cases")
    target = tmp_path / "calibration.json"
    result = runner.invoke(main, ["calibrate", str(data), "--runs", "1", "--cases", str(tmp_path / "cases"),
                                  "--ablate", "1", "-o", str(target)])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "1 real case(s) and 1 ablated variant(s)" in result.stderr
    entry = json.loads(target.read_text(encoding="utf-8"))["rules"]["hash-test"]
    assert entry["operating_point"].startswith("at most 20% wrong-source on unsourced lines of real cases")
    assert entry["operating_point"].endswith("real cases kursk, ablated with seeds 1)")
    done = runner.invoke(main, ["eval", str(tmp_path / "cases" / "kursk"), "--ablate", "1,2"])
    assert done.exit_code == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["cases"]) == {"kursk", "kursk-s1", "kursk-s2", "all cases", "all ablated variants"}
    assert (report["cases"]["kursk"]["n_sourced"], report["cases"]["kursk"]["n_unsourced"]) == (2, 1)
    assert set(report["curve"]) == {"real cases", "real ablated"}
    bad = runner.invoke(main, ["eval", str(tmp_path)])
    assert bad.exit_code == 2
    assert bad.stderr == (
        f"Error: {tmp_path}: neither a real case folder (gold.json, sources.jsonl), a folder of "
        "them, nor a folder of LASER Tatoeba files\n"
    )


def test_int8_asked_for_a_model_it_cannot_run_falls_back_to_torch(
    runner: CliRunner, sources: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    result = runner.invoke(main, ["index", "add", "--index", str(index), "--backend", "onnx-int8", str(sources)])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith(
        "tracer: onnx-int8 needs a sentence-transformers model; embedding with hash-test as loaded\n"
    )
    stats = json.loads(runner.invoke(main, ["index", "stats", "--index", str(index), "--format", "json"]).stdout)
    assert (stats["passage_backend"], stats["vector_index"], stats["stored_vectors"]) == (
        "torch",
        "IDMap2,Flat",
        "float16",
    )


def test_eval_says_which_backend_embedded_the_sources(runner: CliRunner, tmp_path: Path) -> None:
    data = _parallel_tsv(tmp_path / "parallel.tsv")
    default = runner.invoke(main, ["eval", str(data), "--runs", "1"])
    assert json.loads(default.stdout)["passage_backend"] == "torch"
    asked = runner.invoke(main, ["eval", str(data), "--runs", "1", "--backend", "onnx-int8"])
    assert asked.exit_code == 0, asked.stderr
    assert "tracer: onnx-int8 needs a sentence-transformers model; embedding with hash-test as loaded\n" in asked.stderr
    assert json.loads(asked.stdout)["passage_backend"] == "torch"


@pytest.mark.parametrize(
    ("guess", "warning"),
    [
        (Guess("ru", 0.98), "the article looks like Russian (ru), not Indonesian; matches may be poor"),
        (Guess("eo", 0.9), "the article looks like 'eo', not Indonesian; matches may be poor"),
        # "Hello world. Hello world. ..." is guessed as Fulfulde at 17%: too weak to name
        (Guess("fuv", 0.17), "the article does not read as Indonesian; matches may be poor"),
    ],
)
def test_non_indonesian_warning_names_the_language_only_when_sure(guess: Guess, warning: str) -> None:
    assert not_indonesian_warning(guess) == warning


def test_a_database_damaged_in_the_middle_is_an_index_error(runner: CliRunner, built: Path) -> None:
    import sqlite3

    db = built / "index.sqlite"
    with sqlite3.connect(db) as conn:  # fold the WAL in first, so the damage lands in the file that is read
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = bytearray(db.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 4096] = b"\xff" * 4096  # 4 KB of garbage mid-file, the size unchanged
    db.write_bytes(bytes(raw))
    result = runner.invoke(main, ["index", "stats", "--index", str(built)])
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert "damaged" in result.stderr and "rebuild" in result.stderr


def test_library_warnings_say_whose_they_are() -> None:
    import logging

    from cli import _OwnName

    def line(name: str) -> str:
        return _OwnName().format(logging.LogRecord(name, logging.WARNING, __file__, 1, "odd page %s", ("x",), None))

    assert line("trafilatura.core") == "trafilatura: odd page x"
    assert line("tracer") == line("index._crawl") == line("tracer.access") == "tracer: odd page x"


def test_hub_warnings_come_once(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    import huggingface_hub.utils.logging  # noqa: F401  (it adds a stderr handler of its own)

    from cli import _setup_logging

    _setup_logging(0, False)
    assert logging.getLogger("huggingface_hub").handlers == []  # only ours, on the root logger
    logging.getLogger("huggingface_hub.utils._http").warning("Retrying in 1s [Retry 1/5].")
    logging.getLogger("huggingface_hub").info("not shown by default")
    assert capsys.readouterr().err == "huggingface_hub: Retrying in 1s [Retry 1/5].\n"
