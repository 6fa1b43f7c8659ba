"""Cheap lexical evidence across scripts as extra judge features: does the decision improve
when it also sees whether the sentence and the candidate agree on numbers, on names
(transliterated: Budanov / Буданов), or in length (a translation keeps the original's length
up to a per-language ratio; another outlet's sentence on the same fact need not)? Each variant is fitted on the calibration half at 2%
wrong-source, as `trace calibrate` does, and scored on the test half of the same runs.

    python benchmarks/lexical_features.py [--seed 1] [--runs 3]

The features live here, not in tracer: kept only if they help (they did not, see the README).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NTREX = ROOT.parent / "shared" / "data" / "ntrex" / "ntrex-dev.tsv"


@cache
def _numbers(text: str, lang: str) -> frozenset[float]:
    from tracer._flags import numbers, times

    return frozenset(round(n.value, 3) for n in numbers(text, lang, times(text)))


def numbers_agree(query: str, candidate: str, lang: str) -> float:
    """+1 a number shared, -1 both have numbers and none is shared, 0 otherwise."""
    a, b = _numbers(query, "id"), _numbers(candidate, lang)
    return 0.0 if not a or not b else (1.0 if a & b else -1.0)


@cache
def _names(text: str) -> tuple[str, ...]:
    from tracer._flags import _NOT_NAMES, _runs

    return tuple(w for run in _runs(text) for w, start, _ in run if start > 0 and len(w) >= 3
                 and w.lower() not in _NOT_NAMES)  # fmt: skip


def names_agree(query: str, candidate: str, lang: str) -> float:
    """Share of the sentence's names found in the candidate up to transliteration, from -1 (none)
    to +1 (all); 0 for a sentence without names."""
    from tracer._translit import same_name

    wanted, found = _names(query), _names(candidate)
    if not wanted:
        return 0.0
    hits = sum(any(same_name(a, b, lang) for b in found) for a in wanted)
    return (2 * hits - len(wanted)) / len(wanted)


def length_misfit(docs: list) -> Callable[[str, str, str], float]:  # type: ignore[type-arg]
    """|log(characters of the sentence / of the candidate) - that ratio's median for the
    candidate's language|, the medians taken from the calibration half's aligned pairs."""
    import math
    from statistics import median

    from tracer._evaluate import split_of

    typical = {
        lang: median(math.log(len(s["id"]) / len(s[lang])) for d in docs if split_of(d.doc_id) == "calib"
                     for s in d.segments if s["id"] and s[lang])
        for lang in ("en", "ru", "uk")
    }  # fmt: skip

    def misfit(query: str, candidate: str, lang: str) -> float:
        return abs(math.log(max(len(query), 1) / max(len(candidate), 1)) - typical.get(lang, 0.0))

    return misfit


def with_feature(name: str, feature: Callable[[str, str, str], float], queries: dict[int, str]) -> Callable[[], None]:
    """Make the judge score ``name`` too (for the candidate lists in ``queries``); returns undo."""
    from tracer import _judge

    original = _judge.DecisionRule.score_article

    def score_article(self, candidates):  # type: ignore[no-untyped-def]
        weights = {k: v for k, v in self.article.weights.items() if k != name}
        base = original(replace(self, article=_judge.Logistic(self.article.bias, weights)), candidates)
        out = []
        for cands, scored in zip(candidates, base, strict=True):
            query = queries[id(cands)]
            rescored = []
            for s in scored:
                unit = s.candidate.unit
                f = {**s.features, name: feature(query, unit.text, unit.doc.lang)}
                rescored.append(_judge.Scored(s.candidate, f, self._gate(s.candidate, self.article(f))))
            out.append(sorted(rescored, key=lambda s: -s.confidence))
        return out

    _judge.DecisionRule.score_article = score_article  # type: ignore[method-assign]
    return lambda: setattr(_judge.DecisionRule, "score_article", original)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from tracer import load_embedder
    from tracer._evaluate import Protocol, calibrate, read_parallel_tsv, run_protocols, score_by_lang
    from tracer._judge import ARTICLE_FEATURES

    docs = read_parallel_tsv(NTREX)
    with tempfile.TemporaryDirectory() as tmp:
        outcomes = run_protocols(docs, load_embedder(), Path(tmp), Protocol(seed=args.seed), runs=args.runs)
    queries = {id(o.candidates): o.query.text for o in outcomes}
    calib = [o for o in outcomes if o.query.split == "calib"]
    test = [o for o in outcomes if o.query.split == "test"]
    print(f"NTREX, {args.runs} runs from seed {args.seed}; fitted on the calibration half at 2% wrong-source, "
          "scored on the test half")  # fmt: skip
    variants = (("(tracer's rule)", None), ("numbers", numbers_agree), ("names", names_agree),
                ("length", length_misfit(docs)))  # fmt: skip
    for name, feature in variants:
        undo = with_feature(name, feature, queries) if feature else (lambda: None)
        try:
            features = ARTICLE_FEATURES + ((name,) if feature else ())
            rule, _ = calibrate(calib, model="lexical", margin_k=4, max_wrong_source=0.02, features=features)
            result = score_by_lang(test, rule)
        finally:
            undo()
        o, per = result["overall"], result["per_lang"]
        langs = "/".join(f"{per[x]['top1']:.3f}" for x in ("en", "ru", "uk"))  # type: ignore[index]
        weight = f"weight {rule.article.weights[name]:+.2f}" if feature else ""
        print(f"  {name:<16} top-1 traced {o['top1']:.3f} ({langs}), wrong-source {o['wrong_source']:.3f}, "
              f"threshold {rule.threshold:.3f} {weight}")  # fmt: skip


if __name__ == "__main__":
    main()
