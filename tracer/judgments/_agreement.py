"""Lexical agreement between an Indonesian sentence and a candidate original: how many of the
sentence's names the candidate also names, across scripts (``Шойгу`` is ``Shoigu``), and how
many of its quantities it states.

Embeddings see topic and paraphrase; names tell "this sentence says that" from "this page is
about the same event but another person or place". Names are a feature of the decision
(README, "Quality"); numbers agreement as a feature did not help, but it settles which of close
candidates states the sentence's figures ("49 orang": "49 человек", not "48 people"; the judge).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from tracer.judgments._credits import without_credit
from tracer.judgments._flags import quantities
from tracer.judgments._translit import skeleton, skeletons_match

_CAPITALIZED = re.compile(r"(?<![\w])[A-ZА-ЯЁІЇЄҐ][\w'’-]{2,}")
_WORD = re.compile(r"[^\W\d_][\w'’-]{2,}")
_NOT_NAMES = {
    "the", "dalam", "pada", "dan", "yang", "ini", "itu", "menurut", "sebelum", "setelah", "saat", "sejak", "kantor",
    "presiden", "menteri", "gubernur", "juru", "bicara", "jubir", "pemerintah", "sementara", "meski", "namun",
    "senin", "selasa", "rabu", "kamis", "jumat", "sabtu", "minggu", "januari", "februari", "maret", "april", "mei",
    "juni", "juli", "agustus", "september", "oktober", "november", "desember", "pihak", "para", "mereka",
}  # fmt: skip
ENDING_SLACK = 3
"""Letters a name may gain in the original (Russian and Ukrainian case endings: Белоусова, Шойгу)."""


def query_names(sentence: str) -> set[str]:
    """Skeletons of the capitalized words of an Indonesian sentence, minus its first word and
    credit (the newsroom's, absent from the original) and common capitalized non-names."""
    text = without_credit(sentence)
    return {
        skeleton(m.group())
        for m in _CAPITALIZED.finditer(text)
        if m.start() > 0 and m.group().lower() not in _NOT_NAMES and len(skeleton(m.group())) >= 3
    }


PREFIX = 4
"""Skeletons shorter than this match only exactly (``skeletons_match``); longer ones only words
sharing their first letters, so a name is looked up among those, not among every word."""


@dataclass(frozen=True)
class _Words:
    exact: frozenset[str]
    by_prefix: dict[str, tuple[str, ...]]


def _found(name: str, words: _Words) -> bool:
    if name in words.exact:
        return True
    if len(name) < PREFIX:
        return False
    return any(skeletons_match(name, word, ENDING_SLACK) for word in words.by_prefix.get(name[:PREFIX], ()))


def name_agreement(names: set[str], original: str, lang: str) -> float:
    """Share of ``names`` (from ``query_names``) that ``original`` also contains; 0 without names."""
    if not names:
        return 0.0
    words = _skeletons(original, lang)
    return sum(_found(n, words) for n in names) / len(names)


@lru_cache(maxsize=4096)  # the same candidate passages come back for many sentences of an article
def _skeletons(text: str, lang: str) -> _Words:
    exact = frozenset(skeleton(m.group(), lang) for m in _WORD.finditer(text))
    by_prefix: dict[str, list[str]] = {}
    for word in exact:
        if len(word) >= PREFIX:
            by_prefix.setdefault(word[:PREFIX], []).append(word)
    return _Words(exact, {k: tuple(v) for k, v in by_prefix.items()})


_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")


def digits(text: str) -> set[str]:
    """Numbers written with digits, separators removed ("10.000" and "10,000" are "10000")."""
    return {re.sub(r"[.,]", "", m.group()) for m in _DIGITS.finditer(text)}


def query_quantities(sentence: str) -> frozenset[float]:
    """The quantities an Indonesian sentence states (``_flags.quantities``)."""
    return quantities(sentence, "id")


def quantity_agreement(wanted: frozenset[float], original: str, lang: str) -> int:
    """How many of ``wanted`` (from ``query_quantities``) ``original`` states too."""
    return len(wanted & _stated(original, lang)) if wanted else 0


@lru_cache(maxsize=4096)  # as _skeletons: the same passages come back for many sentences
def _stated(text: str, lang: str) -> frozenset[float]:
    return quantities(text, lang)
