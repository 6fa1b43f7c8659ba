"""The crawler against a local site (127.0.0.1 only): what is stored, what is retried, how many
requests reached the server, and that delays and Retry-After are honoured."""

from __future__ import annotations

import itertools
import sqlite3
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

import index as ix
from index._sources import GuardianApi, Source
from tests.conftest import HashEmbedder
from tests.site import Response, Site
from tests.test_store import consistent

NOW = datetime.now(UTC).replace(microsecond=0)

EN = [
    "The defence ministry said on Tuesday that troops had crossed the river near the northern border town.",
    "Officials added that more than 20 vehicles were destroyed during the overnight fighting in the region.",
    "The claims could not be independently verified by reporters working in the area this week.",
]
RU = [
    "Министерство обороны России заявило во вторник, что войска заняли деревню на севере области.",
    "По данным ведомства, противник потерял более двадцати единиц бронетехники за прошедшие сутки.",
]


def paragraphs(i: int) -> list[str]:
    return [f"Report {i}: {EN[0]}", f"In report {i} the ministry went further. {EN[1]}", EN[2]]


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


def fast_policy(**changes: object) -> ix.FetchPolicy:
    defaults: dict[str, object] = dict(read_timeout=2.0, connect_timeout=2.0, deadline=10.0, retries=2, backoff=0.05,
                                       max_wait=5.0, max_bytes=2_000_000, concurrency=2)  # fmt: skip
    return ix.FetchPolicy(**{**defaults, **changes})  # type: ignore[arg-type]


def source(site: Site, **changes: object) -> Source:
    fields: dict[str, object] = dict(name="local", outlet="Local News", langs=("en",), feeds=(site.url("/feed.rss"),),
                                     delay=0.0, allow_private=True)  # fmt: skip
    return Source(**{**fields, **changes})  # type: ignore[arg-type]


def crawl(path: Path, sources: list[Source], *, policy: ix.FetchPolicy | None = None,
          embedder: HashEmbedder | None = None, command: str = "build", **options: object) -> ix.CrawlSummary:  # fmt: skip
    embedder = embedder or HashEmbedder()
    store = ix.IndexStore.create(path, ix.manifest_for(embedder))
    with store, store.write_lock(), ix.Fetcher(policy or fast_policy()) as fetcher:
        return ix.Crawler(store, fetcher, embedder, ix.CrawlOptions(**options)).run(sources, command)  # type: ignore[arg-type]


def stored(path: Path) -> dict[str, str]:
    with sqlite3.connect(path / "index.sqlite") as conn:
        return dict(conn.execute("SELECT url, text FROM documents").fetchall())


def page_rows(path: Path) -> dict[str, tuple[str, str | None, str | None]]:
    with sqlite3.connect(path / "index.sqlite") as conn:
        return {u: (s, r, d) for u, s, r, d in conn.execute("SELECT url, status, reason, duplicate_of FROM pages")}


def news_site(site: Site, n: int) -> None:
    for i in range(n):
        site.article(f"/news/{i}", f"Report {i}", paragraphs(i))
    site.rss("/feed.rss", [(f"/news/{i}", NOW - timedelta(hours=i)) for i in range(n)])


def test_build_then_refresh_of_an_unchanged_site_fetches_no_article_bodies(site: Site, tmp_path: Path) -> None:
    news_site(site, 3)
    path = tmp_path / "index"
    summary = crawl(path, [source(site)]).to_dict()
    assert (summary["discovered"], summary["fetched"], summary["new"], summary["published"]) == (3, 3, 3, 3)
    assert set(stored(path)) == {site.url(f"/news/{i}") for i in range(3)}
    # headline kept: it is translated too
    assert stored(path)[site.url("/news/0")] == "\n".join(["Report 0", *paragraphs(0)])
    assert sorted(site.bodies_served()) == ["/news/0", "/news/1", "/news/2"]
    with sqlite3.connect(path / "index.sqlite") as conn:  # staging's pages were handed back
        assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    site.hits.clear()
    summary = crawl(path, [source(site)], command="refresh").to_dict()
    assert (summary["fetched"], summary["new"], summary["changed"], summary["unchanged"]) == (0, 0, 0, 3)
    assert site.bodies_served() == []
    article_hits = [h for h in site.hits if h.path.startswith("/news/")]
    assert [h.status for h in article_hits] == [304, 304, 304]
    assert all(h.headers.get("If-None-Match") for h in article_hits)
    with ix.IndexStore.open(path) as store:
        assert store.last_run()["command"] == "refresh"  # type: ignore[index]
        assert consistent(path)


