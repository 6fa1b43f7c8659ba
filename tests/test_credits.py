"""Newsroom credits are recognised and left out of the matched text; claims are never cut."""

from __future__ import annotations

import pytest

from tracer import SourceDoc, SourceUnit
from tracer.judgments._credits import find_credit, without_credit
from tracer.judgments._outlets import OutletTable
from tracer.tracing._match import Candidate
from tracer.tracing._trace import with_credits

CASES = [
    (
        "Kremlin menyebut laporan itu sebagai berita palsu, seperti dilansir Russia Elium.",
        "Russia Elium",
        "Kremlin menyebut laporan itu sebagai berita palsu.",
    ),
    (
        "Harga minyak naik tajam pada Senin, seperti dilaporkan KOMPAS.com.",
        "KOMPAS.com",
        "Harga minyak naik tajam pada Senin.",
    ),
    (
        '"Kami yakin," ujar Kim dalam rapat di parlemen, dikutip dari Yonhap.',
        "Yonhap",
        '"Kami yakin," ujar Kim dalam rapat di parlemen.',
    ),
    (
        "Pasukan itu tiba pada Rabu, sebagaimana diberitakan kantor berita Reuters.",
        "Reuters",
        "Pasukan itu tiba pada Rabu.",
    ),
    (
        "Media Inggris The Guardian melaporkan lebih dari 10.000 tentara telah tiba di Kursk.",
        "The Guardian",
        "Lebih dari 10.000 tentara telah tiba di Kursk.",
    ),
    (
        "Kantor berita Rusia TASS memberitakan bahwa Putin akan berkunjung ke Pyongyang.",
        "TASS",
        "Putin akan berkunjung ke Pyongyang.",
    ),
    (
        "Kantor berita Rusia, TASS, melaporkan bahwa tim penyelamat menduga tidak ada korban yang selamat.",
        "TASS",
        "Tim penyelamat menduga tidak ada korban yang selamat.",
    ),
    (
        "Dalam laporan lainnya, TASS juga memberitakan dugaan penyebab AN-24 jatuh.",
        "TASS",
        "Dugaan penyebab AN-24 jatuh.",
    ),
    (
        '"Pesawat itu membawa 40 penumpang, termasuk dua anak-anak," tulis TASS.',
        "TASS",
        '"Pesawat itu membawa 40 penumpang, termasuk dua anak-anak."',
    ),
    (
        '"Aplikasi itu dipakai untuk penipuan," kata Roskomnadzor lagi, dikutip dari AFP, Kamis (14/8).',
        "AFP",
        '"Aplikasi itu dipakai untuk penipuan," kata Roskomnadzor lagi.',
    ),
    (
        '"Langkah itu diambil," kata Roskomnadzor yang dilaporkan oleh kantor berita RIA dan TASS.',
        "RIA",
        '"Langkah itu diambil," kata Roskomnadzor.',
    ),
    # at the start, the commonest form in Indonesian news
    ("Dilansir dari Reuters, Kremlin membantah laporan itu.", "Reuters", "Kremlin membantah laporan itu."),
    ("Seperti dikutip dari AFP, Senin (12/5/2024), pasukan itu tiba di Kursk.", "AFP", "Pasukan itu tiba di Kursk."),
    ("Melansir dari CNN, pasukan itu tiba di Kursk.", "CNN", "Pasukan itu tiba di Kursk."),
    ("Mengutip The Guardian, pasukan itu tiba di Kursk.", "The Guardian", "Pasukan itu tiba di Kursk."),
    ("Sebagaimana dikutip dari kantor berita TASS, Kremlin membantah laporan itu.", "TASS",
     "Kremlin membantah laporan itu."),
    # at the end, dated, bracketed, "lapor", "demikian", a web page
    ("Kremlin membantah laporan itu, seperti dilaporkan Reuters pada Senin (12/5/2024).", "Reuters",
     "Kremlin membantah laporan itu."),
    ("Kremlin membantah laporan itu, demikian dilansir dari Al Jazeera, Selasa (13/5).", "Al Jazeera",
     "Kremlin membantah laporan itu."),
    ("Kremlin membantah laporan itu, lapor Reuters.", "Reuters", "Kremlin membantah laporan itu."),
    ("Kremlin membantah laporan itu (Reuters).", "Reuters", "Kremlin membantah laporan itu."),
    ("Kremlin membantah laporan itu, seperti dikutip dari laman BBC.", "BBC", "Kremlin membantah laporan itu."),
    ("Kremlin membantah laporan itu, demikian diberitakan Reuters pada Senin.", "Reuters",
     "Kremlin membantah laporan itu."),
    ("Kremlin membantah laporan itu (AFP/Reuters).", "AFP", "Kremlin membantah laporan itu."),
    # "menurut laporan" credits news media or an agency, not any report
    ("Menurut laporan kantor berita Interfax, Kremlin membantah laporan itu.", "Interfax",
     "Kremlin membantah laporan itu."),
    ("Berdasarkan laporan Reuters, Senin (12/5), pasukan itu tiba di Kursk.", "Reuters", "Pasukan itu tiba di Kursk."),
]  # fmt: skip

