"""Cost of crawling per article, for sizing a month of the three outlets: time (fetch +
extract + embed with the default model) and disk per article, and what a refresh of an
unchanged site costs.

    python benchmarks/crawl.py [--docs N] [--backend auto|torch]

Serves the NTREX documents of ../shared/data as English, Russian (windows-1251, undeclared)
and Ukrainian article pages from a local server on 127.0.0.1 (delay 0: the polite per-host
delay of a real crawl comes on top and is what bounds its speed, see the README).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=73, help="NTREX documents to serve (x3 languages)")
    parser.add_argument("--backend", choices=["auto", "torch"], default="auto",
                        help="as `trace index build --backend` (auto: the int8 ONNX export)")  # fmt: skip
    args = parser.parse_args()

    import index as ix
    from index import indexing_embedder
    from index._sources import Source
    from tests.site import Site
    from tracer import DEFAULT_MODEL
    from tracer.evaluation._evaluate import read_parallel_tsv

    docs = read_parallel_tsv(ROOT.parent / "shared" / "data" / "ntrex" / "ntrex-dev.tsv")[: args.docs]
    site = Site()
    now = datetime.now(UTC)
    sources = []
    for lang, charset in (("en", "utf-8"), ("ru", "cp1251"), ("uk", "utf-8")):
        items = []
        for k, doc in enumerate(docs):
            segs = [s[lang] for s in doc.segments]
            paragraphs = [" ".join(segs[i : i + 3]) for i in range(1, len(segs), 3)]
            path = f"/{lang}/{doc.doc_id}"
            site.article(path, segs[0], paragraphs, charset=charset,
                         header_charset=None if lang == "ru" else "same", meta_charset=lang != "ru")  # fmt: skip
            items.append((path, now - timedelta(minutes=k)))
        site.rss(f"/{lang}.rss", items)
        sources.append(Source(name=lang, outlet=f"Outlet {lang}", langs=(lang,), feeds=(site.url(f"/{lang}.rss"),),
                              delay=0.0, allow_private=True, max_articles=10_000))  # fmt: skip

    t = time.perf_counter()
    embedder, backend = indexing_embedder(DEFAULT_MODEL, None, args.backend)  # what `index build` takes
    load_s = time.perf_counter() - t
    embed_s = 0.0
    real_embed = embedder.embed

    def timed_embed(texts, **kw):  # type: ignore[no-untyped-def]
        nonlocal embed_s
        t0 = time.perf_counter()
        try:
            return real_embed(texts, **kw)
        finally:
            embed_s += time.perf_counter() - t0

    embedder.embed = timed_embed  # type: ignore[method-assign]
    path = Path(tempfile.mkdtemp(prefix="tracer-crawl-bench-")) / "index"
    policy = ix.FetchPolicy(concurrency=4)

    def run(command: str) -> tuple[ix.CrawlSummary, float]:
        t0 = time.perf_counter()
        store = ix.IndexStore.create(path, ix.manifest_for(embedder))
        with store, store.write_lock(), ix.Fetcher(policy) as fetcher:
            summary = ix.Crawler(store, fetcher, embedder, ix.CrawlOptions(batch_docs=32)).run(sources, command)
        return summary, time.perf_counter() - t0

    build, build_s = run("build")
    n = build.total().new
    with ix.IndexStore.open(path) as store:
        stats = store.stats()
    sentences = sum(int(r["sentences"]) for r in stats["outlets"])  # type: ignore[attr-defined]
    size = int(stats["bytes_on_disk"])  # type: ignore[call-overload]
    site.hits.clear()
    embed_build = embed_s
    refresh, refresh_s = run("refresh")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    site.close()

    print(f"articles built        {n} ({sentences} sentences, {sentences / n:.1f} per article)")
    print(f"model load            {load_s:.1f} s (once per run), passages embedded with {backend}")
    print(f"build                 {build_s:.1f} s = {build_s / n * 1000:.0f} ms per article "
          f"(embedding {embed_build / n * 1000:.0f} ms, fetch+extract+store {(build_s - embed_build) / n * 1000:.0f} ms)")  # fmt: skip
    print(f"disk                  {size / 1e6:.1f} MB = {size / n / 1024:.1f} KiB per article, "
          f"{size / sentences / 1024:.2f} KiB per sentence")  # fmt: skip
    print(f"refresh, unchanged    {refresh_s:.1f} s, {refresh.total().unchanged} unchanged, "
          f"{len(site.bodies_served())} article bodies downloaded, {len(site.hits)} requests")  # fmt: skip
    print(f"peak RSS              {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
