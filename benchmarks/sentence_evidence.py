"""Sentence evidence tried beside word recall, and not kept: each variant's rule is fitted the
way `trace calibrate` fits the shipped one and scored as `benchmarks/real_cases.py` scores it
(real cases left out one at a time, and in-sample; NTREX test half, both layouts):

    python benchmarks/sentence_evidence.py [--ntrex PATH] [--cases DIR] [--runs 3]

- recall from an intermediate layer's word pieces (cross-lingual word aligners such as SimAlign
  read mBERT/XLM-R's middle layers, not the last), in float32 through torch;
- precision (how much of the candidate's wording has a counterpart in the sentence) and F1, as
  a seventh feature beside recall;
- a two-sided margin: bitext mining scores a pair against both sides' neighbourhoods, here the
  candidate's cosine to the article's *other* sentences (a same-story summary sentence is close
  to many of them, an original to one);
- consensus: how close the other outlets' candidates (of the best 8) come to this one by their
  own vectors, as ``carriers`` counts them at 0.85, here at 0.75 (a claim several outlets state
  in their own words);
- comparing word by word, besides the best 4 within 0.05 of the best cosine, those of the best 4
  within 0.1 whose document the sentence's neighbours follow in order (``sequence`` >= 0.5, read
  with the rule fitted on everything, so the left-out folds see a little of their own case).

The data are traced once with word recall for the best 6 candidates whatever their cosine, as
`trace` encodes here; each row then reads its evidence off them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import torch
from _wide import trace_wide, wide_args

from tracer import DEFAULT_MODEL
from tracer.evaluation import _evaluate
from tracer.evaluation._evaluate import Outcome, calibrate, decide, pooled_score, score
from tracer.model._embed import unit_rows, word_rows
from tracer.tracing import _align, _judge
from tracer.tracing._trace import query_texts

LAYERS = (8, 10, 12)
Key = tuple[int, int]
"""(outcome's position, candidate unit's id)"""


def layer_pieces(
    model: object, texts: list[str], prompt: str, batch: int = 32
) -> list[tuple[list[str], dict[int, np.ndarray]]]:
    """Each text's word pieces and their vectors (unit rows, words only) at each of ``LAYERS``."""
    tokenizer, encoder = model.tokenizer, model[0].auto_model  # type: ignore[attr-defined, index]
    out: list[tuple[list[str], dict[int, np.ndarray]]] = [([], {}) for _ in texts]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for s in range(0, len(order), batch):
        idx = order[s : s + batch]
        enc = tokenizer([prompt + texts[i] for i in idx], truncation=True, max_length=512, padding=True,
                        return_offsets_mapping=True, return_tensors="pt")  # fmt: skip
        offsets = enc.pop("offset_mapping")
        with torch.inference_mode():
            states = encoder(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                             output_hidden_states=True).hidden_states  # fmt: skip
        for b, i in enumerate(idx):
            n = int(enc["attention_mask"][b].sum())
            pieces = tokenizer.convert_ids_to_tokens(enc["input_ids"][b][:n].tolist())
            rows = word_rows(pieces, [tuple(x) for x in offsets[b][:n].tolist()], len(prompt))
            out[i] = (
                [pieces[r] for r in rows],
                {layer: unit_rows(states[layer][b][rows].float().numpy()) for layer in LAYERS},
            )
    return out


def articles_of(outcomes: list[Outcome]) -> dict[int, list[int]]:
    groups: dict[tuple[bool, int], list[int]] = defaultdict(list)
    for n, o in enumerate(outcomes):
        groups[(o.query.layout == "real", o.query.article)].append(n)
    return {n: ns for ns in groups.values() for n in ns}


def word_evidence(base: object, outcomes: list[Outcome]) -> dict[Key, dict[str, float]]:
    """Recall at each layer and precision (last layer) for every compared candidate."""
    info = base.info  # type: ignore[attr-defined]
    model = base.model  # type: ignore[attr-defined]
    queries = layer_pieces(model, [query_texts([o.query.text])[0] for o in outcomes], info.query_prompt)
    texts = sorted({c.unit.text for o in outcomes for c, k in zip(o.candidates, compared(o), strict=True) if k})
    passages = dict(zip(texts, layer_pieces(model, texts, info.passage_prompt), strict=True))
    article = articles_of(outcomes)
    weights: dict[int, np.ndarray] = {}
    for n in range(len(outcomes)):
        if n not in weights:
            ns = article[n]
            weights.update(zip(ns, _align.rarity_weights([queries[m][0] for m in ns]), strict=True))
    out: dict[Key, dict[str, float]] = {}
    for n, o in enumerate(outcomes):
        q = queries[n][1]
        for c, k in zip(o.candidates, compared(o), strict=True):
            if k:
                p = passages[c.unit.text][1]
                row = {f"recall{layer}": _align.token_recall(q[layer], p[layer], weights[n]) for layer in LAYERS}
                sims = q[12] @ p[12].T
                row["precision"] = float(sims.max(axis=0).mean()) if sims.size else 0.0
                out[(n, c.unit.id)] = row
    return out


