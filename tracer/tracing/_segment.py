"""Sentence segmentation for Indonesian articles and English/Russian/Ukrainian sources.

blingfire does the splitting (best of four segmenters measured on NTREX: see README);
the rules here repair what it gets wrong on news text: initials (``В. Зеленский``),
abbreviations (``Jl.``, ``т.е.``, ``млн.``), datelines (``JAKARTA, KOMPAS.com -``,
``МОСКВА, 25 ноя - РИА Новости.``) and boilerplate lines (``Baca juga: ...``, ``[Gambas:Video
20detik]``, ``Artikel ini telah tayang di ...``, an editor's initials such as ``(ant/wsn)``).
Offsets always point into the original text so reports can cite exact spans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import blingfire

SEGMENTER_ID = "blingfire-0.1.8+tracer-rules-3"
"""Recorded in every index: changing the rules changes the sentences, so the index must know."""


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int
    paragraph: int


_ABBREVIATIONS = {
    "id": {"dr", "drs", "dra", "ir", "h", "hj", "prof", "jl", "jln", "no", "tel", "telp", "kab", "kec", "kel",
           "sdr", "sdri", "bpk", "yth", "dll", "dsb", "dst", "tsb", "pt", "tbk", "rp", "kol", "letjen", "mayjen",
           "brigjen", "jend", "kapt", "kompol", "akbp", "ipda", "iptu", "aiptu", "bripka", "kombes", "irjen",
           "st", "sh", "mh", "mm", "msi", "se", "spd", "ak", "ust", "kh", "nn", "ny", "tn", "a.n", "u.p", "s.h",
           "m.h", "m.si", "s.e", "s.pd", "km", "kg", "gr", "hlm", "ed", "red", "dkk", "sbb", "mis"},
    "en": {"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "gen", "lt", "col", "sgt", "capt", "cmdr", "adm",
           "gov", "sen", "rep", "rev", "hon", "pres", "u.s", "u.k", "u.n", "e.g", "i.e", "no", "nos", "vs", "v",
           "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "approx", "dept",
           "est", "fig", "mt", "ft", "mins", "a.m", "p.m"},
    "ru": {"т.е", "т.д", "т.п", "т.к", "т.н", "т.ч", "др", "пр", "г", "гг", "ул", "им", "млн", "млрд", "трлн",
           "тыс", "руб", "коп", "ст", "см", "рис", "проф", "акад", "ген", "св", "пос", "просп", "д", "кв",
           "стр", "т", "н.э", "до н.э", "в т.ч", "напр", "англ", "тел", "чел", "км", "кг", "мин", "сек", "ч",
           "долл", "зам", "ред", "пер", "р-н", "гос"},
    "uk": {"т.зв", "т.б", "т.д", "т.п", "тис", "млн", "млрд", "трлн", "грн", "коп", "вул", "р", "рр", "ім", "проф",
           "див", "м", "с", "ст", "пп", "акад", "ген", "св", "напр", "англ", "тел", "км", "кг", "хв", "год",
           "дол", "заст", "ред", "пров", "просп", "смт", "н.е", "до н.е", "т.ч", "у т.ч"},
}  # fmt: skip
_ALL_ABBREVIATIONS = set().union(*_ABBREVIATIONS.values())

_UPPER = "A-ZА-ЯЁІЇЄҐ"
_INITIAL_END = re.compile(rf"(?:^|[\s(«“\"'])[{_UPPER}]\.$")
_LAST_TOKEN = re.compile(r"([\w.\-]+)\.$")
_STARTS_LOWER = re.compile(r"^[\s\"'“«(]*[a-zа-яёіїєґ]")

_INITIALS = r"\(\s*[a-z]{2,5}(?:\s*/\s*[a-z]{2,5})*\s*\)"
"""An editor's initials, "(ant/wsn)", "(red)": in lower case ("(AFP)" is an agency's credit)."""
# Lines that are navigation or credits, never claims: dropped before segmentation.
_BOILERPLATE = re.compile(
    rf"""^\s*(?:
        (?:baca|simak|lihat|tonton|saksikan)\s+(?:juga|pula|selengkapnya|berita)\b.*
      | (?:read|see|watch)\s+(?:more|also)\b\s*[:：].*
      | (?:также\s+читайте|читайте\s+также|читайте\s+тоже|смотрите\s+также|читайте\s+також|дивіться\s+також|також\s+читайте)\b.*
      | (?:editor|penulis|reporter|pewarta|penyunting|sumber|foto|photo|video|grafis|caption|copyright)\s*[:：].*
      | (?:advertisement|iklan|scroll\s+to\s+continue(?:\s+with\s+content)?|реклама)\s*
      | (?:ikuti|follow|simak|gabung|dapatkan|klik|join|cek)\b.*\b(?:google\s+news|whatsapp|telegram|instagram|twitter|facebook|youtube)\b.*
      | \(\s*(?:foto|photo|dok(?:umentasi)?|sumber|ilustrasi)\s*[:：.][^()]{{1,100}}\)
      | dok\.\s+[\w /.&-]{{1,40}}|[\w-]+\.(?:com|co\.id|id)/[\w /.'’-]{{1,40}}
      | (?:tags?|topik|kata\s+kunci|infografi[sk])\s*[:：].*
      | (?:scroll|gulir)\s+(?:untuk|ke\s+bawah)\b.*|dengarkan\s+(?:artikel|berita)\b.*|saksikan\s+live\b.*
      | (?:bagikan|share|komentar|terpopuler|berita\s+terkini)\s*[:：]?
      | \[gambas:[^\]]*\]
      | (?:simak|tonton|saksikan|lihat)\s+(?:juga\s+)?video\b.*
      | artikel\s+ini\s+(?:telah|sudah)\s+(?:tayang|terbit|dimuat)\s+di\b.*
      | dapatkan\s+(?:update|info(?:rmasi)?|berita)\s+(?:berita\s+)?(?:pilihan|terkini|terbaru|menarik)\b.*
      | (?-i:{_INITIALS})
      | (?:halaman|artikel)\s+(?:selanjutnya|berikutnya|sebelumnya)|pilihan\s+untuk\s+anda|lihat\s+foto
      | (?:berita|artikel)\s+terkait\s*[:：]?
      | (?:copyright|hak\s+cipta)\b.*|©.*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)

