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
]

UNTOUCHED = [
    "Polisi melaporkan dua orang tewas dalam kecelakaan itu.",
    "Laporan itu dikutip dari dokumen rahasia pemerintah.",
    "Menurut Peskov, Rusia dan Korea Utara mengembangkan kerja sama di semua bidang.",
    "Presiden Ukraina Volodymyr Zelensky dalam unggahan di Telegram menyebut dunia harus bereaksi.",
    "PBB melaporkan dua orang tewas dalam serangan itu.",
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
