"""`trace eval` and `trace calibrate` as library calls: index parallel data or real cases in a
scratch directory, trace them through the same code path as `trace`, and score or fit the rule.

Sits above both halves (it builds scratch indexes); the CLI only parses options and prints.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from tracer._errors import InputError
from tracer.model import _embed
from tracer.model._embed import Embedder, Notify, log_notice

log = logging.getLogger("tracer")


def layouts_of(layout: str) -> tuple[str, ...]:
    return ("runs", "mixed") if layout == "all" else (layout,)


def ablate_seeds(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise InputError(f"--ablate takes comma-separated seeds such as 1,2,3 (or ''), got {text!r}") from None


def _passages(query: Embedder, backend: str, notify: Notify) -> tuple[Embedder, str]:
    from index import passage_embedder

    return passage_embedder(query, backend, notify)  # type: ignore[arg-type]


def _as_traced(embedder: Embedder, base: Embedder, notify: Notify) -> Embedder:
    """Articles encoded as `trace` encodes them on this machine ($TRACER_PRECISION, else bf16 where native)."""
    from tracer.model._onnx import as_traced, query_precision

    precision = query_precision()
    if not isinstance(base, _embed.SentenceTransformerEmbedder):
        return embedder
    traced = as_traced(embedder, base, precision, notify)
    if traced is not embedder:
        log.info("articles encoded in %s (OpenVINO), as `trace` does on this machine", precision)
    return traced


def protocol_outcomes(data: Path, model: str, absent: float, seed: int, runs: int, langs: str, backend: str = "torch",
                      layouts: tuple[str, ...] = ("runs",), notify: Notify = log_notice) -> tuple[list[Any], str, str]:  # fmt: skip
    """Outcomes of the protocol runs, the model's name and the backend that embedded the sources."""
    from tracer.evaluation._evaluate import Protocol, read_parallel_tsv, run_protocols

    wanted = tuple(x.strip() for x in langs.split(",") if x.strip())
    bad = [x for x in wanted if x not in ("en", "ru", "uk")]
    if bad or not wanted:
        raise InputError(f"--langs must list some of en, ru, uk, got {langs!r}")
    docs = read_parallel_tsv(data)
    exported = _exported(model) if backend == "onnx-int8" else None
    if exported is not None:
        from tracer.model._onnx import SplitEmbedder

        embedder: Embedder = SplitEmbedder(*exported)  # type: ignore[assignment]
    else:  # torch float32 passages as `trace calibrate` fits the rule, or no export yet
        base = _embed.load_embedder(model, progress=notify)
        embedder, backend = _passages(base, backend, notify)
        embedder = _as_traced(embedder, base, notify)
    with tempfile.TemporaryDirectory(prefix="tracer-eval-") as tmp:
        notify(f"indexing and tracing {sum(len(d.segments) for d in docs)} sentences of {len(docs)} documents, "
               f"{runs} run(s) from seed {seed}, layout{'s' if len(layouts) > 1 else ''} {', '.join(layouts)}")  # fmt: skip
        protocol = Protocol(langs=wanted, absent=absent, seed=seed, layouts=layouts)
        outcomes = run_protocols(docs, embedder, Path(tmp), protocol, runs)
    return outcomes, embedder.info.name, backend


def _exported(model: str) -> tuple[Embedder, Embedder] | None:
    """(articles, passages) through the model's exports, as `trace` and `trace index add` load
    them (this machine's precision, else float32; int8), when both were made before: torch is
    then never imported (~14 s of a real-case evaluation)."""
    from tracer.model._onnx import exported_embedder, traced_export

    passages = exported_embedder(model, None, "int8")
    query = traced_export(model) if passages is not None else None
    return (query, passages) if query is not None and passages is not None else None


def case_outcomes(
    paths: tuple[Path, ...], model: str, seeds: tuple[int, ...], notify: Notify = log_notice
) -> list[Any]:
    """Outcomes of real cases and their ablated variants, indexed as `trace index add` does
    (the default passage backend) and traced as `trace` does."""
    from tracer.evaluation._cases import case_variants, run_cases
    from tracer.evaluation._evaluate import Protocol

    variants = case_variants(paths, seeds)
    exported = _exported(model)
    if exported is not None:
        query, passages = exported
    else:  # through torch, which exports the model for next time
        base = _embed.load_embedder(model, progress=notify)
        passages, _ = _passages(base, "auto", notify)
        query = _as_traced(base, base, notify)
    cases = len(variants) // (1 + len(seeds))
    notify(f"indexing and tracing {cases} real case(s) and {len(variants) - cases} ablated variant(s)")
    with tempfile.TemporaryDirectory(prefix="tracer-cases-") as tmp:
        return run_cases(variants, query, passages, Path(tmp), margin_k=Protocol().margin_k)


def case_scores(outcomes: list[Any], rule: Any) -> dict[str, object]:
    """Figures per real case and variant, and pooled over the cases and over their ablated variants."""
    from tracer.evaluation._evaluate import score

    by_case: dict[str, list[Any]] = {}
    for o in outcomes:
        by_case.setdefault(o.query.doc_id, []).append(o)
    result: dict[str, object] = {name: score(group, rule) for name, group in by_case.items()}
    full = [o for o in outcomes if o.query.doc_id == o.query.split]
    variants = [o for o in outcomes if o.query.doc_id != o.query.split]
    result["all cases"] = score(full, rule)
    if variants:
        result["all ablated variants"] = score(variants, rule)
    return result


