"""Would dates or the speaker tell a sentence's original from a same-story candidate? Counts over
the real cases' full articles (shipped rule), among each sourced sentence's best 4 candidates:

- dates: candidates whose day and month differ from the sentence's (both state one), right or wrong;
- speaker: for sentences naming who speaks ("kata Peskov", "Peskov mengatakan"), candidates that
  name the speaker too or leave them out, right or wrong.

    python benchmarks/agreement_counts.py [--cases DIR]
"""

from __future__ import annotations

import argparse
import re
import tempfile
from collections import Counter
from pathlib import Path

from tracer import DEFAULT_MODEL, load_embedder
from tracer.evaluation._cases import case_variants, run_cases
from tracer.evaluation._evaluate import decide
from tracer.judgments._agreement import name_agreement
from tracer.judgments._flags import dates
from tracer.judgments._translit import skeleton
from tracer.model._onnx import as_traced, int8_embedder, query_precision
from tracer.tracing._judge import rule_for

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
_NAME = r"((?:[A-Z][\w'’-]+)(?:\s+[A-Z][\w'’-]+){0,2})"
_TITLE = (
    r"(?:juru bicara|jubir|presiden|menteri|wakil|kepala|direktur|gubernur|duta besar|dubes|sekretaris|ketua|pejabat)"
)
_AFTER = re.compile(r"\b(?:kata|ujar|ucap|tutur|jelas|tegas|ungkap|imbuh|tambah|lanjut|menurut)\s+"
                    rf"(?:{_TITLE}\s+(?:[a-z]+\s+){{0,3}})?{_NAME}")  # fmt: skip
_BEFORE = re.compile(_NAME + r"\s+(?:juga\s+|pun\s+|kemudian\s+|sebelumnya\s+)?(?:mengatakan|menyatakan|menyebut|"
                     r"berkata|menegaskan|menjelaskan|mengungkapkan|menuturkan|mengklaim|menambahkan|mengakui|"
                     r"membantah|memperingatkan|mengumumkan)")  # fmt: skip


def speakers(text: str) -> set[str]:
    return {skeleton(w) for m in [*_AFTER.finditer(text), *_BEFORE.finditer(text)] for w in m.group(1).split()
            if len(w) > 2}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=Path, default=SHARED / "realcases")
    args = parser.parse_args()
    base = load_embedder(DEFAULT_MODEL)
    passages = int8_embedder(base, lambda message: None)
    embedder = as_traced(base, base, query_precision())
    with tempfile.TemporaryDirectory() as tmp:
        outcomes = run_cases(case_variants([args.cases], ()), embedder, passages, Path(tmp), margin_k=4)
    rule = rule_for(base.info.name)
    date_counts, speaker_counts, with_speaker = Counter(), Counter(), 0
    for o, scored in decide(outcomes, rule):
        if not o.labelled or o.gold is None:
            continue
        said, named = dates(o.query.text, "id"), speakers(o.query.text)
        with_speaker += bool(named)
        for s in scored[:4]:
            c = s.candidate
            right = "right" if o.covers_gold(c) else "wrong"
            theirs = dates(c.unit.text, c.unit.doc.lang)
            if said.day_months and theirs.day_months and not set(said.day_months) & set(theirs.day_months):
                date_counts[right] += 1
            if named:
                has = name_agreement(named, c.unit.text, c.unit.doc.lang) > 0
                speaker_counts[(right, "names the speaker" if has else "leaves the speaker out")] += 1
    print(f"{len([o for o in outcomes if o.labelled and o.gold is not None])} sourced sentences of "
          f"{len({o.query.doc_id for o in outcomes})} real cases; best 4 candidates each")  # fmt: skip
    print(f"dates differing from the sentence's: {dict(date_counts)}")
    print(f"{with_speaker} sentences name who speaks; their candidates: {dict(speaker_counts)}")


if __name__ == "__main__":
    main()
