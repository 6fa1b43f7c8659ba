"""Bytes of a fetched page to text. Russian and Ukrainian sites still serve windows-1251 or
KOI8-R, sometimes declared wrongly or not at all, so a declaration is evidence, not truth."""

from __future__ import annotations

import codecs
import re

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""")
_CYRILLIC_8BIT = ["cp1251", "koi8_r", "koi8_u", "cp866", "iso8859_5", "cp1252", "latin_1"]


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


def declared_in_document(body: bytes) -> str | None:
    """The charset a page or XML file declares about itself (``<meta charset>``, ``<?xml encoding>``)."""
    head = body[:4096]
    found = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    return found.group(1).decode("ascii") if found else None


def decode(body: bytes, declared: str | None = None) -> tuple[str, str]:
    """``(text, codec)``. Order: a BOM; valid UTF-8 (an 8-bit Cyrillic page is practically never
    valid UTF-8, so this also overrules a wrong 8-bit declaration); the HTTP header's charset and
    then the document's own, if they decode cleanly; finally detection by charset_normalizer."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if body.startswith(bom):
            return body.decode(name, errors="replace").lstrip("\ufeff"), name
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    declared_codecs = [c for c in (_codec(declared), _codec(declared_in_document(body))) if c and c != "utf-8"]
    from charset_normalizer import from_bytes

    matches = {
        _codec(m.encoding) or m.encoding: m for m in from_bytes(body, cp_isolation=[*declared_codecs, *_CYRILLIC_8BIT])
    }
    best = min(matches.values(), key=lambda m: m.chaos, default=None)
    for candidate in declared_codecs:
        # A declaration wins unless detection finds text that is clearly less garbled (KOI8-R
        # bytes declared as windows-1251 decode without error, but into nonsense).
        match = matches.get(candidate)
        if match is not None and (best is None or match.chaos <= best.chaos + 0.05):
            return str(match), candidate
    if best is not None:
        return str(best), _codec(best.encoding) or best.encoding
    for candidate in declared_codecs:
        try:
            return body.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
    return body.decode("cp1252", errors="replace"), "cp1252"