def test_a_changed_article_is_replaced_and_only_its_new_sentences_are_embedded(site: Site, tmp_path: Path) -> None:
    news_site(site, 2)
    path = tmp_path / "index"
    crawl(path, [source(site)])
    changed = [*paragraphs(1), "A fresh paragraph was added after the first report went online today."]
    site.article("/news/1", "Report 1", changed)
    embedder = HashEmbedder()
    summary = crawl(path, [source(site)], embedder=embedder, command="refresh").to_dict()
    assert (summary["changed"], summary["unchanged"], summary["new"]) == (1, 1, 0)
    assert stored(path)[site.url("/news/1")] == "\n".join(["Report 1", *changed])
    # One new sentence, and one new window joining it to the sentence before: nothing else re-embedded.
    assert embedder.calls == [("passage", 2)]
    with ix.IndexStore.open(path) as store:
        assert consistent(path)
        assert store.describe()["documents"] == 2


def test_rules_since_limit_and_robots_decide_what_is_fetched(site: Site, tmp_path: Path) -> None:
    for i in range(6):
        site.article(f"/news/{i}", f"Report {i}", paragraphs(i))
    site.article("/live/blog", "Live", paragraphs(9))
    site.article("/private/memo", "Memo", paragraphs(8))
    site.rss("/feed.rss", [(f"/news/{i}", NOW - timedelta(days=i)) for i in range(6)]
             + [("/live/blog", NOW), ("/private/memo", NOW), ("/elsewhere/x", NOW)])  # fmt: skip
    site.robots("User-agent: *\nDisallow: /private/\n")
    src = source(site, allow=(ix._sources.Pattern.parse(site.url("/")),),
                 deny=(ix._sources.Pattern.parse("/live/"), ix._sources.Pattern.parse("/elsewhere/")))  # fmt: skip
    summary = crawl(tmp_path / "i", [src], since=NOW - timedelta(days=3, hours=12), max_articles=3).to_dict()
    assert summary["skipped"] == {"before_since": 2, "denied": 2, "over_limit": 1, "robots": 1}
    assert sorted(stored(tmp_path / "i")) == [site.url(f"/news/{i}") for i in range(3)]
    assert site.requests_to("/private/memo") == [] and site.requests_to("/news/3") == []
    assert len(site.requests_to("/robots.txt")) == 1


def test_transient_failures_are_retried_and_honour_retry_after(site: Site, tmp_path: Path) -> None:
    news_site(site, 3)
    body = site._routes["/news/0"][0]
    site.route("/news/0", Response(status=503), Response(status=500), body)
    site.route("/news/1", Response(status=429, headers={"Retry-After": "1"}), site._routes["/news/1"][0])
    site.route("/news/2", Response(status=404))
    summary = crawl(tmp_path / "i", [source(site)]).to_dict()
    assert (summary["new"], summary["failed"]) == (2, {"http_404": 1})
    assert [h.status for h in site.requests_to("/news/0")] == [503, 500, 200]
    first, second = site.requests_to("/news/1")
    assert second.at - first.at >= 1.0  # Retry-After: 1 honoured
    assert len(site.requests_to("/news/2")) == 1  # a 404 is not retried within the run
    assert page_rows(tmp_path / "i")[site.url("/news/2")] == ("failed", "http_404", None)
    # The next run retries the failure, even once the feed no longer lists it.
    site.rss("/feed.rss", [("/news/0", NOW)])
    site.article("/news/2", "Report 2", paragraphs(2))
    summary = crawl(tmp_path / "i", [source(site)], command="refresh").to_dict()
    assert summary["new"] == 1 and page_rows(tmp_path / "i")[site.url("/news/2")][0] == "stored"


