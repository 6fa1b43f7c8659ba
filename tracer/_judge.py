"""The verdict: is the best candidate the original of the sentence ("traced") or is there no
source in the index ("no_source")?

Two logistic stages, fitted on parallel data by ``trace calibrate`` and stored per model in
``calibration.json``:

1. sentence evidence: cosine and margin (how far the candidate stands out from the next
   distinct candidates, as in bitext mining's neighbourhood-normalized scores);
2. article evidence: sentences of an article usually come from a few source articles, so a
   candidate whose document also explains the neighbouring sentences (``neighbour``) or many
   sentences of the article (``article``) is more likely right. A translation also keeps the
   original's order, so ``sequence`` counts only neighbours whose own candidate in the same
   document sits just before (or after) this one, as a run of translated sentences would: it
   tells a translated passage from another outlet's article on the same story, whose sentences
   match too but in no order. ``sides`` adds that support from the sentences before and from
   those after: a sentence inside a translated run is flanked on both sides, one that happens
   to match a sibling article's sentence seldom is. All exclude the sentence itself, and the
   fitted weights decide how much they count, so a sentence without its own evidence is not
   forced onto a popular source.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from ._errors import ConfigError
from ._match import Candidate

CALIBRATION_FILE = "calibration.json"
GENERIC = "*"
"""Fallback entry for models without their own calibration (cosine-free, so it travels)."""

BASE_FEATURES = ("cosine", "margin")
ARTICLE_FEATURES = ("cosine", "margin", "neighbour", "article", "sequence", "sides")
NEIGHBOURHOOD = 2
"""Sentences on each side whose sources count as ``neighbour``, ``sequence`` or ``sides`` support."""
SEQUENCE_GAP = 2
"""How far (in source sentences) the original may advance per article sentence and still count
as in order: a translation may drop a sentence or merge two."""
SUPPORTED = 0.5
"""Sentence-level confidence from which a sentence counts as support for its top document."""
MIN_COSINE = 0.5
"""No verdict of "traced" below this cosine, whatever the margin: margins are relative, and a
candidate that merely stands out from unrelated ones is not a translation (e5 puts unrelated
news at ~0.8 and translations at ~0.9; LaBSE-like models put translations above ~0.6)."""


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


@dataclass(frozen=True)
class Logistic:
    bias: float
    weights: dict[str, float]

    def __call__(self, features: dict[str, float]) -> float:
        return _sigmoid(self.bias + sum(w * features[name] for name, w in self.weights.items()))

    def to_dict(self) -> dict[str, object]:
        return {"bias": self.bias, "weights": dict(self.weights)}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Logistic:
        return cls(bias=float(d["bias"]), weights={k: float(v) for k, v in dict(d["weights"]).items()})  # type: ignore[call-overload, arg-type]


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    features: dict[str, float]
    confidence: float


@dataclass(frozen=True)
class DecisionRule:
    model: str
    sentence: Logistic
    article: Logistic
    threshold: float
    margin_k: int
    calibrated: bool
    operating_point: str
    min_cosine: float = MIN_COSINE

    def traced(self, best: Scored) -> bool:
        return best.confidence >= self.threshold

    def with_threshold(self, threshold: float | None) -> DecisionRule:
        if threshold is None:
            return self
        return replace(self, threshold=threshold, operating_point=f"threshold {threshold} set by the user")

    def describe(self) -> dict[str, object]:
        return {
            "model": self.model,
            "calibrated": self.calibrated,
            "threshold": self.threshold,
            "min_cosine": self.min_cosine,
            "operating_point": self.operating_point,
            "margin_k": self.margin_k,
            "sentence": self.sentence.to_dict(),
            "article": self.article.to_dict(),
        }

    def _gate(self, candidate: Candidate, confidence: float) -> float:
        return confidence if candidate.cosine >= self.min_cosine else 0.0

    def score_article(self, candidates: Sequence[Sequence[Candidate]]) -> list[list[Scored]]:
        """Confidence for every candidate of every sentence, best first per sentence."""
        base = [
            [self._gate(c, self.sentence({"cosine": c.cosine, "margin": c.margin})) for c in cands]
            for cands in candidates
        ]
        doc_best: list[dict[int, float]] = []
        tops: list[int | None] = []
        for cands, ps in zip(candidates, base, strict=True):
            best: dict[int, float] = {}
            for c, p in zip(cands, ps, strict=True):
                best[c.unit.doc_id] = max(best.get(c.unit.doc_id, 0.0), p)
            doc_best.append(best)
            top = max(range(len(ps)), key=ps.__getitem__, default=None)
            tops.append(cands[top].unit.doc_id if top is not None and ps[top] >= SUPPORTED else None)
        n = len(candidates)
        supporters = Counter(tops)
        result = []
        for i, cands in enumerate(candidates):
            scored = []
            lo, hi = max(0, i - NEIGHBOURHOOD), min(n, i + NEIGHBOURHOOD + 1)
            for c in cands:
                doc = c.unit.doc_id
                neighbour = max((doc_best[j].get(doc, 0.0) for j in range(lo, hi) if j != i), default=0.0)
                article = (supporters[doc] - (tops[i] == doc)) / max(1, n - 1)  # other sentences only
                before, after = (
                    max((p for j in side for other, p in zip(candidates[j], base[j], strict=True)
                         if _in_order(c, i, other, j)), default=0.0)
                    for side in (range(lo, i), range(i + 1, hi))
                )  # fmt: skip
                f = {"cosine": c.cosine, "margin": c.margin, "neighbour": neighbour, "article": article,
                     "sequence": max(before, after), "sides": before + after}  # fmt: skip
                scored.append(Scored(c, f, self._gate(c, self.article(f))))
            scored.sort(key=lambda s: -s.confidence)
            result.append(scored)
        return result


def _in_order(c: Candidate, i: int, other: Candidate, j: int) -> bool:
    """Whether ``other`` (candidate of article sentence j) follows or precedes ``c`` (of
    sentence i) in the same source document as a translation's sentence order would."""
    if other.unit.doc_id != c.unit.doc_id:
        return False
    step = j - i
    gap = other.unit.first - c.unit.last if step > 0 else c.unit.first - other.unit.last
    return 0 <= gap <= SEQUENCE_GAP * abs(step)


