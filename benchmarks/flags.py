"""How often the translation-shift flags fire on faithful translations: NTREX's Indonesian
against its English, Russian and Ukrainian (../shared/data). Every flag here is either a false
alarm or a real difference between two human translations, so the rate bounds the noise an
editor sees on a correctly traced sentence.

    python benchmarks/flags.py [--show N]

Indonesian <-> English is a direct translation (NTREX translated English into Indonesian);
Indonesian <-> Russian/Ukrainian are two translations of the same English, so they differ more.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KINDS = ("number", "name", "negation", "hedge", "quote", "date")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "ntrex" / "ntrex-dev.tsv")
    parser.add_argument("--show", type=int, default=0, help="print N flagged pairs per kind")
    args = parser.parse_args()

    from tracer.evaluation._evaluate import read_parallel_tsv
    from tracer.judgments._flags import compare

    pairs = Counter()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    shown: dict[str, list[str]] = defaultdict(list)
    for doc in read_parallel_tsv(args.data):
        for seg in doc.segments:
            for lang in ("en", "ru", "uk"):
                pairs[lang] += 1
                for flag in compare(seg["id"], seg[lang], lang):
                    counts[lang][flag.kind] += 1
                    if len(shown[flag.kind]) < args.show:
                        shown[flag.kind].append(
                            f"  [{lang}] {flag.note}\n     id: {seg['id']}\n     {lang}: {seg[lang]}"
                        )
    print(f"flags per 100 sentence pairs ({args.data.name})")
    print(f"{'pair':<6}{'pairs':>6}" + "".join(f"{k:>10}" for k in KINDS) + f"{'any':>8}")
    for lang in ("en", "ru", "uk"):
        total = sum(counts[lang].values())
        row = "".join(f"{100 * counts[lang][k] / pairs[lang]:>10.1f}" for k in KINDS)
        print(f"id-{lang:<3}{pairs[lang]:>6}{row}{100 * total / pairs[lang]:>8.1f}")
    for kind, lines in shown.items():
        if not lines:
            continue
        print(f"\n{kind}:")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
