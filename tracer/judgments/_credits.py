"""Credits that Indonesian newsrooms add to a translated sentence ("..., seperti dilansir
Reuters.", "Media Inggris The Guardian melaporkan ..."). They are not part of the original,
so they are left out of the text that is embedded and matched; the report keeps the sentence
as written."""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = r"[A-Z0-9][\w&'’-]*(?:\.[\w&'’-]+)*"  # inner dots only: "KOMPAS.com", not a final period
_NAME = rf"{_WORD}(?:\s+(?:{_WORD}|of|de|al)){{0,4}}"
_PLACE = r"(?:Inggris|Rusia|Amerika(?:\s+Serikat)?|AS|Ukraina|Korea\s+Selatan|Korea\s+Utara|Jepang|China|Prancis|Jerman|Qatar|asing|Barat)"
_MEDIA = (
    rf"(?:media|harian|surat\s+kabar|kantor\s+berita|situs(?:\s+(?:berita|resmi))?|laman(?:\s+resmi)?|"
    rf"portal(?:\s+berita)?|stasiun\s+televisi|televisi)(?:\s+{_PLACE})?"
)
_VERB = r"(?:melaporkan|memberitakan|menyebutkan|menulis|mewartakan)"

# "..., seperti dilansir X." / "..., dikutip dari X, Kamis (14/8)." / "..., tulis X." /
# "..., seperti dilaporkan X pada Senin (12/5/2024)." / "..., demikian diberitakan X pada Senin." /
# "..., demikian dilansir X." at the end.
_DAY = r"(?:Senin|Selasa|Rabu|Kamis|Jumat|Jum'at|Sabtu|Minggu)"
_DATED = rf"(?:\s*,?\s*(?:pada\s+)?{_DAY}(?:\s*\([\d/.\s-]+\))?)?"
_CITED = r"(?:di)?(?:lansir|kutip|laporkan|beritakan|wartakan)(?:\s+(?:dari|oleh))?"
"""dilansir (dari), dikutip (dari), dilaporkan (oleh), diberitakan, diwartakan"""
_NAMED = rf"(?P<name>{_NAME})(?:\s+dan\s+(?P<also>{_NAME}))?"
"""One outlet or two: "dilansir Reuters dan AFP"."""
_TRAILING = re.compile(
    rf"""\s*,?\s*(?:yang\s+)?(?:(?:seperti|sebagaimana|demikian)\s+)?
        (?:{_CITED}|tulis|lapor)\s+(?:{_MEDIA}\s+)?{_NAMED}{_DATED}\s*(?=[.!?]?["”»]?\s*$)""",
    re.VERBOSE,
)
_AGENCIES = r"(?:TASS|RIA(?:\s+Novosti)?|AFP|AP|Reuters|BBC|CNN|DPA|EFE|ANSA|UPI|NHK|Xinhua|Yonhap|Interfax|Bloomberg)"
# "Dilansir dari X, ..." / "Seperti dikutip dari X, Senin (12/5), ..." / "Melansir X, ..." /
# "Mengutip X, ..." at the start: the commonest credit of Indonesian news. Also "Menurut laporan
# X, ..." / "Berdasarkan laporan X, ..." when X is named as news media or is a news agency
# ("Menurut laporan PBB, ..." is a claim about a report that the original states too).
_OPENING = re.compile(
    rf"""^(?:
        (?i:(?:seperti|sebagaimana)\s+)?
        (?i:{_CITED}|(?:melansir|mengutip)(?:\s+dari)?)\s+(?:(?i:{_MEDIA})\s+)?{_NAMED}
      | (?i:(?:menurut|berdasarkan)\s+laporan)\s+(?:(?i:{_MEDIA})\s+(?P<outlet>{_NAME})|(?P<acronym>{_AGENCIES}))
    ){_DATED}\s*,\s+""",
    re.VERBOSE,
)
# "... itu (Reuters)." / "... itu (AFP/Reuters)." at the end: only news agencies' names in
# brackets ("(68)" is an age)
_BRACKETED = re.compile(rf"\s*\((?P<acronym>{_AGENCIES})(?P<also>(?:\s*/\s*{_AGENCIES})*)\)\s*(?=[.!?]?[\"”»]?\s*$)")
# "Media Inggris The Guardian melaporkan(, bahwa) ..." / "Kantor berita Rusia, TASS, memberitakan ..." /
# "Dalam laporan lainnya, TASS juga memberitakan ..." at the start (a bare name only when it is a news agency:
# "Polisi melaporkan ..." is a claim, not a credit).
_LEADING = re.compile(
    rf"""^(?:(?i:dalam\s+laporan\s+(?:lainnya|lain|terpisah|terbarunya)),\s+)?
        (?:(?i:{_MEDIA}),?\s+(?P<name>{_NAME})|(?P<acronym>{_AGENCIES})),?
        \s+(?:juga\s+)?{_VERB}(?:\s*,)?(?:\s+bahwa)?\s+""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Credit:
    """A credit phrase in a sentence: its span and the outlet name as written."""

    start: int
    end: int
    stated: str
    also: tuple[str, ...] = ()
    """Further outlets the same credit names, as written ("Reuters dan AFP", "(AFP/Reuters)")."""


def find_credit(sentence: str) -> Credit | None:
    for pattern in (_TRAILING, _OPENING, _LEADING, _BRACKETED):
        m = pattern.search(sentence)
        if m:
            named = m.groupdict()
            stated = named.get("name") or named.get("outlet") or named["acronym"]
            also = tuple(n.strip() for n in (named.get("also") or "").split("/") if n.strip())
            return Credit(start=m.start(), end=m.end(), stated=stated, also=also)
    return None


_DANGLING = re.compile(r',(["”»])([.!?])$')


def without_credit(sentence: str) -> str:
    """The sentence minus its credit phrase (unchanged when it has none or would become empty)."""
    credit = find_credit(sentence)
    if credit is None:
        return sentence
    rest = (sentence[: credit.start] + sentence[credit.end :]).strip()
    rest = _DANGLING.sub(r"\2\1", rest)  # '"... penumpang,".' once "tulis TASS" is gone
    if len(rest.split()) < 3:
        return sentence
    return rest[0].upper() + rest[1:]


# Credits that name a source inside the sentence, newsroom-added or not.
_STOP = r"(?=\s+(?:kepada|dalam|di|pada|saat|ketika|seperti|sebagaimana|bahwa|yang)\b|\s*[,.;:!?\"”»]|\s*$)"
_MENGUTIP = re.compile(rf"(?i:\b(?:mengutip|melansir|mengacu\s+pada)\s+)(?P<name>(?:{_MEDIA}\s+)?{_NAME}){_STOP}")
_MENURUT = re.compile(
    rf"(?i:\bmenurut\s+)(?P<name>(?:(?i:laporan|keterangan|pernyataan|data)\s+)?[^,.;:!?\"”»]+?){_STOP}"
)
_SPEAKER = re.compile(
    rf"""(?:^|[,\"”»]\s*|\s)(?i:kata|ujar|ungkap|tutur|jelas|tegas|imbuh|tambah)\s+(?P<name>[^,.;:!?\"”»]+?){_STOP}""",
    re.VERBOSE,
)
# "Telegram mengatakan ...", "jubir Kremlin Dmitry Peskov menyebut, ...": a speaker before a verb
# of saying (the verb-first order, "kata X", is _SPEAKER's). It attributes the claim, but is no
# credit to check: reports would list every such sentence as "credits a speaker".
_SAID = r"(?:mengatakan|menyatakan|menyebut|berkata|menegaskan|menjelaskan|mengungkapkan|menuturkan|mengklaim|beralasan|menambahkan|mengakui|membantah|memperingatkan|mengumumkan)"
_SUBJECT = re.compile(rf"(?P<name>{_WORD}(?:\s+{_WORD}){{0,7}})\s+(?:juga\s+|pun\s+)?{_SAID}\b")
_AGENCY = re.compile(
    rf"(?i:\b(?:kantor\s+berita|media|harian|surat\s+kabar|situs(?:\s+berita)?)(?:\s+{_PLACE})?\s+)(?!{_PLACE}\b)(?P<name>{_NAME})"
)
_PRONOUN = re.compile(r"^(?i:dia|ia|mereka|beliau|kami|saya|aku|kita|pihaknya|sumber(?:\s+itu)?)$")


@dataclass(frozen=True)
class StatedCredit:
    """Who a sentence says the claim comes from, as written, and what kind of cue said it."""

    stated: str
    cue: str
    """``outlet`` (dilansir, dikutip dari, mengutip, media X, kantor berita X), ``speaker``
    (kata, ujar, ...) or ``either`` (menurut X)."""
    start: int
    end: int
    also: tuple[str, ...] = ()
    """Further outlets a newsroom credit names ("dilansir Reuters dan AFP")."""


def find_attribution(sentence: str) -> StatedCredit | None:
    """The sentence's credit: a newsroom credit first, then a named outlet, then a speaker."""
    credit = find_credit(sentence)
    if credit is not None:
        return StatedCredit(credit.stated, "outlet", credit.start, credit.end, credit.also)
    for pattern, cue in ((_MENGUTIP, "outlet"), (_AGENCY, "outlet"), (_MENURUT, "either"), (_SPEAKER, "speaker")):
        m = pattern.search(sentence)
        if m and m.group("name").strip() and not _PRONOUN.match(m.group("name").strip()):
            name = m.group("name").strip()
            return StatedCredit(name, cue, m.start("name"), m.start("name") + len(name))
    return None


def attributed(sentence: str) -> bool:
    """Whether the sentence says who the claim comes from: a credit, or a named speaker before
    or after a verb of saying ("Telegram mengatakan ...")."""
    if find_attribution(sentence) is not None:
        return True
    return any(not _PRONOUN.match(m.group("name")) for m in _SUBJECT.finditer(sentence))