def user_calibration_path() -> Path:
    """Where ``trace calibrate`` stores rules for the user's own models; they override shipped ones."""
    import platformdirs

    return Path(platformdirs.user_config_dir("tracer")) / CALIBRATION_FILE


def load_calibrations() -> dict[str, dict[str, object]]:
    text = resources.files("tracer").joinpath(CALIBRATION_FILE).read_text(encoding="utf-8")
    rules: dict[str, dict[str, object]] = json.loads(text)["rules"]
    user = user_calibration_path()
    if user.is_file():
        try:
            rules.update(json.loads(user.read_text(encoding="utf-8"))["rules"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{user} is not a tracer calibration file ({exc}); delete it or run `trace calibrate` again"
            ) from exc
    return rules


def rule_from_entry(model: str, entry: dict[str, object], calibrated: bool) -> DecisionRule:
    return DecisionRule(
        model=model,
        sentence=Logistic.from_dict(entry["sentence"]),  # type: ignore[arg-type]
        article=Logistic.from_dict(entry["article"]),  # type: ignore[arg-type]
        threshold=float(entry["threshold"]),  # type: ignore[arg-type]
        margin_k=int(entry["margin_k"]),  # type: ignore[call-overload]
        calibrated=calibrated,
        operating_point=str(entry["operating_point"]),
    )


def rule_for(model: str, calibrations: dict[str, dict[str, object]] | None = None) -> DecisionRule:
    table = calibrations if calibrations is not None else load_calibrations()
    if model in table:
        return rule_from_entry(model, table[model], calibrated=True)
    return rule_from_entry(model, table[GENERIC], calibrated=False)