def test_timeouts_redirect_loops_huge_and_non_html_pages_fail_with_a_reason(site: Site, tmp_path: Path) -> None:
    site.route("/slow", Response(delay=1.5, body=b"<html></html>"))
    site.route("/loop-a", Response(status=302, headers={"Location": "/loop-b"}))
    site.route("/loop-b", Response(status=302, headers={"Location": "/loop-a"}))
    for i in range(7):
        site.route(f"/hop{i}", Response(status=301, headers={"Location": f"/hop{i + 1}"}))
    site.route("/huge", Response(stream_bytes=50_000_000))
    site.route("/photo.jpg", Response(body=b"\xff\xd8\xff", content_type="image/jpeg"))
    site.rss("/feed.rss", [(p, NOW) for p in ("/slow", "/loop-a", "/hop0", "/huge", "/photo.jpg")])
    started = time.monotonic()
    summary = crawl(tmp_path / "i", [source(site)], policy=fast_policy(read_timeout=0.5, retries=1)).to_dict()
    assert summary["failed"] == {"not_html": 1, "redirect_loop": 1, "timeout": 1, "too_large": 1,
                                 "too_many_redirects": 1}  # fmt: skip
    assert len(site.requests_to("/slow")) == 2  # timeouts are retried
    assert len(site.requests_to("/huge")) == 1  # a size cap is final
    assert [h.path for h in site.hits if h.path.startswith("/hop")] == [f"/hop{i}" for i in range(6)]
    assert time.monotonic() - started < 30  # the 50 MB page was cut off, not downloaded


def test_charsets_declared_wrongly_or_not_at_all_decode_right(site: Site, tmp_path: Path) -> None:
    text = [RU[0] + " " + RU[1], RU[1] + " " + RU[0]]
    site.article("/ru/wrong", "Новости", text, charset="cp1251", header_charset="utf-8", meta_charset=False)
    site.article(
        "/ru/missing", "Новости", [text[1], text[0]], charset="cp1251", header_charset=None, meta_charset=False
    )
    site.article("/ru/koi8", "Новости", [text[0], text[0][::-1]], charset="koi8_r", header_charset="windows-1251",
                 meta_charset=False)  # fmt: skip
    site.rss("/feed.rss", [("/ru/wrong", NOW), ("/ru/missing", NOW), ("/ru/koi8", NOW)])
    crawl(tmp_path / "i", [source(site, langs=("ru",))])
    docs = stored(tmp_path / "i")
    assert docs[site.url("/ru/wrong")] == "\n".join(["Новости", *text])
    assert docs[site.url("/ru/missing")] == "\n".join(["Новости", text[1], text[0]])
    assert docs[site.url("/ru/koi8")].startswith("Новости\n" + text[0])


def test_a_malformed_feed_is_counted_and_the_other_feeds_still_run(site: Site, tmp_path: Path) -> None:
    news_site(site, 2)
    site.rss("/broken.rss", [("/news/9", NOW)], malformed=True)
    src = source(site, feeds=(site.url("/broken.rss"), site.url("/feed.rss"), site.url("/missing.rss")))
    summary = crawl(tmp_path / "i", [src]).to_dict()
    assert summary["failed"] == {"feed_http_404": 1, "feed_malformed": 1}
    assert summary["new"] == 2