def vector_evidence(base: object, outcomes: list[Outcome]) -> tuple[dict[Key, float], dict[Key, float]]:
    """For each of the best 4 candidates: its cosine to the sentence minus its mean cosine to its
    best 2 of the article's other sentences; and how many other outlets' candidates of the best 8
    come within 0.75 of it by their own vectors (at most 3, scaled to 0-1 as ``carriers``)."""
    queries = base.embed([query_texts([o.query.text])[0] for o in outcomes], role="query")  # type: ignore[attr-defined]
    texts = sorted({c.unit.text for o in outcomes for c in o.candidates[:8]})
    units = dict(zip(texts, base.embed(texts, role="passage"), strict=True))  # type: ignore[attr-defined]
    article = articles_of(outcomes)
    back: dict[Key, float] = {}
    consensus: dict[Key, float] = {}
    for n, o in enumerate(outcomes):
        others = queries[[m for m in article[n] if m != n]]
        near = o.candidates[:8]
        vectors = np.stack([units[c.unit.text] for c in near]) if near else np.zeros((0, 1))
        for i, c in enumerate(near[:4]):
            v = vectors[i]
            closest = np.sort(others @ v)[::-1][:2] if len(others) else np.zeros(1)
            back[(n, c.unit.id)] = float(queries[n] @ v - closest.mean())
            outlets = {x.unit.doc_id for x, sim in zip(near, vectors @ v, strict=True)
                       if x.unit.doc_id != c.unit.doc_id and sim >= 0.75}  # fmt: skip
            consensus[(n, c.unit.id)] = min(len(outlets), 3) / 3
    return back, consensus


def compared(o: Outcome, within: float = _align.ALIGN_WITHIN) -> list[bool]:
    return _align.compared(o.candidates, _align.ALIGN_TOP, within)


def variant(outcomes: list[Outcome], keep: Callable[[int, Outcome], list[bool]],
            recall: Callable[[Key, float | None], float | None] = lambda key, r: r) -> list[Outcome]:  # fmt: skip
    """The outcomes with only ``keep``'s candidates compared, their recall through ``recall``."""
    out = []
    for n, o in enumerate(outcomes):
        cands = [replace(c, recall=recall((n, c.unit.id), c.recall)) if k else replace(c, recall=None)
                 for c, k in zip(o.candidates, keep(n, o), strict=True)]  # fmt: skip
        out.append(replace(o, candidates=cands))
    return out


@contextmanager
def extra_feature(name: str, values: dict[int, float]) -> Iterator[tuple[str, ...]]:
    """The sentence stage with one more feature, read from ``values`` by candidate identity."""
    plain = _judge.sentence_features

    def features(c):  # type: ignore[no-untyped-def]
        return {**plain(c), name: values.get(id(c), 0.0)}

    _judge.sentence_features = _evaluate.sentence_features = features  # type: ignore[assignment]
    _evaluate.SENTENCE_FEATURES = (*_judge.SENTENCE_FEATURES, name)  # type: ignore[misc]
    try:
        yield _evaluate.SENTENCE_FEATURES
    finally:
        _judge.sentence_features = _evaluate.sentence_features = plain  # type: ignore[assignment]
        _evaluate.SENTENCE_FEATURES = _judge.SENTENCE_FEATURES  # type: ignore[misc]


