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
        carriers = {matched, *(c.outlet for c in also_in)}
        if stated is None:
            return CreditCheck(found.stated, None, matched, False,
                               f"credits {found.stated!r}, which is no outlet tracer knows; the claim comes from {matched}")  # fmt: skip
        if stated in carriers:
            return CreditCheck(found.stated, stated, matched, True, f"credits {stated}, which carries the claim")
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
        own = [s.candidate.cosine for s in scored if s.candidate.unit.doc.outlet == stated]
        top = scored[0].candidate
        if top.unit.doc.outlet != stated and (not own or top.cosine - max(own) >= FAR):
            return CreditCheck(found.stated, stated, None, False,
                               f"credits {stated}, but no indexed article of {stated} carries this claim{nearest}")  # fmt: skip
    return CreditCheck(
        found.stated, stated, None, None, f"credits {stated}; no source found, so the credit is unchecked"
    )