def test_sitemaps_backfill_and_unchanged_lastmod_is_not_asked_for_again(site: Site, tmp_path: Path) -> None:
    for i in range(3):
        site.article(f"/news/{i}", f"Report {i}", paragraphs(i), etag=None)
    old = NOW - timedelta(days=1)
    site.sitemap("/sitemap.xml", [(f"/news/{i}", old) for i in range(3)])
    src = source(site, feeds=(), sitemaps=(site.url("/sitemap.xml"),))
    assert crawl(tmp_path / "i", [src]).to_dict()["new"] == 3
    site.hits.clear()
    site.article("/news/2", "Report 2", [*paragraphs(2), "An update was appended to the article later that day."])
    site.sitemap(
        "/sitemap.xml", [("/news/0", old), ("/news/1", old), ("/news/2", datetime.now(UTC) + timedelta(minutes=1))]
    )
    summary = crawl(tmp_path / "i", [src], command="refresh").to_dict()
    assert (summary["unchanged"], summary["changed"]) == (2, 1)
    assert site.bodies_served() == ["/news/2"]


def test_the_same_article_under_two_urls_is_stored_once_and_cross_outlet_copies_are_marked(
    site: Site, tmp_path: Path
) -> None:
    site.article("/a/story", "Story", paragraphs(1), canonical=site.url("/story"))
    site.article("/b/story?utm=feed", "Story", paragraphs(1), canonical=site.url("/story"))
    site.article("/c/same-text", "Story", paragraphs(2))
    site.article("/d/same-text-again", "Story", paragraphs(2))
    site.rss("/feed.rss", [("/a/story", NOW), ("/b/story?utm=feed", NOW - timedelta(minutes=1)),
                           ("/c/same-text", NOW - timedelta(minutes=2)), ("/d/same-text-again", NOW - timedelta(minutes=3))])  # fmt: skip
    site.article("/other/copy", "Copy", paragraphs(2))
    site.rss("/other.rss", [("/other/copy", NOW)])
    other = source(site, name="other", outlet="Other Outlet", feeds=(site.url("/other.rss"),))
    summary = crawl(tmp_path / "i", [source(site), other]).to_dict()
    docs = stored(tmp_path / "i")
    assert sorted(docs) == [site.url("/c/same-text"), site.url("/other/copy"), site.url("/story")]
    assert summary["duplicates"] == 2
    pages = page_rows(tmp_path / "i")
    assert pages[site.url("/d/same-text-again")] == ("duplicate", None, site.url("/c/same-text"))
    # Another outlet's copy is kept, and whichever of the two came second points at the first.
    copy, original = pages[site.url("/other/copy")], pages[site.url("/c/same-text")]
    assert copy[0] == original[0] == "stored"
    assert {copy[2], original[2]} == {None, site.url("/c/same-text")} or {copy[2], original[2]} == {
        None, site.url("/other/copy")}  # fmt: skip


@pytest.mark.heavy
def test_per_host_delay_is_honoured(site: Site, tmp_path: Path) -> None:
    news_site(site, 3)
    crawl(tmp_path / "i", [source(site, delay=0.4)], policy=fast_policy(concurrency=4))
    times = [h.at for h in site.hits]
    assert len(times) == 5  # robots.txt, the feed, three articles
    assert all(b - a >= 0.39 for a, b in itertools.pairwise(times))


def test_private_addresses_are_refused_unless_the_source_allows_them(site: Site, tmp_path: Path) -> None:
    news_site(site, 1)
    summary = crawl(tmp_path / "i", [source(site, allow_private=False)]).to_dict()
    assert summary["failed"] == {"feed_private_address": 1}
    assert site.hits == []
    with pytest.raises(ix.FetchError, match="only http and https"):
        ix._fetch.check_url("file:///etc/passwd", allow_private=False)
    with pytest.raises(ix.FetchError, match=r"non-public address 10\.1\.2\.3"):
        ix._fetch.check_url("http://intranet.example/", allow_private=False, resolver=lambda h, p: ["10.1.2.3"])
    with pytest.raises(ix.FetchError, match=r"non-public address ::ffff:127\.0\.0\.1"):
        ix._fetch.check_url("http://x.example/", allow_private=False, resolver=lambda h, p: ["::ffff:127.0.0.1"])
    ix._fetch.check_url("http://news.example/", allow_private=False, resolver=lambda h, p: ["93.184.216.34"])