# Datelines at the start of a paragraph: "JAKARTA, KOMPAS.com - ", "TRIBUNNEWS.COM – ",
# "Liputan6.com, Jakarta - ", "TEMPO.CO, Jakarta - ", "Jakarta, CNN Indonesia -- ",
# "Jakarta (ANTARA) - ", "KYIV, Ukraina (AP) — ", "LONDON (Reuters) - ", "WASHINGTON — ",
# "МОСКВА, 25 ноя — РИА Новости. ", "КИЇВ, 25 листопада — "; in Indonesian also detik's "Jakarta - ".
_DASH = r"[-–—]{1,2}"
_DOMAIN = r"[\w-]+(?:\.[\w-]+)*\.(?i:com|co\.id|co|id|net|org|tv|ru|ua)"
_DATELINE = re.compile(
    rf"""^(?:
        (?:[{_UPPER}][\w.'’ -]{{1,30}},\s*)?{_DOMAIN}\s*{_DASH}\s+
      | {_DOMAIN},\s*[{_UPPER}][\w.'’ -]{{1,30}}?\s*{_DASH}\s+(?=[{_UPPER}"“])
      | [{_UPPER}][\w.'’ -]{{1,30}},\s*[{_UPPER}]{{2,}}\w*(?:\s+Indonesia\s*{_DASH}|(?:\s+[{_UPPER}]\w+){{0,2}}\s*--)\s+(?=[{_UPPER}"“])
      | [{_UPPER}][\w.'’ -]{{1,30}}(?:,\s*[\w .'’-]{{2,30}})?\s*\([\w .,/'’-]{{2,30}}\)\s*{_DASH}\s+
      | [{_UPPER}][{_UPPER}.'’ -]{{2,30}},\s*\d{{1,2}}\s+[\w.]{{3,10}}\s*{_DASH}\s*(?:[{_UPPER}][\w-]*(?:\s+[{_UPPER}][\w-]*){{0,3}}\.\s+)?
      | [{_UPPER}][{_UPPER}'’-]{{2,}}(?:[ /][{_UPPER}][{_UPPER}'’-]+){{0,3}}\s*{_DASH}\s+
    )""",
    re.VERBOSE,
)


