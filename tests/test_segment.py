"""Segmentation on real-looking news text in all four languages; each case lists the exact sentences."""

from __future__ import annotations

import pytest

from tracer import segment

CASES = [
    # Indonesian: datelines, abbreviations, initials, thousands with dots, quotes, boilerplate.
    (
        "id",
        "JAKARTA, KOMPAS.com - Presiden Joko Widodo mengatakan 1.500 orang dievakuasi. Dr. A. Budi tiba di Jl. Sudirman pukul 10.00 WIB.",
        [
            "Presiden Joko Widodo mengatakan 1.500 orang dievakuasi.",
            "Dr. A. Budi tiba di Jl. Sudirman pukul 10.00 WIB.",
        ],
    ),
    ("id", "TRIBUNNEWS.COM – Kremlin menolak tuduhan itu.", ["Kremlin menolak tuduhan itu."]),
    ("id", "Jakarta (ANTARA) - Pemerintah menyatakan siap membantu.", ["Pemerintah menyatakan siap membantu."]),
    # the other newsrooms' datelines: outlet before the city, an outlet without a domain, detik's bare city
    ("id", "Liputan6.com, Jakarta - Kremlin menolak tuduhan itu.", ["Kremlin menolak tuduhan itu."]),
    ("id", "TEMPO.CO, Jakarta - Kremlin menolak tuduhan itu.", ["Kremlin menolak tuduhan itu."]),
    ("id", "Jakarta, CNN Indonesia -- Kremlin menolak tuduhan itu.", ["Kremlin menolak tuduhan itu."]),
    ("id", "Jakarta, CNBC Indonesia - Kremlin menolak tuduhan itu.", ["Kremlin menolak tuduhan itu."]),
    ("id", "Moskow - “Kami menolak,” kata Peskov.", ["“Kami menolak,” kata Peskov."]),
    # ... and what only looks like one
    (
        "id",
        "Putin Pecat Shoigu\nJakarta - Kremlin menolak tuduhan itu.\nRusia - Ukraina berunding.",
        ["Putin Pecat Shoigu", "Kremlin menolak tuduhan itu.", "Rusia - Ukraina berunding."],
    ),
    ("id", "Namun, NATO - yang dipimpin AS - menolak.", ["Namun, NATO - yang dipimpin AS - menolak."]),
    ("id", "Namun, NATO - Amerika menolak.", ["Namun, NATO - Amerika menolak."]),
    (
        "id",
        "“Kami tidak tahu,” katanya. “Ya!” seru dia.\nBaca juga: Gempa Magnitudo 5,6 Guncang Aceh\nHarga naik Rp 1.200 per liter.",
        ["“Kami tidak tahu,” katanya.", "“Ya!” seru dia.", "Harga naik Rp 1.200 per liter."],
    ),
    (
        "id",
        "Menurut Kol. Inf. Yudi, dll. semua aman.\nEditor: Sandro Gatra\nSimak breaking news pilihan kami di WhatsApp.",
        ["Menurut Kol. Inf. Yudi, dll. semua aman."],
    ),
    ("id", "Ikuti berita kami di Google News.\nADVERTISEMENT\nSCROLL TO CONTINUE WITH CONTENT", []),
    # pasted from a news page: embeds, syndication footers, an editor's initials, page furniture
    (
        "id",
        "[Gambas:Video 20detik]\nKremlin membantah laporan itu. (ant/wsn)\nSimak Video 'Putin Pecat Shoigu':\n"
        'Artikel ini telah tayang di Kompas.com dengan judul "Pesawat AN-24 Jatuh".\nHalaman selanjutnya\n'
        "Dapatkan update berita pilihan dan breaking news setiap hari dari Kompas.com.\nLihat Foto\n"
        "Copyright 2024 Kompas.com\nArtikel ini membahas serangan itu. Lihat videonya di situs kami.",
        ["Kremlin membantah laporan itu.", "Artikel ini membahas serangan itu.", "Lihat videonya di situs kami."],
    ),
    # photo credits (a line, or in brackets after a caption), tags, share and listen buttons
    (
        "id",
        "Putin memecat Shoigu. (Foto: AP Photo/Alexander Zemlianichenko)\nKOMPAS.com/ADITYA JAYA\nDok. Reuters\n"
        "Dengarkan artikel ini\nScroll untuk melanjutkan\nBagikan\nTag: Rusia, Shoigu\nInfografis: Menhan Baru\n"
        "Cek Berita dan Artikel yang lain di Google News\nSaksikan Live DetikPagi:\nDokumentasi rapat itu beredar.",
        ["Putin memecat Shoigu.", "Dokumentasi rapat itu beredar."],
    ),
    # an agency in brackets after the sentence is its credit, not an editor's initials
    ("id", "Kremlin membantah laporan itu, kata dia. (AFP)", ["Kremlin membantah laporan itu, kata dia. (AFP)"]),
    # English: titles, initials, U.S., month abbreviations, datelines.
    (
        "en",
        "WASHINGTON — The U.S. said Mr. Kim met Gen. J.D. Vance on Jan. 5. It was a short meeting.",
        ["The U.S. said Mr. Kim met Gen. J.D. Vance on Jan. 5.", "It was a short meeting."],
    ),
    (
        "en",
        "KYIV, Ukraine (AP) — Ukraine’s military said on Monday that 1,500 troops had arrived.\nRead more: What we know",
        ["Ukraine’s military said on Monday that 1,500 troops had arrived."],
    ),
    # Russian: RIA dateline, initials, т.е., млн., г., «» quotes.
    (
        "ru",
        "МОСКВА, 25 ноя — РИА Новости. В. Зеленский заявил, что т.е. 5 млн. человек уехали. В 2024 г. Путин сказал: «Мы не знаем».",
        ["В. Зеленский заявил, что т.е. 5 млн. человек уехали.", "В 2024 г. Путин сказал: «Мы не знаем»."],
    ),
    (
        "ru",
        "«Мы видели эти сообщения», — сказал Песков. Читайте также: Кремль ответил Сеулу",
        ["«Мы видели эти сообщения», — сказал Песков."],
    ),
    # a bare city before a dash is a dateline in Indonesian articles only
    ("ru", "Москва - столица России.", ["Москва - столица России."]),
    # Ukrainian: initials, тис., a sentence ending with обл.
    (
        "uk",
        "КИЇВ — Глава ГУР К. Буданов заявив, що понад 10 тис. військових прибули до Курської обл. Це підтвердили в Сеулі.",
        [
            "Глава ГУР К. Буданов заявив, що понад 10 тис. військових прибули до Курської обл.",
            "Це підтвердили в Сеулі.",
        ],
    ),
]


@pytest.mark.parametrize(("lang", "text", "expected"), CASES)
def test_sentences(lang: str, text: str, expected: list[str]) -> None:
    assert [s.text for s in segment(text, lang)] == expected


@pytest.mark.parametrize(("lang", "text", "expected"), CASES)
def test_offsets_point_into_the_original(lang: str, text: str, expected: list[str]) -> None:
    for s in segment(text, lang):
        assert text[s.start : s.end] == s.text


def test_hard_wrapped_lines_are_joined() -> None:
    text = "Pemerintah Indonesia menyatakan siap membantu\nwarga yang terdampak banjir. Bantuan tiba besok."
    assert [s.text for s in segment(text, "id")] == [
        "Pemerintah Indonesia menyatakan siap membantu warga yang terdampak banjir.",
        "Bantuan tiba besok.",
    ]


def test_paragraphs_are_numbered() -> None:
    sentences = segment("Satu dua tiga.\n\nEmpat lima enam. Tujuh delapan.", "id")
    assert [s.paragraph for s in sentences] == [0, 1, 1]
