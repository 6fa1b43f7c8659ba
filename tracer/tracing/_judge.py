"""The verdict: is the best candidate the original of the sentence ("traced"), could it be
("possible": shown to editors as a near miss to check), or is there no source in the index
("no_source")?

Two logistic stages, fitted by ``trace calibrate`` and stored per model in ``calibration.json``:

1. own evidence: cosine; the margin over candidates making *other* claims (near-copies of a
   candidate, the same wire sentence at several outlets, are its ``carriers`` and no rivals);
   how many outlets carry it; how many of the sentence's names the candidate names too; how
   much of the sentence's wording has a counterpart in it (``recall``, for the best few); and
   whether the sentence credits the candidate's outlet inline (``credited``).
2. article evidence, on top of the first stage's log-odds (``evidence``): ``support`` counts
   the other sentences of the article, anywhere and in any order, whose candidates come from
   the same document (compiled news borrows from a few reports, re-ordered); ``sequence`` and
   ``sides`` count neighbours whose originals sit just before or after this one in that
   document, as a translated run keeps the original's order.

An inline credit settles which of close candidates is the original: when the sentence credits
an outlet ("Dalam laporan lainnya, TASS juga memberitakan ...") and that outlet has one of the
sentence's ``ALIGN_TOP`` candidates by cosine, within ``CREDIT_WITHIN`` of the best cosine, that
candidate comes first, with the confidence of the best (the credit says which source, the best
says how sure that a source says this). A credited outlet whose nearest passage is far below
the best does not carry the claim: the credit check then reports the mismatch.
In `trace eval`'s outcomes on the real cases and NTREX, no credited candidate so compared ranked
below a right best one; six that ranked below a wrong best (two real lines, four NTREX
sentences) were right (README).

Figures settle it too, before the credit: of the sentence's ``ALIGN_TOP`` candidates within
``ALIGN_WITHIN`` of the best cosine, one that states more of the sentence's quantities than the
best does comes first, with the best's confidence ("total manifes menjadi 49 orang": "На борту
находились 49 человек" ahead of "48 people were on board", which the article's other sentences
had lifted). Dates, times and designators ("AN-24") are not quantities (``_flags.quantities``).

Coherence may raise confidence, never be required: the confidence is the larger of the two
stages, and coherence weights are fitted non-negative. A sentence whose own evidence is strong
is traced whatever its neighbours; one without its own evidence is not forced onto a popular
source, because the article stage starts from that sentence's own log-odds.
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from tracer._errors import ConfigError
from tracer._types import SourceUnit
from tracer.tracing._align import ALIGN_TOP, ALIGN_WITHIN
from tracer.tracing._match import Candidate

CALIBRATION_FILE = "calibration.json"
RULE_VERSION = 2
"""Calibration entries name their feature set; entries of another version are refused with a fix."""
GENERIC = "*"
"""Fallback entry for models without their own calibration (cosine-free, so it travels)."""

SENTENCE_FEATURES = ("cosine", "margin", "carriers", "names", "recall", "credited")
MODEL_SCALED = ("cosine", "recall")
"""Features on the model's own similarity scale: left out of the generic rule, which travels."""
COHERENCE_FEATURES = ("support", "sequence", "sides")
ARTICLE_FEATURES = ("evidence", *COHERENCE_FEATURES)
NEIGHBOURHOOD = 2
"""Sentences on each side whose originals count as ``sequence`` or ``sides`` support."""
SEQUENCE_GAP = 2
"""How far (in source sentences) the original may advance per article sentence and still count
as in order: a translation may drop a sentence or merge two."""
CREDIT_WITHIN = 0.1
"""How far below the best cosine the credited outlet's candidate may be and still come first
(the real cases' and NTREX's right ones were 0.01-0.06 below)."""
SUPPORTERS = 3
"""``support`` is the mean of the best this many other sentences' confidence in the document."""
CARRIERS_CAP = 3
"""Carrying outlets beyond this many add nothing more."""
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


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    features: dict[str, float]
    confidence: float


def sentence_features(c: Candidate) -> dict[str, float]:
    return {"cosine": c.cosine, "margin": c.margin, "carriers": min(c.carriers, CARRIERS_CAP) / CARRIERS_CAP,
            "names": c.names, "recall": c.recall or 0.0, "credited": float(c.credited)}  # fmt: skip


