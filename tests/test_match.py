"""Candidate grouping, margins, the two-stage decision and the sources summary, on hand-made units."""

from __future__ import annotations

import numpy as np
import pytest

from tracer import ConfigError, SourceDoc, SourceUnit
from tracer.report._report import Match, SentenceResult, summarize_sources
from tracer.tracing._judge import DecisionRule, Logistic, rule_for, rule_from_entry
from tracer.tracing._match import Candidate, distinct, with_margins

DOC_A = SourceDoc("https://a.example/1", "A", "en", "", "2024-11-05")
DOC_B = SourceDoc("https://b.example/1", "B", "ru", "", None)


def unit(uid: int, doc_id: int, first: int, last: int, text: str = "") -> SourceUnit:
    doc = DOC_A if doc_id == 1 else DOC_B
    return SourceUnit(uid, doc_id, doc, first, last, first * 10, last * 10 + 9, text or f"{doc_id}:{first}-{last}")


def test_overlapping_units_fold_into_the_best() -> None:
    hits = [(unit(1, 1, 2, 2), 0.90), (unit(2, 1, 1, 2), 0.85), (unit(3, 2, 0, 0), 0.84), (unit(4, 1, 2, 3), 0.80)]
    assert [(u.id, s) for u, s in distinct(hits)] == [(1, 0.90), (3, 0.84)]


def test_a_merged_sentence_is_reported_as_covering_both_originals() -> None:
    # The window 2-3 and sentence 3 both come close to sentence 2: the article sentence merges them.
    hits = [(unit(1, 1, 2, 2), 0.920), (unit(2, 1, 2, 3), 0.903), (unit(3, 1, 3, 3), 0.894), (unit(4, 2, 0, 0), 0.86)]
    assert [(u.id, u.first, u.last, s) for u, s in distinct(hits)] == [(2, 2, 3, 0.920), (4, 0, 0, 0.86)]


def test_a_weak_window_does_not_widen_the_match() -> None:
    hits = [(unit(1, 1, 1, 1), 0.879), (unit(2, 1, 0, 1), 0.854), (unit(3, 1, 0, 0), 0.851)]
    assert [u.id for u, _ in distinct(hits)] == [1, 3]


def test_a_lower_sentence_never_swallows_a_better_one() -> None:
    hits = [(unit(1, 1, 1, 1), 0.906), (unit(5, 2, 0, 0), 0.87), (unit(2, 1, 2, 2), 0.862), (unit(3, 1, 1, 2), 0.867)]
    assert [u.id for u, _ in distinct(hits)] == [1, 5, 2]


def test_margin_ignores_the_same_sentence_from_another_outlet() -> None:
    same = "Peskov called the reports a hoax."
    hits = [
        (unit(1, 1, 0, 0, same), 0.90),
        (unit(2, 2, 0, 0, same), 0.90),
        (unit(3, 2, 5, 5), 0.80),
        (unit(4, 1, 7, 7), 0.78),
    ]
    cands = with_margins(hits, k=2)
    assert [round(c.margin, 3) for c in cands] == [0.11, 0.11, -0.1, -0.12]


def test_near_copies_carry_the_claim_and_leave_the_margin() -> None:
    # Candidates 1 (doc A) and 2 (doc B) are near-copies by their own vectors (the same wire
    # sentence, lightly edited); 3 and 4 make other claims.
    hits = [(unit(1, 1, 0, 0, "a"), 0.80), (unit(2, 2, 0, 0, "b"), 0.79), (unit(3, 2, 5, 5), 0.70),
            (unit(4, 1, 7, 7), 0.68)]  # fmt: skip
    e = np.eye(4, dtype=np.float32)
    vectors = np.stack([e[0], 0.9 * e[0] + np.sqrt(1 - 0.81) * e[1], e[2], e[3]])
    cands = with_margins(hits, k=2, vectors=vectors)
    assert [c.carriers for c in cands] == [1, 1, 0, 0]
    assert [round(c.margin, 3) for c in cands] == [0.11, 0.1, -0.095, -0.115]
    # without the vectors the near-copy is a rival and the claim's margin collapses
    assert [round(c.margin, 3) for c in with_margins(hits, k=2)][:2] == [0.055, 0.04]


def test_a_carrier_in_the_same_document_is_no_other_outlet() -> None:
    hits = [(unit(1, 1, 0, 0, "a"), 0.80), (unit(2, 1, 4, 4, "b"), 0.79)]
    cands = with_margins(hits, k=2, vectors=np.ones((2, 3), np.float32) / np.sqrt(3))
    assert [c.carriers for c in cands] == [0, 0]