# An editor's initials after the last sentence of a paragraph: "... itu. (ant/wsn)"
_INITIALS_AFTER = re.compile(rf"(?<=[.!?\"”»])\s*{_INITIALS}$")


# detik's dateline is a bare city: "Jakarta - Presiden ...". Only where an Indonesian
# article's text starts (after a title, before the first sentence): a later paragraph, or a
# Russian or English one, may well open "Rusia - Ukraina ..." or "Москва - столица ...".
_PLACE_DATELINE = re.compile(rf"^[{_UPPER}][\w’'-]{{2,20}}\s+[-–—]{{1,2}}\s+(?=[{_UPPER}\"“])")


def strip_dateline(paragraph: str, at_start: bool = False) -> int:
    """Length of a leading dateline (0 if none), so the first sentence starts at the claim;
    ``at_start``: the paragraph opens an Indonesian article's text, where a bare city counts."""
    m = _DATELINE.match(paragraph) or (_PLACE_DATELINE.match(paragraph) if at_start else None)
    return m.end() if m else 0


def is_boilerplate(line: str) -> bool:
    return bool(_BOILERPLATE.match(line))


def _ends_with_abbreviation(fragment: str, abbreviations: set[str]) -> bool:
    if _INITIAL_END.search(fragment):
        return True
    m = _LAST_TOKEN.search(fragment)
    return bool(m) and m.group(1).lower().lstrip("(«“\"'") in abbreviations


def _paragraphs(text: str) -> list[tuple[int, int]]:
    """Spans of paragraphs: one per line, except hard-wrapped lines that continue a sentence."""
    spans: list[tuple[int, int]] = []
    for m in re.finditer(r"[^\n]+", text):
        start, end = m.start(), m.end()
        line = m.group()
        if not line.strip():
            continue
        if spans and _STARTS_LOWER.match(line) and not re.search(r"[.!?…:\"”»]\s*$", text[spans[-1][0] : spans[-1][1]]):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def segment(text: str, lang: str | None = None) -> list[Sentence]:
    """Split ``text`` into sentences, dropping datelines and boilerplate lines."""
    abbreviations = _ABBREVIATIONS.get(lang or "", _ALL_ABBREVIATIONS)
    sentences: list[Sentence] = []
    begun = False  # a sentence has ended: the article's text has begun (a title has no period)
    for p_index, (p_start, p_end) in enumerate(_paragraphs(text)):
        raw = text[p_start:p_end]
        if is_boilerplate(raw):
            continue
        skip = strip_dateline(raw, at_start=lang == "id" and not begun)
        body = raw[skip:].replace("\n", " ")
        if not body.strip():
            continue
        _, offsets = blingfire.text_to_sentences_and_offsets(body)
        merged: list[tuple[int, int]] = []
        for start, end in offsets:
            if merged and (
                _ends_with_abbreviation(body[merged[-1][0] : merged[-1][1]], abbreviations)
                or _STARTS_LOWER.match(body[start:end])
            ):
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        for start, end in merged:
            chunk = _INITIALS_AFTER.sub("", body[start:end].rstrip())
            lead = len(chunk) - len(chunk.lstrip())
            chunk = chunk.strip()
            if not re.search(r"\w{2,}", chunk) or is_boilerplate(chunk):
                continue
            a = p_start + skip + start + lead
            sentences.append(Sentence(text=" ".join(chunk.split()), start=a, end=a + len(chunk), paragraph=p_index))
            begun = begun or chunk[-1] in '.!?"”'
    return sentences
