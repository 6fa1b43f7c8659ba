"""A lexical channel for the gloss lever: Indonesian content words glossed to English through
FreeDict's English-Indonesian dictionary (Debian ``dict-freedict-eng-ind``), inverted.

The dictionary is dictd's format: ``.index`` lines ``headword<TAB>offset<TAB>length`` (base 64)
into the gzip-compressed ``.dict.dz``; an entry is a header line (``head /ipa/ <pos>``), then
Indonesian translations (one line, or numbered ``1. a, b`` senses) and English definitions.
"""

from __future__ import annotations

import gzip
import math
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

DICT = Path("/usr/share/dictd/freedict-eng-ind")
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_WORD = re.compile(r"[^\W\d_]{3,}")
_PREFIXES = ("memper", "meng", "meny", "mem", "men", "me", "peng", "peny", "pem", "pen", "per", "pe",
             "ber", "be", "ter", "di", "ke", "se")  # fmt: skip
_SUFFIXES = ("nya", "kan", "lah", "kah", "an", "i")
KEY = 5
"""English words match on their first five letters: "attack" / "attacked" / "attacks"."""


def _b64(text: str) -> int:
    n = 0
    for ch in text:
        n = n * 64 + _B64.index(ch)
    return n


def load_glossary(prefix: Path = DICT) -> dict[str, set[str]]:
    """Indonesian word -> English keys of the single-word headwords it translates."""
    index, data = prefix.with_suffix(".index"), prefix.with_suffix(".dict.dz")
    if not (index.is_file() and data.is_file()):
        raise SystemExit(f"FreeDict eng-ind not found at {prefix}.*: apt-get install dict-freedict-eng-ind")
    raw = gzip.decompress(data.read_bytes())
    glossary: dict[str, set[str]] = {}
    for line in index.read_text(encoding="utf-8").splitlines():
        head, off, size = line.split("\t")
        if head.startswith("00database") or " " in head or not head.isalpha():
            continue
        lines = raw[_b64(off) : _b64(off) + _b64(size)].decode("utf-8", "replace").splitlines()[1:]
        numbered = [ln for ln in lines if re.match(r"\d+\. ", ln)]
        translations = [re.sub(r"^\d+\. ", "", ln) for ln in numbered] if numbered else lines[:1]
        for part in ",".join(translations).split(","):
            word = part.strip().lower()
            if word and " " not in word:
                glossary.setdefault(word, set()).add(head.lower()[:KEY])
    return glossary


def forms(token: str) -> Iterable[str]:
    """The token, then the token with Indonesian affixes stripped (a rough stemmer)."""
    yield token
    for suffix in _SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 4:
            yield token[: -len(suffix)]
    for prefix in _PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= 4:
            stem = token[len(prefix) :]
            yield stem
            for suffix in _SUFFIXES:
                if stem.endswith(suffix) and len(stem) - len(suffix) >= 4:
                    yield stem[: -len(suffix)]


class Gloss:
    """Share of an Indonesian sentence's glossed words (idf-weighted) whose English gloss the
    candidate states."""

    def __init__(self, glossary: dict[str, set[str]], sentences: Iterable[str]) -> None:
        self.glossary = glossary
        df: Counter[str] = Counter()
        n = 0
        for text in sentences:
            n += 1
            df.update(set(_WORD.findall(text.lower())))
        self.idf = {w: math.log((n + 1) / (c + 1)) + 1 for w, c in df.items()}
        self.default_idf = math.log(n + 1) + 1
        self._cache: dict[str, list[tuple[set[str], float]]] = {}

    def glossed(self, text: str) -> list[tuple[set[str], float]]:
        if text not in self._cache:
            out = []
            for token in dict.fromkeys(_WORD.findall(text.lower())):
                keys = next((self.glossary[f] for f in forms(token) if f in self.glossary), None)
                if keys:
                    out.append((keys, self.idf.get(token, self.default_idf)))
            self._cache[text] = out
        return self._cache[text]

    def score(self, indonesian: str, english: str) -> float:
        glossed = self.glossed(indonesian)
        if not glossed:
            return 0.0
        stated = {w[:KEY] for w in _WORD.findall(english.lower())}
        total = sum(weight for _, weight in glossed)
        return sum(weight for keys, weight in glossed if keys & stated) / total
