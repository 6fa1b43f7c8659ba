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
    rf"(?:media|harian|surat\s+kabar|kantor\s+berita|situs(?:\s+berita)?|stasiun\s+televisi|televisi)(?:\s+{_PLACE})?"
)
_VERB = r"(?:melaporkan|memberitakan|menyebutkan|menulis|mewartakan)"

# "..., seperti dilansir X." / "..., dikutip dari X." / "..., sebagaimana diberitakan X." at the end.
_TRAILING = re.compile(
    rf"""\s*,?\s*(?:(?:seperti|sebagaimana)\s+)?
        (?:di)?(?:lansir|kutip|laporkan|beritakan|wartakan)(?:\s+(?:dari|oleh))?
        \s+(?:{_MEDIA}\s+)?(?P<name>{_NAME})\s*(?=[.!?]?["”»]?\s*$)""",
    re.VERBOSE,
)
# "Media Inggris The Guardian melaporkan(, bahwa) ..." / "Kantor berita Rusia TASS memberitakan ..." at the start.
_LEADING = re.compile(
    rf"""^(?i:{_MEDIA})\s+(?P<name>{_NAME})\s+{_VERB}(?:\s*,)?(?:\s+bahwa)?\s+""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Credit:
    """A credit phrase in a sentence: its span and the outlet name as written."""

    start: int
    end: int
    stated: str


def find_credit(sentence: str) -> Credit | None:
    for pattern in (_TRAILING, _LEADING):
        m = pattern.search(sentence)
        if m:
            return Credit(start=m.start(), end=m.end(), stated=m.group("name"))
    return None


def without_credit(sentence: str) -> str:
    """The sentence minus its credit phrase (unchanged when it has none or would become empty)."""
    credit = find_credit(sentence)
    if credit is None:
        return sentence
    rest = (sentence[: credit.start] + sentence[credit.end :]).strip()
    if len(rest.split()) < 3:
        return sentence
    return rest[0].upper() + rest[1:]
