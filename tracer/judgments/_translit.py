"""Cyrillic to Latin, and name skeletons that absorb the usual transliteration variants
(Dmitry / Dmitriy / Dmitrij, Zelensky / Zelenskyi), so names can be compared across scripts
without hiding real differences (Krylo / Kyrylo, Jong-hyun / Yong-hyun)."""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from functools import lru_cache

_COMMON = {
    "а": "a", "б": "b", "в": "v", "д": "d", "е": "e", "ё": "yo", "ж": "zh", "з": "z", "й": "y", "к": "k",
    "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f",
    "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
    "я": "ya", "і": "i", "ї": "yi", "є": "ye", "ґ": "g",
}  # fmt: skip
_RU = {**_COMMON, "г": "g", "и": "i"}
_UK = {**_COMMON, "г": "h", "и": "y"}
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def has_cyrillic(text: str) -> bool:
    return bool(_CYRILLIC.search(text))


def to_latin(text: str, lang: str = "ru") -> str:
    """Cyrillic letters to Latin (Ukrainian rules for ``uk``: г -> h, и -> y); the rest unchanged."""
    table = _UK if lang == "uk" else _RU
    out = []
    for ch in text:
        low = ch.lower()
        if low in table:
            latin = table[low]
            out.append(latin.capitalize() if ch != low and latin else latin)
        else:
            out.append(ch)
    return "".join(out)


def fold(text: str) -> str:
    """Lowercase ASCII-ish form: accents stripped, Cyrillic transliterated."""
    text = to_latin(text)
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()


@lru_cache(maxsize=1 << 16)  # a pure function of short strings, met thousands of times per article
def skeleton(name: str, lang: str = "ru") -> str:
    """A name reduced to what survives any usual romanization: y/i merged, doubled letters
    collapsed, kh -> h, hyphens and apostrophes dropped."""
    s = fold(to_latin(name, lang))
    s = re.sub(r"[^a-z]", "", s)
    s = s.replace("kh", "h").replace("y", "i")
    return re.sub(r"(.)\1+", r"\1", s)


def skeletons_match(sa: str, sb: str, ending: int = 2) -> bool:
    """Two skeletons are one name: equal, or one is the other plus a case ending of at most
    ``ending`` letters (Буданов / Буданова)."""
    if sa == sb:
        return True
    short, long_ = sorted((sa, sb), key=len)
    return len(short) >= 4 and long_.startswith(short) and len(long_) - len(short) <= ending


def same_name(a: str, b: str, lang: str = "ru") -> bool:
    """Equal up to transliteration, or up to a Slavic case ending (Буданов / Буданова). A
    Ukrainian text's name is also read by Russian rules: Ukrainian writes Russians' names in its
    own letters (Шойгу, Сергій Шойгу: "Shoihu" by Ukrainian rules), which Indonesian articles
    take from the Russian form ("Shoigu")."""
    if skeletons_match(skeleton(a, lang), skeleton(b, lang)):
        return True
    return lang == "uk" and skeletons_match(skeleton(a, "ru"), skeleton(b, "ru"))


def similarity(a: str, b: str, lang: str = "ru") -> float:
    return SequenceMatcher(None, skeleton(a, lang), skeleton(b, lang)).ratio()