def calibrate_into(target: Path, data: Path, *, model: str, absent: float, seed: int, runs: int, langs: str,
                   layout: str, case_paths: tuple[Path, ...], ablate: str, max_wrong_source: float,
                   max_wrong_real: float, generic: bool, notify: Notify = log_notice) -> tuple[str, str]:  # fmt: skip
    """Fit the model's rule (and, with ``generic``, the generic one) and return (model name, the
    updated calibration file's text); the caller writes it."""
    from tracer.evaluation._evaluate import OperatingPoint, Protocol, calibrate
    from tracer.tracing._judge import GENERIC, MODEL_SCALED, SENTENCE_FEATURES

    try:
        payload = json.loads(target.read_text(encoding="utf-8")) if target.exists() else {"rules": {}}
        rules = payload["rules"]
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{target} is not a tracer calibration file ({exc}); choose another --output") from exc
    seeds_ablated = ablate_seeds(ablate)
    outcomes, name, _ = protocol_outcomes(data, model, absent, seed, runs, langs, layouts=layouts_of(layout),
                                          notify=notify)  # fmt: skip
    calib = [o for o in outcomes if o.query.split == "calib"]
    seeds = f"seed {seed}" if runs == 1 else f"{runs} runs, seeds {seed}-{seed + runs - 1}"
    note = f" ({data.name}, calibration half, {seeds}, {absent:.0%} of documents absent, layout {layout}"
    if case_paths:
        real = case_outcomes(case_paths, model, seeds_ablated, notify)
        names = sorted({o.query.split for o in real})
        note += f"; real cases {', '.join(names)}, ablated with seeds {ablate or 'none'}"
        calib += real
    note += ")"
    k = Protocol().margin_k
    point = OperatingPoint(max_wrong_source=max_wrong_source, max_wrong_real=max_wrong_real)
    _, rules[name] = calibrate(calib, model=name, margin_k=k, point=point, description=note)
    if generic:
        cosine_free = [f for f in SENTENCE_FEATURES if f not in MODEL_SCALED]
        _, rules[GENERIC] = calibrate(calib, model=GENERIC, margin_k=k, point=point, features=cosine_free,
                                      description=note + f", cosine-free fit on {name}")  # fmt: skip
    return name, json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


def evaluate(data: tuple[Path, ...], *, model: str, absent: float, seed: int, runs: int, langs: str, layout: str,
             ablate: str, split: str, threshold: float | None, backend: str,
             notify: Notify = log_notice) -> tuple[dict[str, Any], dict[str, Any], dict[str, tuple[float, float]]]:  # fmt: skip
    """The figures of `trace eval` (JSON-ready), their curves and the operating point on each."""
    from tracer.evaluation._cases import is_case
    from tracer.evaluation._evaluate import pr_curve, score_by_lang, tatoeba_accuracy
    from tracer.tracing._judge import rule_for

    tables = [p for p in data if p.is_file()]
    case_paths = tuple(p for p in data if p.is_dir() and (is_case(p) or any(is_case(q) for q in p.iterdir())))
    tatoeba = [p for p in data if p.is_dir() and p not in case_paths]
    if tatoeba:
        if not any(tatoeba[0].glob("tatoeba.*-eng.*")):
            raise InputError(f"{tatoeba[0]}: neither a real case folder (gold.json, sources.jsonl), "
                             "a folder of them, nor a folder of LASER Tatoeba files")  # fmt: skip
        if len(data) > 1:
            raise InputError(f"{tatoeba[0]}: a Tatoeba folder is measured alone; give it without other DATA")
        embedder = _embed.load_embedder(model, progress=notify)
        return {"model": embedder.info.name, "adapter": embedder.info.adapter,
                **tatoeba_accuracy(embedder, data[0])}, {}, {}  # fmt: skip
    if len(tables) > 1:
        raise InputError("give one parallel TSV at a time")
    seeds_ablated = ablate_seeds(ablate)
    rule = rule_for(model).with_threshold(threshold)
    result: dict[str, Any] = {"model": model, "decision": rule.describe()}
    groups: dict[str, list[Any]] = {}
    if tables:
        outcomes, name, backend = protocol_outcomes(tables[0], model, absent, seed, runs, langs, backend,
                                                    layouts_of(layout), notify)  # fmt: skip
        chosen = [o for o in outcomes if split == "all" or o.query.split == split]
        result.update({"model": name, "passage_backend": backend, "split": split, **score_by_lang(chosen, rule)})
        result["layouts"] = {
            lay: score_by_lang([o for o in chosen if o.query.layout == lay], rule) for lay in layouts_of(layout)
        }
        groups["overall"] = chosen
        groups.update({lay: [o for o in chosen if o.query.layout == lay] for lay in layouts_of(layout)})
    if case_paths:
        real = case_outcomes(case_paths, model, seeds_ablated, notify)
        result["cases"] = case_scores(real, rule)
        groups["real cases"] = [o for o in real if o.query.doc_id == o.query.split]
        if seeds_ablated:
            groups["real ablated"] = [o for o in real if o.query.doc_id != o.query.split]
    curves = {key: pr_curve(group, rule) for key, group in groups.items()}
    result["curve"] = curves
    operating = {}
    for key, group in groups.items():
        point = pr_curve(group, rule, [rule.threshold])[0]
        operating[key] = (point["recall"], point["precision"])
    return result, curves, operating