UNTOUCHED = [
    "Polisi melaporkan dua orang tewas dalam kecelakaan itu.",
    "Laporan itu dikutip dari dokumen rahasia pemerintah.",
    "Menurut Peskov, Rusia dan Korea Utara mengembangkan kerja sama di semua bidang.",
    "Presiden Ukraina Volodymyr Zelensky dalam unggahan di Telegram menyebut dunia harus bereaksi.",
    "PBB melaporkan dua orang tewas dalam serangan itu.",
    "Shoigu (68) menjabat sebagai Menhan sejak 2012 lalu.",
    "Dikutip dari dokumen rahasia, pasukan itu tiba di Kursk.",
    "Mengutip pernyataan Kremlin, Peskov membantah laporan itu.",
    "Menurut laporan PBB, dua orang tewas dalam serangan itu.",
    "Berdasarkan laporan itu, pasukan tiba di Kursk pada Senin.",
    "Pasukan itu tiba di Kursk pada Rabu.",
]


@pytest.mark.parametrize(("sentence", "stated", "rest"), CASES)
def test_credit_is_found_and_left_out(sentence: str, stated: str, rest: str) -> None:
    credit = find_credit(sentence)
    assert credit is not None and credit.stated == stated
    assert without_credit(sentence) == rest


@pytest.mark.parametrize("sentence", UNTOUCHED)
def test_sentences_without_a_newsroom_credit_are_untouched(sentence: str) -> None:
    assert find_credit(sentence) is None
    assert without_credit(sentence) == sentence


def test_a_sentence_that_is_only_a_credit_is_kept_whole() -> None:
    assert without_credit("Demikian dilansir Reuters.") == "Demikian dilansir Reuters."


def _cands(*outlets: str) -> list[Candidate]:
    return [Candidate(SourceUnit(i, i, SourceDoc(f"https://x.example/{i}", o, "en", "", None), 0, 0, 0, 4, "text"),
                      cosine=0.9 - i / 100, margin=0.0) for i, o in enumerate(outlets)]  # fmt: skip


@pytest.mark.parametrize(
    ("sentence", "credited"),
    [
        ("Pesawat itu jatuh di Amur, seperti dilansir TASS.", [True, False, True]),
        ("Kantor berita Rusia, TASS, melaporkan bahwa tidak ada korban selamat.", [True, False, True]),
        ("Pesawat itu jatuh di Amur, dikutip dari kantor berita Tas.", [True, False, True]),  # garbled
        ("Pesawat itu jatuh di Amur, seperti dilansir BBC.", [False, True, False]),  # the index says "bbc"
        ("Area itu masih terbakar, kata Reuters.", [False, False, False]),  # a speaker cue, not an outlet's credit
        ("Pesawat itu jatuh di Amur.", [False, False, False]),
    ],
)
def test_candidates_of_the_credited_outlet_are_marked(sentence: str, credited: list[bool]) -> None:
    out = with_credits([sentence], [_cands("TASS", "bbc", "TASS")], OutletTable.load())
    assert [c.credited for c in out[0]] == credited


@pytest.mark.parametrize(
    ("sentence", "also"),
    [
        ("Kremlin membantah laporan itu, seperti dilansir Reuters dan AFP.", ("AFP",)),
        ("Kremlin membantah laporan itu (AFP/Reuters/AP).", ("Reuters", "AP")),
        ("Dilansir dari BBC dan CNN, Kremlin membantah laporan itu.", ("CNN",)),
        ("Kremlin membantah laporan itu, seperti dilansir Reuters.", ()),
    ],
)
def test_a_credit_may_name_more_than_one_outlet(sentence: str, also: tuple[str, ...]) -> None:
    credit = find_credit(sentence)
    assert credit is not None and credit.also == also
    assert without_credit(sentence) == "Kremlin membantah laporan itu."


def test_candidates_of_every_credited_outlet_are_marked() -> None:
    out = with_credits(["Pesawat itu jatuh di Amur, seperti dilansir TASS dan BBC."], [_cands("TASS", "bbc", "Reuters")],
                       OutletTable.load())  # fmt: skip
    assert [c.credited for c in out[0]] == [True, True, False]


def test_a_syndicated_copy_of_the_credited_agency_is_marked_too() -> None:
    cands = _cands("NDTV (AFP)", "AFP", "Lao Dong (English edition)", "Japan Today (Reuters)")
    out = with_credits(["Pesawat itu jatuh di Amur, dikutip dari AFP."], [cands], OutletTable.load())
    assert [c.credited for c in out[0]] == [True, True, False, False]
    table = OutletTable.load()
    assert table.speaks_for("lifelines.name (VZGLYAD)") == {"lifelines.name (VZGLYAD)", "VZGLYAD"}
    # a credit to an agency the index names only in brackets resolves to it
    known = ["lifelines.name (VZGLYAD)", "Lao Dong (English edition)"]
    assert table.resolve("VZGLYAD", known) == "VZGLYAD" and table.resolve("Vzglyad.ru", known) == "VZGLYAD"
    assert table.resolve("English", known) is None
