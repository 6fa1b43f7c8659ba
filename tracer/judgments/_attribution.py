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


def credited_outlet(text: str, table: OutletTable, known: Iterable[str]) -> str | None:
    """The outlet (one of ``known``, or the alias table's) that the sentence credits as its
    source, if any; a speaker ("kata X") is no outlet."""
    found = find_attribution(text)
    if found is None or found.cue == "speaker":
        return None
    return table.resolve(found.stated, known)


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
    stated = table.resolve(found.stated, known)
    best = scored[0].candidate.unit.doc if scored else None
    matched = best.outlet if traced and best is not None else None
    if stated is None and found.cue != "outlet":
        return CreditCheck(found.stated, None, matched, None, f"credits a speaker, {found.stated!r}, not an outlet")
    if traced:
        # the matched outlet or another carrier, or a syndicated copy of it ("NDTV (AFP)" for AFP)
        carriers = dict.fromkeys(o for o in (matched, *(c.outlet for c in also_in)) if o is not None)
        via = next((o for o in carriers if stated in table.speaks_for(o, known)), None) if stated else None
        if via is not None:
            note = "which carries the claim" if via == stated else f"whose report {via} carries"
            return CreditCheck(found.stated, stated, matched, True, f"credits {stated}, {note}")
        if stated is None:
            return CreditCheck(found.stated, None, matched, False,
                               f"credits {found.stated!r}, which is no outlet tracer knows; the claim comes from {matched}")  # fmt: skip
        if stated not in known:
            return CreditCheck(found.stated, stated, matched, None,
                               f"credits {stated}, which is not in the index; the claim was found in {matched}")  # fmt: skip
        return CreditCheck(found.stated, stated, matched, False,
                           f"credits {stated}, but the claim was found in {matched}, not in {stated}")  # fmt: skip
    nearest = f"; nearest: {best.outlet}" if best is not None else ""
    if stated is None:
        return CreditCheck(found.stated, None, None, None,
                           f"credits {found.stated!r}, which is no outlet tracer knows; no source found{nearest}")  # fmt: skip
    if stated in known and scored:
        top = scored[0].candidate
        # the credited outlet (or a syndicated copy of it) has a passage near the best one
        near = any(top.cosine - s.candidate.cosine < FAR and stated in table.speaks_for(s.candidate.unit.doc.outlet, known)
                   for s in scored)  # fmt: skip
        if not near:
            return CreditCheck(found.stated, stated, None, False,
                               f"credits {stated}, but no indexed article of {stated} carries this claim{nearest}")  # fmt: skip
    return CreditCheck(
        found.stated, stated, None, None, f"credits {stated}; no source found, so the credit is unchecked"
    )
