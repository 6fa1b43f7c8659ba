"""Filling an index from archives: `trace index add` against `trace index import` in-process and on
Ray (local mode, 1 and 2 embedding actors), on the same pages, with the real model and the int8
passages `index add` uses; then what a CC-NEWS backfill would cost, from the measured rate.

The pages are NTREX documents (en, ru, uk) written as HTML into WARC files (a paragraph per
sentence), and the same documents as a `trace index add` JSONL file: the same texts either way,
so the units match.

    python benchmarks/import_scale.py [--ntrex PATH] [--copies 6] [--files 4] [--skip-ray]

``--copies N`` writes every NTREX document N times under other URLs, each copy with an edition
line of its own (so none is a duplicate of another): enough pages that Ray's start-up (~10 s)
does not decide its overhead.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from tracer import DEFAULT_MODEL

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
OUTLETS = {"en": ("wire-en", "https://wire-en.example/news/"), "ru": ("wire-ru", "https://wire-ru.example/news/"),
           "uk": ("wire-uk", "https://wire-uk.example/news/")}  # fmt: skip


def sources_file(path: Path) -> Path:
    text = "".join(f'\n[[source]]\nname = "{name}"\noutlet = "{name}"\nlang = "{lang}"\nfeeds = ["{prefix}rss"]\n'
                   f'allow = ["{prefix}"]\n' for lang, (name, prefix) in OUTLETS.items())  # fmt: skip
    path.write_text(text, encoding="utf-8")
    return path


def write_inputs(ntrex: Path, out: Path, copies: int, n_files: int) -> tuple[list[Path], Path]:
    """WARC files and a JSONL file of the same documents: every NTREX document ``copies`` times
    (languages in turn)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from tracer.evaluation._evaluate import read_parallel_tsv

    docs = [(k, d) for k in range(copies) for d in read_parallel_tsv(ntrex)]
    langs = list(OUTLETS)
    warcs = [out / f"part-{i}.warc.gz" for i in range(n_files)]
    writers = [WARCWriter(p.open("wb"), gzip=True) for p in warcs]
    jsonl = out / "docs.jsonl"
    with jsonl.open("w", encoding="utf-8") as lines:
        for n, (k, d) in enumerate(docs):
            lang = langs[n % 3]
            name, prefix = OUTLETS[lang]
            url = f"{prefix}{n}"
            paragraphs = [s[lang] for s in d.segments]
            paragraphs.insert(1, f"Edition {k + 1} of {copies}, number {n}.")
            html = ("<html><head><title>" + paragraphs[0] + "</title></head><body><article>"
                    + "".join(f"<p>{p}</p>" for p in paragraphs[1:]) + "</article></body></html>")  # fmt: skip
            w = writers[n % n_files]
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(html.encode()),
                                                http_headers=headers))  # fmt: skip
            lines.write(json.dumps({"url": url, "outlet": name, "lang": lang, "title": paragraphs[0],
                                    "text": "\n".join(paragraphs[1:])}, ensure_ascii=False) + "\n")  # fmt: skip
    for w in writers:
        w.out.close()
    return warcs, jsonl


def units_of(index: Path) -> int:
    import index as ix

    with ix.IndexStore.open(index) as store:
        return int(store.describe()["units"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ntrex", type=Path, default=SHARED / "ntrex" / "ntrex-dev.tsv")
    parser.add_argument("--copies", type=int, default=6)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()

    import index as ix

    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="import-scale-") as tmp:
        tmp_path = Path(tmp)
        warcs, jsonl = write_inputs(args.ntrex, tmp_path, args.copies, args.files)
        config = ix.load_sources(sources_file(tmp_path / "sources.toml"))
        # the model and its int8 export, made once before anything is timed
        with ix.open_for_writing(tmp_path / "warm", DEFAULT_MODEL, "auto") as writer:
            writer.add(ix.read_jsonl(jsonl)[:3])
        rows = []

        def timed(label: str, run) -> None:  # type: ignore[no-untyped-def]
            index = tmp_path / label.replace(" ", "-")
            start = time.perf_counter()
            extra = run(index)
            seconds = time.perf_counter() - start
            units = units_of(index)
            rows.append((label, units, seconds, units / seconds, extra))
            print(f"{label:<34} {units:>7} units {seconds:>7.1f} s {units / seconds:>8.1f} units/s "
                  f"{units / seconds / cores:>7.1f} per core  {extra}", flush=True)  # fmt: skip
            shutil.rmtree(index, ignore_errors=True)

        def add(index: Path) -> str:
            with ix.open_for_writing(index, DEFAULT_MODEL, "auto") as writer:
                writer.add(ix.read_jsonl(jsonl))
            return "trace index add (JSONL, no extraction)"

        def in_process(index: Path) -> str:
            with ix.open_for_writing(index, DEFAULT_MODEL, "auto") as writer:
                s = writer.import_archives(warcs, config.sources)
            return f"{s.imported} documents"

        def on_ray(workers: int):  # type: ignore[no-untyped-def]
            def run(index: Path) -> str:
                with ix.open_for_writing(index, DEFAULT_MODEL, "auto") as writer:
                    used, merged = writer.import_with_ray(warcs, config.sources, tmp_path / f"shards-{workers}",
                                                          ix.RayPlan(workers=workers, cpus=cores))  # fmt: skip
                return f"{merged.merged} documents, {used} actors, start-up included"

            return run

        print(f"NTREX documents x {args.copies} in {args.files} WARC files; {cores} CPU cores; model "
              f"{DEFAULT_MODEL}, int8 passages")  # fmt: skip
        timed("index add", add)
        timed("import, in-process", in_process)
        if not args.skip_ray:
            timed("import, Ray local, 1 actor", on_ray(1))
            timed("import, Ray local, 2 actors", on_ray(2))
        by = {label: rate for label, _, _, rate, _ in rows}
        print(f"\nin-process import at {by['import, in-process'] / by['index add']:.0%} of index add's units/s")
        if not args.skip_ray:
            best = max(by["import, Ray local, 1 actor"], by["import, Ray local, 2 actors"])
            print(f"Ray local mode overhead against in-process on the same cores: "
                  f"{1 - best / by['import, in-process']:.0%}")  # fmt: skip
        rate = by["import, in-process"]
        # CC-NEWS 2022-2025 filtered to the default outlets: an assumption, stated, not measured
        articles = 32 * 150 * 365 * 4  # outlets x articles a day each x days
        units = articles * 40  # ~20 sentences an article and their windows (index add's ratio on NTREX here)
        hours = units / rate / 3600
        print(f"\nbackfill (assumed: 32 outlets x 150 articles/day x 4 years = {articles:,} articles, "
              f"x 40 units = {units:,} units): {hours:,.0f} h on this {cores}-core machine; on a 10-node cluster "
              f"of 16-core machines at this rate per core: {units / (rate / cores * 160) / 3600:,.1f} h "
              f"= {units / (rate / cores) / 3600:,.0f} core-hours (x your price per core-hour)")  # fmt: skip


if __name__ == "__main__":
    main()