RULE = DecisionRule(
    model="m",
    sentence=Logistic(-30.0, {"cosine": 0.0, "margin": 1000.0}),
    article=Logistic(-1.0, {"evidence": 1.0, "support": 4.0, "sequence": 0.0, "sides": 0.0}),
    threshold=0.5,
    margin_k=4,
    calibrated=True,
    operating_point="test",
    possible=0.2,
)


def cand(uid: int, doc_id: int, margin: float, cosine: float = 0.85) -> Candidate:
    return Candidate(unit(uid, doc_id, uid, uid), cosine=cosine, margin=margin)


def test_the_credited_outlets_candidate_among_the_best_comes_first_with_the_best_confidence() -> None:
    from dataclasses import replace

    best, credited, far = cand(1, 1, 0.05, 0.86), replace(cand(2, 2, 0.01, 0.84), credited=True), cand(3, 1, 0.0, 0.5)
    [scored] = RULE.score_article([[best, credited, far]])
    assert [s.candidate.unit.id for s in scored] == [2, 1, 3]
    assert scored[0].confidence == scored[1].confidence == RULE.score_article([[best]])[0][0].confidence
    assert scored[0].candidate.credited
    # uncredited, the same candidates keep their own order and confidences
    [plain] = RULE.score_article([[best, replace(credited, credited=False), far]])
    assert [s.candidate.unit.id for s in plain] == [1, 2, 3]
    assert plain[1].confidence < plain[0].confidence
    # a credited outlet's candidate below the best four by cosine settles nothing
    fillers = [cand(10 + i, 1, 0.0, 0.8 - i / 100) for i in range(3)]
    late = replace(cand(20, 2, 0.0, 0.7), credited=True)
    [ranked] = RULE.score_article([[best, *fillers, late]])
    assert ranked[0].candidate.unit.id == 1
    # nor one among them far below the best: that outlet does not carry the claim
    [distant] = RULE.score_article([[best, replace(cand(2, 2, 0.01, 0.75), credited=True), far]])
    assert distant[0].candidate.unit.id == 1
    [near] = RULE.score_article([[best, replace(cand(2, 2, 0.01, 0.77), credited=True), far]])
    assert near[0].candidate.unit.id == 2
    # nor one under the cosine no candidate is traced below, whatever the best's confidence
    low_best, low_credited = cand(1, 1, 0.05, 0.55), replace(cand(2, 2, 0.01, 0.48), credited=True)
    [low] = RULE.score_article([[low_best, low_credited]])
    assert low[0].candidate.unit.id == 1 and low[1].confidence == 0.0


def test_the_close_candidate_stating_the_sentences_figures_comes_first_with_the_best_confidence() -> None:
    from dataclasses import replace

    # "total manifes menjadi 49 orang": best "48 people were on board" (0 of its figures),
    # second "На борту находились 49 человек" (1 of 1), 0.03 below by cosine
    best, stating, far = cand(1, 1, 0.05, 0.86), replace(cand(2, 2, 0.01, 0.83), quantities=1), cand(3, 1, 0.0, 0.5)
    [scored] = RULE.score_article([[best, stating, far]])
    assert [s.candidate.unit.id for s in scored] == [2, 1, 3]
    assert scored[0].confidence == scored[1].confidence == RULE.score_article([[best]])[0][0].confidence
    # the best stating as many keeps its place
    [same] = RULE.score_article([[replace(best, quantities=1), stating, far]])
    assert [s.candidate.unit.id for s in same] == [1, 2, 3]
    # of two stating more, the one stating the most; of equals, the better scored
    more = replace(cand(4, 2, 0.02, 0.84), quantities=2)
    [most] = RULE.score_article([[best, stating, more]])
    assert [s.candidate.unit.id for s in most] == [4, 1, 2]
    # farther than ALIGN_WITHIN below the best by cosine, or under min_cosine: it settles nothing
    [distant] = RULE.score_article([[best, replace(stating, cosine=0.80)]])
    assert distant[0].candidate.unit.id == 1
    low_best, low_stating = cand(1, 1, 0.05, 0.52), replace(cand(2, 2, 0.01, 0.49), quantities=1)
    [low] = RULE.score_article([[low_best, low_stating]])
    assert low[0].candidate.unit.id == 1
    # an inline credit has the last word: the credited outlet's close candidate still comes first
    credited = replace(cand(5, 2, 0.0, 0.84), credited=True)
    [both] = RULE.score_article([[best, stating, credited]])
    assert [s.candidate.unit.id for s in both] == [5, 2, 1]