def test_a_redirect_to_a_private_address_is_refused(site: Site, tmp_path: Path) -> None:
    hops: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        hops.append(host)
        return ["93.184.216.34"] if host == "public.example" else ["127.0.0.1"]

    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": site.url("/news/0")})

    fetcher = ix.Fetcher(fast_policy(), client=httpx.Client(transport=httpx.MockTransport(handler)), resolver=resolver)
    with pytest.raises(ix.FetchError, match=r"non-public address 127\.0\.0\.1") as exc:
        fetcher.get("http://public.example/robots-free", kind="robots")
    assert exc.value.reason == "private_address" and site.hits == []


def test_readers_see_the_old_index_until_the_run_ends(site: Site, tmp_path: Path) -> None:
    news_site(site, 2)
    path = tmp_path / "index"
    crawl(path, [source(site)])
    for i in range(2, 40):
        site.article(f"/news/{i}", f"Report {i}", paragraphs(i))
    site.rss("/feed.rss", [(f"/news/{i}", NOW - timedelta(minutes=i)) for i in range(40)])
    seen: list[int] = []

    class Watching(HashEmbedder):
        def embed(self, texts, *, role, show_progress=False):  # type: ignore[no-untyped-def]
            with ix.IndexStore.open(path) as reader, reader.snapshot():
                seen.append(int(reader.describe()["documents"]))
            return super().embed(texts, role=role)

    summary = crawl(path, [source(site)], embedder=Watching(), batch_docs=4, command="refresh")
    assert len(seen) >= 5 and set(seen) == {2}
    assert summary.published == 38
    with ix.IndexStore.open(path) as reader:
        assert reader.describe()["documents"] == 40 and consistent(path)


def test_a_second_writer_is_refused_while_one_runs(site: Site, tmp_path: Path) -> None:
    news_site(site, 1)
    path = tmp_path / "index"
    emb = HashEmbedder()
    store = ix.IndexStore.create(path, ix.manifest_for(emb))
    with store, store.write_lock(), pytest.raises(ix._store.ReferenceIndexError, match="being updated by another"):
        crawl(path, [source(site)])


