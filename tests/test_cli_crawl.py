"""`trace index build / refresh / stats` through the CLI, against a local site, with the stand-in embedder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

import index as ix
from cli import main
from tests.site import Response, Site
from tests.test_crawl import NOW, paragraphs


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    for i in range(3):
        s.article(f"/news/{i}", f"Report {i}", paragraphs(i))
    s.route("/news/3", Response(status=500))
    s.rss("/feed.rss", [(f"/news/{i}", NOW - timedelta(hours=i)) for i in range(4)])
    yield s
    s.close()


@pytest.fixture
def config(site: Site, tmp_path: Path) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(
        f"""[crawler]
retries = 1
backoff = 0.01

[[source]]
name = "local"
outlet = "Local News"
lang = "en"
feeds = ["{site.url("/feed.rss")}"]
delay = 0.0
allow_private = true
""",
        encoding="utf-8",
    )
    return path


def test_build_refresh_and_stats(runner: CliRunner, config: Path, site: Site, tmp_path: Path) -> None:
    index = tmp_path / "index"
    result = runner.invoke(main, ["index", "build", "--index", str(index), "--sources", str(config)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"tracer: {site.url('/news/3')}: HTTP 500 (gave up after 2 attempts)",
        "tracer: 4 discovered, 3 fetched, 3 new, 0 changed, 0 unchanged, 0 duplicates, 0 skipped by rule, "
        f"1 failed (http_500 1); 3 documents published to {index}",
        "tracer:   local: 4 discovered, 3 fetched, 3 new, 0 changed, 0 unchanged, 0 duplicates, 0 skipped by rule, "
        "1 failed (http_500 1)",
    ]
    site.article("/news/3", "Report 3", paragraphs(3))
    result = runner.invoke(
        main, ["index", "refresh", "--index", str(index), "--config", str(config), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["new"], summary["unchanged"], summary["fetched"], summary["failed"]) == (1, 3, 1, {})
    stats = json.loads(runner.invoke(main, ["index", "stats", "--index", str(index), "--format", "json"]).stdout)
    (row,) = stats["outlets"]
    assert (row["outlet"], row["documents"], row["failures"]) == ("Local News", 4, 0)
    assert row["newest"] == NOW.isoformat() and row["last_refresh"] is not None
    assert stats["last_run"]["command"] == "refresh"
    text = runner.invoke(main, ["index", "stats", "--index", str(index)]).stdout
    assert "last run  refresh finished " in text
    assert f"Local News           en          4        20  {NOW.isoformat():<25} " in text


def test_refresh_needs_an_index_and_bad_configs_are_one_line_errors(
    runner: CliRunner, config: Path, tmp_path: Path
) -> None:
    result = runner.invoke(main, ["index", "refresh", "--index", str(tmp_path / "none"), "--config", str(config)])
    assert (result.exit_code, result.stderr) == (
        3, f"Error: no index at {tmp_path / 'none'}; create it with `trace index build`\n")  # fmt: skip
    result = runner.invoke(main, ["index", "build", "--index", str(tmp_path / "i"), "--config", str(config),
                                  "--source", "nope"])  # fmt: skip
    assert (result.exit_code, result.stderr) == (2, f"Error: no source named 'nope' in {config} (known: local)\n")
    config.write_text(config.read_text().replace('lang = "en"', 'lang = "fr"'))
    result = runner.invoke(main, ["index", "build", "--index", str(tmp_path / "i"), "--config", str(config)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {config}, line 8: source 'local': lang must be one of en, ru, uk or a list of them, got 'fr'\n"
    )


def test_a_locked_index_is_refused_with_exit_3(runner: CliRunner, config: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    assert runner.invoke(main, ["index", "build", "--index", str(index), "--config", str(config)]).exit_code == 0
    with ix.IndexStore.open(index, writable=True) as store, store.write_lock():
        result = runner.invoke(main, ["index", "refresh", "--index", str(index), "--config", str(config)])
    assert result.exit_code == 3
    assert "is being updated by another process" in result.stderr


def test_build_options_come_from_the_tracer_config_file(
    runner: CliRunner, config: Path, site: Site, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    options = tmp_path / "tracer.toml"
    options.write_text(f'[index.build]\nindex = "{index}"\nsources = "{config}"\nmax_articles = 2\nformat = "json"\n')
    result = runner.invoke(main, ["--config", str(options), "index", "build"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["new"], summary["skipped"]) == (2, {"over_limit": 2})


def test_building_into_the_implicit_example_index_replaces_the_example(
    runner: CliRunner, config: Path, tmp_path: Path
) -> None:
    article = tmp_path / "a.txt"
    article.write_text("Pasukan menyeberangi sungai dekat kota perbatasan utara pada hari Selasa.", encoding="utf-8")
    assert runner.invoke(main, [str(article)]).exit_code == 0  # first run seeds the example index
    result = runner.invoke(main, ["index", "build", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "replacing the example index" in result.stderr
    stats = json.loads(runner.invoke(main, ["index", "stats", "--format", "json"]).stdout)
    assert [row["outlet"] for row in stats["outlets"]] == ["Local News"]


def test_groups_select_sources_and_index_sources_shows_each_ones_last_crawl(
    runner: CliRunner, config: Path, site: Site, tmp_path: Path
) -> None:
    text = config.read_text(encoding="utf-8").replace('lang = "en"\n', 'lang = "en"\ngroups = ["wires", "en"]\n')
    text += f"""
[[source]]
name = "other"
outlet = "Other Paper"
lang = "ru"
groups = ["ru"]
feeds = ["{site.url("/missing.rss")}"]
delay = 0.0
allow_private = true
"""
    config.write_text(text, encoding="utf-8")
    index = tmp_path / "index"
    built = runner.invoke(main, ["index", "build", "--index", str(index), "--sources", str(config), "--group", "wires",
                                 "--format", "json"])  # fmt: skip
    assert built.exit_code == 0, built.output
    assert list(json.loads(built.stdout)["sources"]) == ["local"]  # only the wires group was crawled
    listed = runner.invoke(main, ["index", "sources", "--index", str(index), "--sources", str(config),
                                  "--format", "json"])  # fmt: skip
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.stdout)
    assert data["groups"] == ["en", "ru", "wires"]
    rows = {r["name"]: r for r in data["sources"]}
    assert (rows["local"]["pages"], rows["local"]["failures"]) == (3, 1) and rows["local"]["last_crawl"]
    assert (rows["other"]["pages"], rows["other"]["last_crawl"]) == (0, None)
    only = runner.invoke(main, ["index", "sources", "--sources", str(config), "--group", "ru", "--index", str(index)])
    assert only.exit_code == 0 and "other" in only.stdout and "local " not in only.stdout
    bad = runner.invoke(main, ["index", "build", "--index", str(index), "--sources", str(config), "--group", "tv"])
    assert bad.exit_code == 2
    assert bad.stderr.strip() == f"Error: no group named 'tv' in {config} (known: en, ru, wires)"
