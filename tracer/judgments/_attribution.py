"""Does the credit a sentence gives ("seperti dilansir X", "menurut X", "kata X") name the
outlet that actually carries the claim?"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tracer.judgments._credits import find_attribution
from tracer.judgments._outlets import OutletTable
from tracer.report._report import Carrier, CreditCheck
from tracer.tracing._judge import Scored

FAR = 0.1
"""Cosine gap from which the credited outlet's nearest sentence counts as not carrying the claim."""


def credited_outlets(text: str, table: OutletTable, known: Iterable[str]) -> tuple[str, ...]:
    """The outlets (of ``known``, or the alias table's) that the sentence credits as its source,
    one or more ("dilansir Reuters dan AFP", "(AFP/Reuters)"); none for a speaker ("kata X")."""
    found = find_attribution(text)
    if found is None or found.cue == "speaker":
        return ()
    known = list(known)
    resolved = (table.resolve(name, known) for name in (found.stated, *found.also))
    return tuple(dict.fromkeys(name for name in resolved if name is not None))


def check(
    text: str,
    traced: bool,
    scored: Sequence[Scored],
    also_in: Sequence[Carrier],
    table: OutletTable,
    known: Iterable[str],
) -> CreditCheck | None:
    known = list(known)
    found = find_attribution(text)
    if found is None:
        return None
    # a credit may name more than one outlet ("dilansir Reuters dan AFP"): the one that carries
    # the claim is reported, else the first
    named = [(written, table.resolve(written, known)) for written in (found.stated, *found.also)]
    written, stated = named[0]
    best = scored[0].candidate.unit.doc if scored else None
    matched = best.outlet if traced and best is not None else None
    if stated is None and found.cue != "outlet":
        return CreditCheck(written, None, matched, None, f"credits a speaker, {written!r}, not an outlet")
    if traced:
        # the matched outlet or another carrier, or a syndicated copy of it ("NDTV (AFP)" for AFP)
        carriers = dict.fromkeys(o for o in (matched, *(c.outlet for c in also_in)) if o is not None)
        for written_as, outlet in named:
            via = next((o for o in carriers if outlet in table.speaks_for(o, known)), None) if outlet else None
            if via is not None:
                note = "which carries the claim" if via == outlet else f"whose report {via} carries"
                return CreditCheck(written_as, outlet, matched, True, f"credits {outlet}, {note}")
        if stated is None:
            return CreditCheck(written, None, matched, False,
                               f"credits {written!r}, which is no outlet tracer knows; the claim comes from {matched}")  # fmt: skip
        if stated not in known:
            return CreditCheck(written, stated, matched, None,
                               f"credits {stated}, which is not in the index; the claim was found in {matched}")  # fmt: skip
        return CreditCheck(written, stated, matched, False,
                           f"credits {stated}, but the claim was found in {matched}, not in {stated}")  # fmt: skip
    nearest = f"; nearest: {best.outlet}" if best is not None else ""
    if stated is None:
        return CreditCheck(written, None, None, None,
                           f"credits {written!r}, which is no outlet tracer knows; no source found{nearest}")  # fmt: skip
    if stated in known and scored:
        top = scored[0].candidate
        # a credited outlet (or a syndicated copy of one) has a passage near the best one
        credited = {outlet for _, outlet in named if outlet is not None}
        near = any(top.cosine - s.candidate.cosine < FAR and credited & table.speaks_for(s.candidate.unit.doc.outlet, known)
                   for s in scored)  # fmt: skip
        if not near:
            return CreditCheck(written, stated, None, False,
                               f"credits {stated}, but no indexed article of {stated} carries this claim{nearest}")  # fmt: skip
    return CreditCheck(written, stated, None, None, f"credits {stated}; no source found, so the credit is unchecked")