def test_guardian_api_discovers_links_and_sends_the_key_as_a_header(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    news_site(site, 2)
    import json

    results = [{"webUrl": site.url(f"/news/{i}"), "webPublicationDate": NOW.isoformat()} for i in range(2)]
    site.route("/search?order-by=newest&page-size=50&section=world",
               Response(body=json.dumps({"response": {"results": results}}).encode(), content_type="application/json"))  # fmt: skip
    monkeypatch.setenv("TEST_GUARDIAN_KEY", "secret-key")
    api = GuardianApi(url=site.url("/search"), key_env="TEST_GUARDIAN_KEY")
    summary = crawl(tmp_path / "i", [source(site, feeds=(), api=api)]).to_dict()
    assert summary["new"] == 2
    (hit,) = [h for h in site.hits if h.path.startswith("/search")]
    assert hit.headers.get("api-key") == "secret-key" and "secret" not in hit.path
    assert site.requests_to("/feed.rss") == []


def test_sources_file_errors_name_the_key_and_line(tmp_path: Path) -> None:
    config = tmp_path / "sources.toml"

    def error(text: str) -> str:
        config.write_text(textwrap.dedent(text), encoding="utf-8")
        with pytest.raises(ix._sources.ConfigError) as exc:
            ix.load_sources(config)
        return str(exc.value)

    good = '[[source]]\nname = "a"\noutlet = "A"\nlang = "en"\nfeeds = ["https://a.example/rss"]\n'
    assert ix.load_sources(config) if config.write_text(good) else True
    assert error(good + 'delay = "slow"\n') == f"{config}, line 6: source 'a': delay must be a number, got 'slow'"
    assert error(good.replace('"en"', '"de"')) == (
        f"{config}, line 4: source 'a': lang must be one of en, ru, uk or a list of them, got 'de'"
    )
    assert error(good + '\n[[source]]\nname = "b"\noutlet = "B"\nlang = "ru"\nfeeds = []\nalow = []\n') == (
        f"{config}, line 12: source 'b': alow is not a known key (known: allow, allow_private, api, delay, deny, "
        "feeds, groups, lang, max_articles, name, outlet, sitemaps)"
    )
    assert error(good + 'deny = ["(unclosed"]\n').startswith(
        f"{config}, line 6: source 'a': deny has an invalid regular"
    )
    assert error("[crawler]\nretries = -1\n" + good) == f"{config}, line 2: crawler.retries must be positive, got -1"
    assert error("[[source]]\nname = 'x'\n = 1\n").startswith(f"sources file {config} is not valid TOML")


def test_shipped_sources_are_valid() -> None:
    config = ix.load_sources()
    assert all(not s.allow_private for s in config.sources)
    assert len({s.name for s in config.sources}) == len(config.sources)
    named = {s.name: s for s in config.sources}
    guardian, ria, strana = named["guardian"], named["ria"], named["strana"]
    assert guardian.rule_for("https://www.theguardian.com/world/2024/nov/05/x") is None
    assert guardian.rule_for("https://www.theguardian.com/world/live/2024/nov/05/x") == "denied"
    assert ria.rule_for("https://ria.ru/20241105/peskov-1982.html") is None
    assert strana.langs == ("ru", "uk")
    assert strana.rule_for("https://strana.news/news/494738-halushchenko.html") is None


def test_vectors_of_unchanged_sentences_are_reused_bit_for_bit(site: Site, tmp_path: Path) -> None:
    news_site(site, 1)
    path = tmp_path / "index"
    crawl(path, [source(site)])
    with ix.IndexStore.open(path) as store:
        before = store.known_vectors(site.url("/news/0"))
    site.article("/news/0", "Report 0", [*paragraphs(0), "One more closing sentence was added to the report today."])
    crawl(path, [source(site)], command="refresh")
    with ix.IndexStore.open(path) as store:
        after = store.known_vectors(site.url("/news/0"))
    assert set(before) < set(after)
    assert all(np.array_equal(before[t], after[t]) for t in before)


@pytest.mark.heavy
def test_concurrency_is_global_and_one_host_gets_one_request_at_a_time(tmp_path: Path) -> None:
    sites = [Site(), Site(), Site()]
    try:
        for s in sites:
            for i in range(3):
                s.article(f"/news/{i}", f"Report {i}", paragraphs(i))
                s._routes[f"/news/{i}"][0].delay = 0.3
            s.rss("/feed.rss", [(f"/news/{i}", NOW) for i in range(3)])
        srcs = [source(s, name=f"s{k}", outlet=f"Outlet {k}") for k, s in enumerate(sites)]
        started = time.monotonic()
        summary = crawl(tmp_path / "i", srcs, policy=fast_policy(concurrency=2)).to_dict()
        elapsed = time.monotonic() - started
        assert summary["new"] == 9
        spans = sorted(
            (h.at, h.at + 0.3, k) for k, s in enumerate(sites) for h in s.hits if h.path.startswith("/news/")
        )
        in_flight = max(sum(1 for a, b, _ in spans if a <= t < b) for t, _, _ in spans)
        assert in_flight == 2  # never more than the global limit, and the limit is used
        for k in range(3):  # one host never has two requests at once
            mine = [(a, b) for a, b, j in spans if j == k]
            assert all(b1 <= a2 + 0.01 for (_, b1), (a2, _) in itertools.pairwise(mine))
        assert elapsed >= 9 * 0.3 / 2
    finally:
        for s in sites:
            s.close()


def test_user_agent_names_the_tool_and_a_contact(site: Site, tmp_path: Path) -> None:
    news_site(site, 1)
    crawl(tmp_path / "i", [source(site)], policy=fast_policy(user_agent="tracer-test/1 (+https://example.org/contact)"))
    assert {h.headers["User-Agent"] for h in site.hits} == {"tracer-test/1 (+https://example.org/contact)"}
    assert ix.FetchPolicy().user_agent.startswith("tracer/") and "+https://" in ix.FetchPolicy().user_agent


def test_retry_after_as_an_http_date() -> None:
    from index._fetch import _retry_after

    assert _retry_after("120", now=0) == 120.0
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert _retry_after("soon", now=0) is None


def test_extraction_drops_read_more_lines_captions_and_navigation() -> None:
    html = f"""<html><head><title>Troops</title></head><body><nav>Home World Sport</nav><article>
    <h1>Troops cross the river</h1><p class="byline">By Jane Reporter</p>
    <p>{EN[0]}</p><figure><img src="x.jpg"><figcaption>Soldiers near the river, in a photo taken on Monday.</figcaption></figure>
    <p>Read more: Ukraine war latest</p><p>{EN[1]}</p><p>{EN[2]}</p></article>
    <footer>Sign up to our newsletter</footer></body></html>"""
    doc = ix.document_from_html(html, name="t", url="https://n.example/a", outlet="N", lang="en")
    assert doc.text.splitlines() == ["Troops cross the river", *EN]


def test_a_page_that_breaks_extraction_or_decoding_fails_alone(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    news_site(site, 3)
    site.route("/news/1", Response(body=b"\x00not gzip at all", headers={"Content-Encoding": "gzip"}))
    real = ix._crawl.document_from_html

    def flaky(html, **kw):  # type: ignore[no-untyped-def]
        if kw["url"].endswith("/news/2"):
            raise RuntimeError("parser blew up")
        return real(html, **kw)

    monkeypatch.setattr(ix._crawl, "document_from_html", flaky)
    summary = crawl(tmp_path / "i", [source(site)]).to_dict()
    assert (summary["new"], summary["failed"]) == (1, {"bad_encoding": 1, "processing": 1})
    assert sorted(stored(tmp_path / "i")) == [site.url("/news/0")]
    assert page_rows(tmp_path / "i")[site.url("/news/2")] == ("failed", "processing", None)


@pytest.mark.heavy
def test_headers_sent_a_byte_at_a_time_are_cut_off_at_the_deadline_and_not_retried(site: Site) -> None:
    # Each byte comes well within the read timeout, so only a wall-clock deadline stops it.
    site.route("/drip", Response(trickle=0.2))
    site.route("/drip2", Response(trickle=0.2))
    site.route("/drip3", Response(trickle=0.2))
    policy = fast_policy(read_timeout=1.0, deadline=1.5, retries=3)
    with ix.Fetcher(policy) as fetcher:
        started = time.monotonic()
        with pytest.raises(ix.FetchError) as err:
            fetcher.get(site.url("/drip"), allow_private=True, robots=False, delay=0.0)
        took = time.monotonic() - started
        assert err.value.reason == "timeout" and "no complete response within 2 s" in str(err.value)
        assert took < 4  # the deadline, not 4 attempts of it, nor the 40 s the headers would take
        assert len(site.requests_to("/drip")) == 1
        with pytest.raises(ix.FetchError):
            fetcher.get(site.url("/drip2"), allow_private=True, robots=False, delay=0.0)
        # two exchanges outlasted the deadline: the host is given up for this run, at once
        started = time.monotonic()
        with pytest.raises(ix.FetchError, match="host gave up for this run"):
            fetcher.get(site.url("/drip3"), allow_private=True, robots=False, delay=0.0)
        assert time.monotonic() - started < 0.5 and site.requests_to("/drip3") == []
