"""Share of NTREX reference sentences that tracer's segmenter recovers exactly, per language.

Method (as in ../shared/notes/segmentation.md): each document's reference sentences are joined
into paragraphs of 1-4 sentences (a sentence without final punctuation, such as a headline,
ends its paragraph), each paragraph is segmented, and we count exact recoveries.

    python benchmarks/segmentation.py [PATH/ntrex-dev.tsv]
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import blingfire

from tracer import segment
from tracer.evaluation._evaluate import LANG_COLUMNS, read_parallel_tsv

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ntrex" / "ntrex-dev.tsv"


def paragraphs(sentences: list[str], rng: random.Random) -> list[list[str]]:
    out: list[list[str]] = []
    current: list[str] = []
    size = rng.randint(1, 4)
    for s in sentences:
        current.append(s)
        if len(current) == size or not s.rstrip().endswith((".", "!", "?", '"', "”", "»", "…")):
            out.append(current)
            current, size = [], rng.randint(1, 4)
    if current:
        out.append(current)
    return out


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    docs = read_parallel_tsv(path)
    print(f"{'lang':<5} {'sentences':>9} {'tracer':>8} {'blingfire alone':>16}")
    for lang in LANG_COLUMNS:
        rng = random.Random(0)
        total = ours = plain = 0
        for doc in docs:
            for par in paragraphs([s[lang] for s in doc.segments], rng):
                text = " ".join(par)
                reference = {" ".join(s.split()) for s in par}
                got = {s.text for s in segment(text, lang)}
                bf = {" ".join(s.split()) for s in blingfire.text_to_sentences(text).split("\n")}
                total += len(par)
                ours += len(reference & got)
                plain += len(reference & bf)
        print(f"{lang:<5} {total:>9} {ours / total:>8.3f} {plain / total:>16.3f}")


if __name__ == "__main__":
    main()
