"""Outlet names as written in Indonesian credits, resolved to the outlets tracer knows: the
alias table (``configs/aliases.toml``, shipped), the outlets of the index, then fuzzy matching
for garbled names."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher
from importlib import resources
from pathlib import Path

from tracer._config import read_toml
from tracer._errors import ConfigError
from tracer.judgments._translit import fold

FUZZY = 0.85
"""Similarity (difflib ratio of normalized names) from which a garbled name counts as an outlet."""
_MEDIA_WORDS = re.compile(
    r"^(?:the|media|harian|surat kabar|kantor berita|situs(?: berita)?|stasiun televisi|televisi|portal(?: berita)?|"
    r"koran|majalah|agensi berita|laman|laporan|keterangan|pernyataan)\s+"
)
_TLD = re.compile(r"\s+(?:com|ru|ua|net|org|co|uk|id)(?:\s+(?:com|ru|ua|net|org|co|uk|id))*$")
_SYNDICATED = re.compile(r"\(([^()]+)\)")
"""The agency or paper a syndicated copy names after its host: "NDTV (AFP)", "lifelines.name (VZGLYAD)"."""


def normalize(name: str) -> str:
    """casefold, Cyrillic transliterated, punctuation to spaces, "the"/media words and TLDs dropped."""
    s = re.sub(r"[^\w]+", " ", fold(name)).strip()
    while True:
        stripped = _MEDIA_WORDS.sub("", s)
        if stripped == s:
            break
        s = stripped
    return _TLD.sub("", s).strip()


@dataclass(frozen=True)
class OutletTable:
    """Normalized alias -> outlet name."""

    aliases: dict[str, str]

    @classmethod
    def load(cls, path: Path | None = None) -> OutletTable:
        path = path or _default_path()
        _, data = read_toml(path, "alias file")
        if set(data) - {"outlet"}:
            raise ConfigError(f"{path}: unknown table [{sorted(set(data) - {'outlet'})[0]}] (known: [[outlet]])")
        aliases: dict[str, str] = {}
        for i, entry in enumerate(data.get("outlet", []), start=1):
            name, names = entry.get("name"), entry.get("aliases", [])
            if set(entry) - {"name", "aliases"} or not isinstance(name, str) or not isinstance(names, list):
                raise ConfigError(f'{path}: outlet #{i} needs name = "..." and aliases = [...] and nothing else')
            for alias in [name, *names]:
                aliases.setdefault(normalize(str(alias)), name)
        return cls(aliases)

    def resolve(self, stated: str, known: Iterable[str] = ()) -> str | None:
        """The outlet a credit names, or None. ``known`` are the index's own outlet names; an
        outlet the index names otherwise than this table ("bbc" for "BBC") is given as the index
        names it, so it can be compared with the index's documents."""
        key = normalize(stated)
        if not key:
            return None
        known = list(known)
        if key in self.aliases:
            name = self.aliases[key]
            if name in known:
                return name
            return next((k for k in known if self.aliases.get(normalize(k)) == name), name)
        extra = {normalize(k): k for k in known}
        for k in known:  # an agency named only in brackets of a syndicated copy: "lifelines.name (VZGLYAD)"
            for inner in _SYNDICATED.findall(k):
                extra.setdefault(normalize(inner), inner.strip())
        extra.pop("", None)
        if key in extra:
            return extra[key]
        pool = {**{a: n for a, n in self.aliases.items() if len(a) >= 4}, **extra}
        best, score = None, 0.0
        matcher = SequenceMatcher(None, key)
        for alias, name in pool.items():
            if alias[:1] != key[:1]:  # a garbled name keeps its first letter; ABC News is not BBC News
                continue
            matcher.set_seq2(alias)
            # the cheap upper bounds first (as difflib.get_close_matches): only an alias that could
            # reach FUZZY and beat the best so far is compared in full
            if not _may_beat(matcher.real_quick_ratio(), score) or not _may_beat(matcher.quick_ratio(), score):
                continue
            ratio = matcher.ratio()
            if ratio > score:
                best, score = name, ratio
        return best if score >= FUZZY else None

    def speaks_for(self, outlet: str, known: Iterable[str] = ()) -> set[str]:
        """The outlets whose report a page of ``outlet`` carries, as ``resolve`` names them: its
        own, and that of the agency or paper in brackets of a syndicated copy ("NDTV (AFP)"
        carries AFP's report, so a sentence crediting AFP credits it too)."""
        known = list(known)
        names = {outlet}
        own = self.resolve(outlet, known)
        if own is not None:
            names.add(own)
        for inner in _SYNDICATED.findall(outlet):
            names.add(self.resolve(inner, known) or inner.strip())
        return names


def _may_beat(bound: float, best: float) -> bool:
    return bound >= FUZZY and bound > best


def _default_path() -> Path:
    env = os.environ.get("TRACER_ALIASES")
    if env:
        return Path(env)
    return Path(str(resources.files("tracer.configs").joinpath("aliases.toml")))
