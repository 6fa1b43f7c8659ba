"""Do new text rules change anything on the dev data? Segments and finds credits with the code
at git revision REV and with the working tree, and prints every text where they differ:

    python benchmarks/rules_diff.py REV [--data ../shared/data]

- segmentation (`tracer/tracing/_segment.py`): the real cases' articles and pages, the bundled
  example's article and sources, and every NTREX document in its four languages, once as lines
  and once as one paragraph;
- credits (`tracer/judgments/_credits.py`: what `find_credit` finds and `without_credit` leaves):
  every Indonesian sentence of the real cases, the example, NTREX, and the protocol's composed
  articles in both layouts for seeds 1-3 (the mixed layout adds newsroom credits).

A rule meant for articles not seen yet should print "differ: 0" for both.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def module_at(rev: str, path: str, directory: Path) -> ModuleType:
    """The module at ``path`` as it was at ``rev`` (its imports resolve to the working tree)."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{path}"], check=True, capture_output=True).stdout
    target = directory / (path.replace("/", "_"))
    target.write_bytes(source)
    spec = importlib.util.spec_from_file_location(f"at_{rev}_{target.stem}", target)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def texts(data: Path) -> list[tuple[str, str | None]]:
    from tracer.evaluation._evaluate import read_parallel_tsv

    out: list[tuple[str, str | None]] = []
    example = ROOT / "tracer" / "example"
    for article, sources in [(c / "article.txt", c / "sources.jsonl") for c in sorted((data / "realcases").iterdir())
                             if c.is_dir()] + [(example / "artikel.txt", example / "sources.jsonl")]:  # fmt: skip
        out.append((article.read_text(encoding="utf-8"), "id"))
        for line in sources.read_text(encoding="utf-8").splitlines():
            if line.strip():
                page = json.loads(line)
                out.append((page["text"], page.get("lang")))
    for doc in read_parallel_tsv(data / "ntrex" / "ntrex-dev.tsv"):
        for lang in doc.segments[0]:
            segments = [s[lang] for s in doc.segments]
            out += [("\n".join(segments), lang), (" ".join(segments), lang)]
    return out


def sentences(data: Path) -> list[str]:
    from tracer.evaluation._evaluate import compose_articles, make_plan, read_parallel_tsv
    from tracer.tracing._segment import segment

    out = [s.text for text, lang in texts(data) if lang == "id" for s in segment(text, "id")]
    docs = read_parallel_tsv(data / "ntrex" / "ntrex-dev.tsv")
    out += [seg["id"] for d in docs for seg in d.segments]
    for seed in (1, 2, 3):
        plan = make_plan(docs, ("en", "ru", "uk"), 0.2, seed)
        for layout in ("runs", "mixed"):
            out += [q.text for _, queries in compose_articles(docs, plan, seed, layout=layout) for q in queries]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    from tracer.judgments import _credits
    from tracer.tracing import _segment

    with tempfile.TemporaryDirectory() as tmp:
        old_segment = module_at(args.rev, "tracer/tracing/_segment.py", Path(tmp))
        old_credits = module_at(args.rev, "tracer/judgments/_credits.py", Path(tmp))
    pages = texts(args.data)
    changed = 0
    for text, lang in pages:
        before = [s.text for s in old_segment.segment(text, lang)]
        after = [s.text for s in _segment.segment(text, lang)]
        if before != after:
            changed += 1
            print(
                f"segmentation ({lang}): {[s for s in before if s not in after][:2]} -> {[s for s in after if s not in before][:2]}"
            )
    print(f"segmentation: {len(pages)} texts, differ: {changed}")
    said = sentences(args.data)
    changed = 0
    for sentence in said:
        before, after = old_credits.find_credit(sentence), _credits.find_credit(sentence)
        if (before and (before.start, before.end, before.stated)) != (after and (after.start, after.end, after.stated)) \
                or old_credits.without_credit(sentence) != _credits.without_credit(sentence):  # fmt: skip
            changed += 1
            print(f"credit: {sentence[:100]!r}: {before} -> {after}")
    print(f"credits: {len(said)} Indonesian sentences, differ: {changed}")


if __name__ == "__main__":
    main()
