"""The shipped source list: the outlets Indonesian newsrooms translate, in groups, each resolving
for credit checks, and each one's allow rules accepting its real pages (../shared/data/realcases)."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest

import index as ix
from tests.conftest import SHARED_DATA
from tracer import ConfigError
from tracer.judgments._outlets import OutletTable

REALCASES = SHARED_DATA / "realcases"


def test_the_shipped_list_covers_wires_and_papers_in_three_languages() -> None:
    sources = ix.load_sources().sources
    outlets = {s.outlet for s in sources}
    assert len(outlets) >= 25
    assert {lang for s in sources for lang in s.langs} == {"en", "ru", "uk"}
    assert all(s.groups for s in sources)
    assert set(ix.load_sources().groups) == {"wires", "ru", "uk", "en", "agencies-copies"}
    for outlet in ("TASS", "Interfax", "Ukrinform", "RIA Novosti", "UNIAN", "The Moscow Times", "Kyiv Independent"):
        assert outlet in outlets
    assert all(s.allow and (s.feeds or s.sitemaps or s.api) for s in sources)


def test_every_shipped_outlet_resolves_for_credit_checks() -> None:
    table = OutletTable.load()
    unresolved = [s.outlet for s in ix.load_sources().sources if table.resolve(s.outlet) != s.outlet]
    assert unresolved == []
    assert table.resolve("Interfax-Ukraine") == "Interfax-Ukraine" and table.resolve("Интерфакс") == "Interfax"


def test_groups_select_and_unknown_names_are_errors() -> None:
    config = ix.load_sources()
    wires = config.select((), ("wires",))
    assert wires and all("wires" in s.groups for s in wires)
    both = config.select(("guardian",), ("agencies-copies",))
    assert {s.name for s in both} == {"guardian", *(s.name for s in config.sources if "agencies-copies" in s.groups)}
    assert config.select((), ()) == config.sources
    with pytest.raises(ConfigError, match="no group named 'tv'"):
        config.select((), ("tv",))


@pytest.mark.skipif(not REALCASES.exists(), reason=f"real cases not found at {REALCASES}")
def test_allow_rules_accept_each_outlets_pages_among_the_real_cases() -> None:
    """The offline check of the allow rules: every page of a shipped outlet in the real cases, on a
    site a source of that outlet covers, is an article page by that source's rules."""
    table = OutletTable.load()
    sources = ix.load_sources().sources
    pages = [json.loads(line) for path in sorted(REALCASES.glob("*/sources.jsonl"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]  # fmt: skip
    checked: set[str] = set()
    refused = []
    for page in pages:
        host = (urlsplit(page["url"]).hostname or "").removeprefix("www.")
        theirs = [s for s in sources if s.outlet == table.resolve(page["outlet"])
                  and any(re.escape(host) in p.text or host in p.text for p in s.allow)]  # fmt: skip
        if theirs:
            checked.add(theirs[0].outlet)
            if all(s.rule_for(page["url"]) is not None for s in theirs):
                refused.append(page["url"])
    assert len(checked) >= len({s.outlet for s in sources}) // 2  # most shipped outlets have pages there
    assert refused == []
