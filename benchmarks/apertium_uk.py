"""Ukrainian through Debian's Apertium rus-ukr pair (issue 28's Ukrainian lever): would
indexing a Russian machine translation beside each Ukrainian sentence help the encoder, which
is weaker on Ukrainian than on Russian?

Every NTREX segment's Ukrainian side goes through ``apertium ukr-rus`` one sentence at a time,
as Debian ships the mode and with its tagger bypassed (``BYPASS``).
Reported: how many come back empty (the pair's tagger aborts on some sentences), the share of
words it leaves untranslated (``*word``), and nearest-neighbour top-1 of the Indonesian side
among all segments' Ukrainian originals, their Apertium translations, the better of the two per
segment (what indexing both would give), and the real Russian side (the ceiling).

    python benchmarks/apertium_uk.py [--ntrex PATH] [--limit N]

Needs Debian's ``apertium-rus-ukr`` (``apt-get install apertium-rus-ukr``).
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NTREX = ROOT.parent / "shared" / "data" / "ntrex" / "ntrex-dev.tsv"


PAIR = Path("/usr/share/apertium/apertium-rus-ukr")
# Debian's ukr-rus mode with its perceptron tagger (which aborts on words such as "люди" or
# "Суми") replaced by constraint grammar's first remaining reading (cg-proc -1 -n).
BYPASS = (
    f"apertium-destxt | lt-proc -w {PAIR}/ukr-rus.automorf.bin | cg-proc -1 -n -w {PAIR}/ukr-rus.rlx.bin"
    f" | apertium-pretransfer | lt-proc -b {PAIR}/ukr-rus.autobil.bin | lrx-proc -m {PAIR}/ukr-rus.autolex.bin"
    f" | apertium-transfer -b {PAIR}/apertium-rus-ukr.ukr-rus.t1x {PAIR}/ukr-rus.t1x.bin"
    f" | apertium-interchunk {PAIR}/apertium-rus-ukr.ukr-rus.t2x {PAIR}/ukr-rus.t2x.bin"
    f" | apertium-postchunk {PAIR}/apertium-rus-ukr.ukr-rus.t3x {PAIR}/ukr-rus.t3x.bin"
    f" | lt-proc -g {PAIR}/ukr-rus.autogen.bin | lt-proc -p {PAIR}/ukr-rus.autopgen.bin | apertium-retxt"
)


def translate(text: str, bypass: bool = False) -> str:
    """Apertium's Russian for one Ukrainian sentence ('' when the pipeline prints nothing)."""
    cmd = ["bash", "-c", BYPASS] if bypass else ["apertium", "ukr-rus"]
    try:
        done = subprocess.run(cmd, input=text, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return ""
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ntrex", type=Path, default=NTREX)
    parser.add_argument("--limit", type=int, default=0, help="only the first N segments (0: all)")
    args = parser.parse_args()
    if shutil.which("apertium") is None:
        raise SystemExit("apertium not found: apt-get install apertium-rus-ukr")
    with args.ntrex.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    rows = rows[: args.limit] if args.limit else rows
    ind, ukr, rus = ([r[k] for r in rows] for k in ("ind", "ukr", "rus"))
    translations = {}
    for label, bypass in (("Debian's ukr-rus mode", False), ("tagger bypassed (cg-proc -1)", True)):
        t = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            mt = list(pool.map(translate, ukr, [bypass] * len(ukr)))
        took = time.perf_counter() - t
        empty = sum(not m for m in mt)
        words = [w for m in mt for w in re.findall(r"[*#@]?\w+", m)]
        unknown = sum(w[0] in "*#@" for w in words)
        print(f"{label}: {len(rows)} NTREX segments in {took:.0f} s, {empty} came back empty ({empty / len(rows):.1%}); "
              f"{unknown / max(1, len(words)):.1%} of the words printed marked untranslated (*, #, @)")  # fmt: skip
        translations[label] = mt

    from tracer import DEFAULT_MODEL, load_embedder

    embedder = load_embedder(DEFAULT_MODEL)
    q = embedder.embed(ind, role="query")
    mt = translations["tagger bypassed (cg-proc -1)"]
    clean = [re.sub(r"[*#@]", "", m) or u for m, u in zip(mt, ukr, strict=True)]  # empty: the original stands in
    sims = {name: q @ embedder.embed(texts, role="passage").T
            for name, texts in (("Ukrainian originals", ukr), ("Apertium Russian (bypass)", clean), ("real Russian", rus))}  # fmt: skip
    sims["originals and Apertium, better of each"] = np.maximum(
        sims["Ukrainian originals"], sims["Apertium Russian (bypass)"]
    )
    gold = np.arange(len(rows))
    for name, s in sims.items():
        print(f"  Indonesian -> {name:<40} top-1 {float((s.argmax(axis=1) == gold).mean()):.3f}")


if __name__ == "__main__":
    main()