def test_strong_own_evidence_is_traced_without_any_support() -> None:
    alone = [[cand(1, 1, 0.05)]]
    [[scored]] = RULE.score_article(alone)
    assert scored.features["support"] == 0.0 and scored.features["sequence"] == 0.0
    assert RULE.status([scored]) == "traced"


def test_support_from_the_same_document_anywhere_in_the_article_raises_a_borderline_sentence() -> None:
    # Sentence 0 alone is borderline for doc A (own confidence ~0.27); sentences 3 and 5, far
    # away and out of order, trace confidently to doc A: support counts them, order does not matter.
    article = [[cand(40, 1, 0.029), cand(2, 2, 0.028)], [cand(9, 2, -0.1)], [cand(8, 2, -0.1)],
               [cand(12, 1, 0.05)], [cand(7, 2, -0.1)], [cand(3, 1, 0.05)]]  # fmt: skip
    scored = RULE.score_article(article)
    first = scored[0][0]
    assert first.candidate.unit.doc_id == 1
    assert first.features["support"] == pytest.approx(2 / 3, abs=1e-3)
    assert first.features["sequence"] == 0.0
    assert RULE.status(scored[0]) == "traced"
    # without the two supporting sentences it is only a possible source
    alone = RULE.score_article(article[:3])
    assert RULE.status(alone[0]) == "possible"


def test_coherence_never_lowers_a_sentence_below_its_own_evidence() -> None:
    own = RULE.sentence({"cosine": 0.85, "margin": 0.05})
    article = [[cand(1, 1, 0.05)], [cand(2, 2, -0.2)], [cand(3, 2, -0.2)]]
    assert RULE.score_article(article)[0][0].confidence >= own


def test_sequence_counts_neighbours_only_when_their_originals_keep_the_order() -> None:
    # unit(uid, doc, first, last): candidates of sentences 0, 1, 2 at source positions 10, 11, 12
    in_order = [[cand(10, 1, 0.05)], [cand(11, 1, 0.05)], [cand(12, 1, 0.05)]]
    assert [s[0].features["sequence"] for s in RULE.score_article(in_order)] == pytest.approx([1.0, 1.0, 1.0], abs=1e-6)
    # the same document, but sentence 1's candidate sits far before sentence 0's (another article
    # on the same story would match like this): support, but no sequence support
    scrambled = [[cand(10, 1, 0.05)], [cand(2, 1, 0.05)], [cand(30, 1, 0.05)]]
    scored = RULE.score_article(scrambled)
    assert [s[0].features["sequence"] for s in scored] == [0.0, 0.0, 0.0]
    assert scored[1][0].features["support"] == pytest.approx(2 / 3, abs=1e-3)
    # skipping one source sentence per article sentence still counts; skipping more does not
    gaps = [[cand(10, 1, 0.05)], [cand(12, 1, 0.05)], [cand(16, 1, 0.05)]]
    assert [s[0].features["sequence"] for s in RULE.score_article(gaps)] == pytest.approx([1.0, 1.0, 0.0], abs=1e-6)


def test_sides_adds_the_support_from_before_and_after() -> None:
    # sentences 0-3 at source positions 10-13: the inner two are flanked on both sides
    run = [[cand(10 + i, 1, 0.05)] for i in range(4)]
    assert [s[0].features["sides"] for s in RULE.score_article(run)] == pytest.approx([1, 2, 2, 1], abs=1e-6)
    # sentence 1 matches far out of order: no support either way; sentence 2 is still flanked,
    # by sentence 0 two back (one source sentence skipped per step is allowed) and sentence 3
    broken = [[cand(10, 1, 0.05)], [cand(30, 1, 0.05)], [cand(12, 1, 0.05)], [cand(13, 1, 0.05)]]
    scored = RULE.score_article(broken)
    assert [s[0].features["sides"] for s in scored] == pytest.approx([1, 0, 2, 1], abs=1e-6)
    assert [s[0].features["sequence"] for s in scored] == pytest.approx([1, 0, 1, 1], abs=1e-6)


def test_support_does_not_force_a_source_on_a_sentence_without_evidence() -> None:
    article = [[cand(1, 1, 0.05)], [cand(2, 1, -0.02)], [cand(3, 1, 0.05)]]
    assert RULE.status(RULE.score_article(article)[1]) == "no_source"