def figures(label: str, outcomes: list[Outcome], n_ntrex: int, features: tuple[str, ...]) -> None:
    ntrex, real = outcomes[:n_ntrex], outcomes[n_ntrex:]
    calib = [o for o in ntrex if o.query.split == "calib"]
    test = [o for o in ntrex if o.query.split == "test"]
    full, abl, nt = [], [], []
    for held in sorted({o.query.split for o in real}):
        rule, _ = calibrate(calib + [o for o in real if o.query.split != held], model=DEFAULT_MODEL, margin_k=4,
                            features=features)  # fmt: skip
        mine = [o for o in real if o.query.split == held]
        full.append(([o for o in mine if o.query.doc_id == held], rule))
        abl.append(([o for o in mine if o.query.doc_id != held], rule))
        nt.append((test, rule))
    f, a, n = pooled_score(full), pooled_score(abl), pooled_score(nt)
    rule, _ = calibrate(calib + real, model=DEFAULT_MODEL, margin_k=4, features=features)
    fi = score([o for o in real if o.query.doc_id == o.query.split], rule)
    ai = score([o for o in real if o.query.doc_id != o.query.split], rule)
    mixed = score([o for o in test if o.query.layout == "mixed"], rule)
    print(f"{label:<58} {f['top1']:>6.3f} {a['top1']:>6.3f} {a['wrong_source']:>6.3f} {n['top1']:>6.3f} "
          f"{n['wrong_source']:>6.3f} | {fi['top1']:>6.3f} {ai['top1']:>6.3f} {ai['wrong_source']:>6.3f} "
          f"{mixed['top1']:>6.3f} {mixed['wrong_source']:>6.3f}", flush=True)  # fmt: skip


def main() -> None:
    args = wide_args()
    base, ntrex, real = trace_wide(args.ntrex, args.cases, args.runs, 6, 1.0)
    wide = ntrex + real
    words = word_evidence(base, wide)
    back, consensus = vector_evidence(base, wide)
    plain = _judge.SENTENCE_FEATURES
    print("real cases left out: full top1, ablated top1, ablated wrong-source, NTREX test (both layouts) "
          "top1, wrong-source | in-sample: full, ablated, wrong-source, NTREX mixed top1, wrong-source")  # fmt: skip
    shipped = variant(wide, lambda n, o: compared(o))
    figures("tracer (recall from the last layer, as traced)", shipped, len(ntrex), plain)
    for name, label in (("recall12", "recall, last layer in float32 (control)"),
                        ("recall10", "recall from layer 10"), ("recall8", "recall from layer 8")):  # fmt: skip
        figures(label, variant(wide, lambda n, o: compared(o), lambda key, r, f=name: words[key][f]), len(ntrex), plain)  # type: ignore[misc]
    for name, label, value in (
        ("precision", "+ precision", lambda w: w["precision"]),
        ("f1", "+ F1 of recall and precision", lambda w: 2 * w["precision"] * w["recall12"] / (w["precision"] + w["recall12"])),
    ):  # fmt: skip
        values = {id(c): value(words[(n, c.unit.id)]) for n, o in enumerate(shipped) for c in o.candidates
                  if c.recall is not None}  # fmt: skip
        with extra_feature(name, values) as features:
            figures(label, shipped, len(ntrex), features)
    values = {id(c): back[(n, c.unit.id)] for n, o in enumerate(shipped) for c in o.candidates[:4]}
    with extra_feature("back", values) as features:
        figures("+ two-sided margin (the article's other sentences)", shipped, len(ntrex), features)
    values = {id(c): consensus[(n, c.unit.id)] for n, o in enumerate(shipped) for c in o.candidates[:4]}
    with extra_feature("consensus", values) as features:
        figures("+ consensus (other outlets' candidates within 0.75)", shipped, len(ntrex), features)
    # which candidates the sentence's neighbours follow in order, by the rule fitted on the shipped evidence
    rule, _ = calibrate([o for o in shipped[: len(ntrex)] if o.query.split == "calib"] + shipped[len(ntrex) :],
                        model=DEFAULT_MODEL, margin_k=4)  # fmt: skip
    sequence = {(n, s.candidate.unit.id): s.features["sequence"]
                for n, (_, scored) in enumerate(decide_in_order(shipped, rule)) for s in scored}  # fmt: skip
    widened = variant(wide, lambda n, o: [k or (r < 4 and sequence.get((n, c.unit.id), 0.0) >= 0.5 and w)
                                          for r, (c, k, w) in enumerate(zip(o.candidates, compared(o), compared(o, 0.1), strict=True))])  # fmt: skip
    figures("+ in-order candidates within 0.1 compared too", widened, len(ntrex), plain)


def decide_in_order(outcomes: list[Outcome], rule: _judge.DecisionRule) -> list[tuple[Outcome, list[_judge.Scored]]]:
    """``decide``'s verdicts in the outcomes' own order (it groups them by article)."""
    position = {id(o): n for n, o in enumerate(outcomes)}
    return sorted(decide(outcomes, rule), key=lambda pair: position[id(pair[0])])


if __name__ == "__main__":
    main()