@dataclass(frozen=True)
class DecisionRule:
    model: str
    sentence: Logistic
    article: Logistic
    threshold: float
    margin_k: int
    calibrated: bool
    operating_point: str
    possible: float | None = None
    """Confidence from which an untraced sentence is shown as a "possible" source (None: never)."""
    min_cosine: float = MIN_COSINE

    def traced(self, best: Scored) -> bool:
        return best.confidence >= self.threshold

    def status(self, scored: Sequence[Scored]) -> str:
        if not scored:
            return "no_source"
        if self.traced(scored[0]):
            return "traced"
        if self.possible is not None and scored[0].confidence >= self.possible:
            return "possible"
        return "no_source"

    def with_threshold(self, threshold: float | None) -> DecisionRule:
        if threshold is None:
            return self
        possible = None if self.possible is None else min(self.possible, threshold)
        return replace(self, threshold=threshold, possible=possible,
                       operating_point=f"threshold {threshold} set by the user")  # fmt: skip

    def describe(self) -> dict[str, object]:
        return {
            "model": self.model,
            "calibrated": self.calibrated,
            "threshold": self.threshold,
            "possible": self.possible,
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
        own = [[sentence_features(c) for c in cands] for cands in candidates]
        base = [[self._gate(c, self.sentence(f)) for c, f in zip(cands, fs, strict=True)]
                for cands, fs in zip(candidates, own, strict=True)]  # fmt: skip
        # each sentence's candidates by document: a neighbour's are looked at only in the same one
        by_doc: list[dict[int, list[tuple[SourceUnit, float]]]] = []
        for cands, ps in zip(candidates, base, strict=True):
            rows: dict[int, list[tuple[SourceUnit, float]]] = {}
            for c, p in zip(cands, ps, strict=True):
                rows.setdefault(c.unit.doc_id, []).append((c.unit, p))
            by_doc.append(rows)
        n = len(candidates)
        # per document, the sentences most confident in it (one more than counted, so a sentence
        # can leave itself out): support in O(sentences x candidates), not its square
        leaders: dict[int, list[tuple[float, int]]] = {}
        for j, docs in enumerate(by_doc):
            for doc, units in docs.items():
                leaders.setdefault(doc, []).append((max(q for _, q in units), j))
        leaders = {doc: heapq.nlargest(SUPPORTERS + 1, rows) for doc, rows in leaders.items()}
        result = []
        for i, cands in enumerate(candidates):
            scored: list[Scored] = []
            lo, hi = max(0, i - NEIGHBOURHOOD), min(n, i + NEIGHBOURHOOD + 1)
            for c, f, p in zip(cands, own[i], base[i], strict=True):
                others = [q for q, j in leaders.get(c.unit.doc_id, ()) if j != i]
                before, after = (
                    max((q for j in side for other, q in by_doc[j].get(c.unit.doc_id, ())
                         if _in_order(c.unit, i, other, j)), default=0.0)
                    for side in (range(lo, i), range(i + 1, hi))
                )  # fmt: skip
                features = {**f, "evidence": _logit(p), "support": sum(others[:SUPPORTERS]) / SUPPORTERS,
                            "sequence": max(before, after), "sides": before + after}  # fmt: skip
                confidence = max(p, self._gate(c, self.article(features)))
                scored.append(Scored(c, features, confidence))
            scored.sort(key=lambda s: -s.confidence)
            best = max((c.cosine for c in cands), default=0.0)
            # under min_cosine no candidate is promoted: none is traced there
            near = [c for c in cands[:ALIGN_TOP] if c.cosine >= self.min_cosine]
            scored = _figures_first(scored, [c for c in near if best - c.cosine <= ALIGN_WITHIN])
            result.append(_credited_first(scored, [c for c in near if c.credited and best - c.cosine <= CREDIT_WITHIN]))
        return result


def _promoted(scored: list[Scored], pick: Scored | None) -> list[Scored]:
    """``pick`` first, with the best's confidence if that is higher."""
    if pick is None or pick is scored[0]:
        return scored
    return [replace(pick, confidence=max(pick.confidence, scored[0].confidence)), *(s for s in scored if s is not pick)]


def _figures_first(scored: list[Scored], close: Sequence[Candidate]) -> list[Scored]:
    """Of ``close`` (candidates near the best by cosine), the one stating the most of the
    sentence's quantities first, if it states more than the best does; see the module docstring."""
    lead = scored[0].candidate.quantities if scored else 0
    stating = [s for s in scored if s.candidate.quantities > lead and any(s.candidate is c for c in close)]
    return _promoted(scored, max(stating, key=lambda s: s.candidate.quantities, default=None))


def _credited_first(scored: list[Scored], credited: Sequence[Candidate]) -> list[Scored]:
    """The credited outlet's best-scored candidate among ``credited`` (those close to the best by
    cosine) first; see the module docstring."""
    return _promoted(scored, next((s for s in scored if any(s.candidate is c for c in credited)), None))


def _in_order(unit: SourceUnit, i: int, other: SourceUnit, j: int) -> bool:
    """Whether ``other`` (a candidate of article sentence j) follows or precedes ``unit`` (of
    sentence i) in the same source document as a translation's sentence order would."""
    if other.doc_id != unit.doc_id:
        return False
    step = j - i
    gap = other.first - unit.last if step > 0 else unit.first - other.last
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
    if entry.get("version") != RULE_VERSION:
        raise ConfigError(
            f"the calibration of {model!r} was made by an older tracer (its features have changed); "
            f"run `trace calibrate` again, or delete {user_calibration_path()}"
        )
    possible = entry.get("possible")
    return DecisionRule(
        model=model,
        sentence=Logistic.from_dict(entry["sentence"]),  # type: ignore[arg-type]
        article=Logistic.from_dict(entry["article"]),  # type: ignore[arg-type]
        threshold=float(entry["threshold"]),  # type: ignore[arg-type]
        margin_k=int(entry["margin_k"]),  # type: ignore[call-overload]
        calibrated=calibrated,
        operating_point=str(entry["operating_point"]),
        possible=None if possible is None else float(possible),  # type: ignore[arg-type]
    )


def rule_for(model: str, calibrations: dict[str, dict[str, object]] | None = None) -> DecisionRule:
    table = calibrations if calibrations is not None else load_calibrations()
    if model in table:
        return rule_from_entry(model, table[model], calibrated=True)
    return rule_from_entry(model, table[GENERIC], calibrated=False)