def test_user_threshold_overrides_the_calibrated_one() -> None:
    assert RULE.with_threshold(0.9).threshold == 0.9
    assert RULE.with_threshold(0.1).possible == 0.1  # the possible band never starts above the threshold
    assert RULE.with_threshold(None) is RULE


def test_a_calibration_of_an_older_tracer_is_refused_with_the_fix() -> None:
    old = {"sentence": {"bias": 0, "weights": {}}, "article": {"bias": 0, "weights": {"neighbour": 1}},
           "threshold": 0.2, "margin_k": 4, "operating_point": "x"}  # fmt: skip
    with pytest.raises(ConfigError, match=r"made by an older tracer .* run `trace calibrate` again"):
        rule_from_entry("m", old, calibrated=True)


def test_shipped_calibration_covers_the_default_model_and_a_generic_rule() -> None:
    assert rule_for("multilingual-e5-small").calibrated
    generic = rule_for("some/other-model")
    assert not generic.calibrated
    assert generic.sentence.weights.get("cosine", 0.0) == 0.0
    assert 0.0 < generic.threshold < 1.0


def match(url: str) -> Match:
    return Match(0.9, 0.9, 0.05, "t", "en", url[8], url, "", None, [0], 0, 1)


def test_sources_most_used_first() -> None:
    sentences = [
        SentenceResult(0, "s", 0, 1, "traced", [match("https://b.example")]),
        SentenceResult(1, "s", 0, 1, "traced", [match("https://a.example")]),
        SentenceResult(2, "s", 0, 1, "no_source", [match("https://c.example")]),
        SentenceResult(3, "s", 0, 1, "traced", [match("https://a.example")]),
    ]
    assert [(s.url, s.sentences) for s in summarize_sources(sentences)] == [
        ("https://a.example", [1, 3]),
        ("https://b.example", [0]),
    ]


def test_an_undated_source_is_left_out_of_the_earliest_comparison() -> None:
    dated = match("https://a.example")
    undated = Match(0.9, 0.9, 0.05, "t", "en", "b", "https://b.example", "", None, [0], 0, 1)
    dated = Match(**{**dated.__dict__, "published": "2024-11-05"})
    sentences = [SentenceResult(0, "s", 0, 1, "traced", [dated]), SentenceResult(1, "s", 0, 1, "traced", [undated])]
    assert [(s.url, s.earliest) for s in summarize_sources(sentences)] == [
        ("https://a.example", True),
        ("https://b.example", None),
    ]


def test_no_verdict_below_the_cosine_floor_whatever_the_margin() -> None:
    low = Candidate(unit(1, 1, 0, 0), cosine=RULE.min_cosine - 0.01, margin=0.5)
    [[scored]] = RULE.score_article([[low]])
    assert scored.confidence == 0.0
    assert RULE.status([scored]) == "no_source"


def test_candidates_carry_how_many_of_the_sentences_names_and_figures_they_state() -> None:
    from tracer.tracing._align import ALIGN_TOP
    from tracer.tracing._match import find_candidates
    from tracer.tracing._trace import with_figures

    texts = {1: "The Emergency Ministry later reported 48 people were on board.",
             2: "Губернатор Орлов: на борту находились 49 человек, включая шесть членов экипажа."}  # fmt: skip
    units = {i: unit(i, i, 0, 0, t) for i, t in texts.items()}

    class Index:
        def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
            return np.array([[0.70, 0.69]], np.float32), np.array([[1, 2]])

        def units(self, ids: object) -> dict[int, SourceUnit]:
            return units

        def unit_vectors(self, ids: list[int]) -> np.ndarray:
            return np.eye(len(ids), 4, dtype=np.float32)

    sentence = "Menurut Gubernur Orlov, total manifes menjadi 49 orang termasuk enam awak."
    found = find_candidates(Index(), np.zeros((1, 4), np.float32), k=2, margin_k=1, texts=[sentence])
    [cands] = with_figures([sentence], found)
    assert [(c.unit.id, c.quantities, c.names) for c in cands] == [(1, 0, 0.0), (2, 2, 1.0)]
    # past the best ALIGN_TOP, which the judge never puts first, figures are not counted
    late = [found[0][0]] * ALIGN_TOP + [found[0][1]]
    assert [c.quantities for c in with_figures([sentence], [late])[0]] == [0] * (ALIGN_TOP + 1)
