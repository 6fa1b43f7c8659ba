"""Peak memory (RSS) of the real `trace` command: tracing the bundled example (on a fresh machine,
with the model already prepared, and with the index built), and `trace index
add` on JSONL files of different sizes (made of NTREX sentences), to show that indexing memory
does not grow with the input.

    python benchmarks/memory.py [--docs 300,1200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NTREX = ROOT.parent / "shared" / "data" / "ntrex" / "ntrex-dev.tsv"
TRACE = Path(sys.executable).with_name("trace")


def peak(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one child process, from GNU time (getrusage would report
    the largest of all children so far)."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as out:
        t = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name, str(TRACE), *args], env=env, check=True,
                       capture_output=True)  # fmt: skip
        return time.perf_counter() - t, int(out.read().strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", default="300,1200")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tracer.evaluation._evaluate import read_parallel_tsv

    segments = [seg["en"] for d in read_parallel_tsv(NTREX) for seg in d.segments]
    tmp = Path(tempfile.mkdtemp(prefix="tracer-mem-"))
    env = {k: v for k, v in os.environ.items() if k != "TRACER_INDEX"}
    # a fresh machine: no model prepared in the user cache, no index
    fresh = {**env, "XDG_DATA_HOME": str(tmp / "fresh-data"), "TRACER_CACHE_DIR": str(tmp / "fresh-cache")}
    seconds, mb = peak(["tracer/example/artikel.txt"], fresh)
    print(f"trace artikel.txt (fresh machine: prepares the model, exports it, builds the index): {seconds:.1f} s, "
          f"peak RSS {mb:.0f} MB")  # fmt: skip
    env["XDG_DATA_HOME"] = str(tmp / "data")  # a fresh default location: the first run builds the example
    seconds, mb = peak(["tracer/example/artikel.txt"], env)
    print(f"trace artikel.txt (example index, first run builds it): {seconds:.1f} s, peak RSS {mb:.0f} MB")
    seconds, mb = peak(["tracer/example/artikel.txt"], env)
    print(f"trace artikel.txt (index exists):                       {seconds:.1f} s, peak RSS {mb:.0f} MB")
    for n in (int(x) for x in args.docs.split(",")):
        path = tmp / f"docs-{n}.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for i in range(n):
                text = " ".join(segments[(i * 5 + k) % len(segments)] for k in range(5))
                fh.write(
                    json.dumps({"url": f"https://m.example/{i}", "outlet": "M", "lang": "en", "text": text}) + "\n"
                )
        seconds, mb = peak(["index", "add", "--index", str(tmp / f"index-{n}"), str(path)], env)
        print(f"trace index add, {n} documents ({path.stat().st_size / 1e6:.1f} MB JSONL): {seconds:.0f} s, "
              f"peak RSS {mb:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
