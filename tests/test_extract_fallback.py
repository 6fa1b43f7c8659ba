"""Real extraction through trafilatura's fallback path (jusText, which needs lxml_html_clean):
short pages and pages its main extractor gives up on, as a fresh install meets them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trafilatura.external

import index as ix
from tracer.tracing._article import article_from_html

SHORT = "<html><head><title>Short</title></head><body><p>Troops arrived in Kursk on Tuesday, officials said.</p></body></html>"
# No <p>, <article> or <main>: text in bare <div>s among navigation, which the main extractor discounts.
DIVS = (
    "<html><head><title>Laporan</title></head><body><div class='nav'><a href='/'>Beranda</a> <a href='/b'>Berita</a></div>"
    "<div>Pasukan Korea Utara tiba di wilayah Kursk pada hari Selasa, kata pejabat setempat kepada wartawan.</div>"
    "<div>Kremlin menyebut laporan media Barat tentang pengiriman pasukan itu sebagai berita palsu.</div>"
    "<div class='footer'><a href='/kontak'>Kontak</a></div></body></html>"
)


@pytest.fixture
def justext_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    calls: list[str] = []
    real = trafilatura.external.try_justext

    def spy(tree, url, target_language):  # type: ignore[no-untyped-def]
        calls.append(str(url))
        return real(tree, url, target_language)

    monkeypatch.setattr(trafilatura.external, "try_justext", spy)
    yield calls


def test_a_short_source_page_is_extracted_through_the_fallback(justext_calls: list[str]) -> None:
    doc = ix.document_from_html(SHORT, name="short.html", url="https://x.example/a", outlet="X", lang="en")
    assert justext_calls, "the fallback path did not run"
    assert "Troops arrived in Kursk on Tuesday" in doc.text


def test_an_article_page_of_bare_divs_is_extracted(justext_calls: list[str]) -> None:
    article = article_from_html(DIVS, "https://berita.example/1")
    assert justext_calls, "the fallback path did not run"
    assert "Pasukan Korea Utara tiba di wilayah Kursk" in article.text
    assert "Beranda" not in article.text
