"""Adapting the embedding model to tracing: a LoRA adapter on the inner transformer, trained
contrastively on translation pairs (Indonesian/Russian/Ukrainian <-> English and the like).

In-batch negatives with a symmetric cross-entropy over scaled cosines (sentence-transformers'
MultipleNegativesRankingLoss, both directions), ``query: `` on both sides as in tracing. A pair
may carry a hard negative (a sentence of the same story that says something else), scored
against every translation of its batch beside the originals, as that loss does with a third
column. The adapter is saved with peft and merged into the base weights at load time, so
tracing speed does not change."""

from __future__ import annotations

import contextlib
import logging
import random
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

TARGET_MODULES = ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"]


@dataclass(frozen=True)
class Pair:
    """A translation, its original and optionally a hard negative: a sentence a tracer could
    mistake for the original (the same story, another claim)."""

    translation: str
    original: str
    negative: str | None = None


@dataclass(frozen=True)
class TuneSettings:
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    learning_rate: float = 2e-4
    batch_size: int = 32
    epochs: int = 1
    scale: float = 20.0
    max_seq_length: int = 128
    seed: int = 0


def read_pairs(path: Path) -> list[Pair]:
    """Tab-separated: a translation, its original and optionally a hard negative."""
    from tracer._errors import InputError

    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("\t")]
        if len(parts) not in (2, 3) or not all(parts):
            raise InputError(
                f"{path}: line {number}: expected two or three tab-separated columns "
                "(translation, original, optionally a hard negative)"
            )
        pairs.append(Pair(*parts))
    return pairs


@contextlib.contextmanager
def _quiet_peft() -> Iterator[None]:
    """peft 0.21 calls a transformers method that transformers 5 deprecates: nothing for users to act on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield


def train_adapter(
    model: object,
    pairs: Sequence[Pair],
    prompt: str,
    out: Path,
    settings: TuneSettings = TuneSettings(),
    progress: Callable[[int, int, float], None] | None = None,
    base_name: str = "",
) -> None:
    """Train a LoRA adapter for the SentenceTransformer ``model`` and save it to ``out``."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    transformer = model[0]  # type: ignore[index]
    transformer.max_seq_length = settings.max_seq_length
    config = LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                        target_modules=TARGET_MODULES)  # fmt: skip
    with _quiet_peft():
        peft_model = get_peft_model(transformer.auto_model, config)
    transformer.auto_model = peft_model
    params = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate)
    order = list(range(len(pairs)))
    steps = settings.epochs * (len(order) // settings.batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(1, steps // 10)) * max(0.0, 1 - s / max(1, steps))
    )
    model.train()  # type: ignore[attr-defined]
    step = 0
    with _quiet_peft():
        for _ in range(settings.epochs):
            rng.shuffle(order)
            for start in range(0, len(order) - settings.batch_size + 1, settings.batch_size):
                batch = [pairs[i] for i in order[start : start + settings.batch_size]]
                a = _encode(model, [p.translation for p in batch], prompt)
                b = _encode(model, [p.original for p in batch], prompt)
                scores = a @ b.T * settings.scale
                labels = torch.arange(len(batch))
                cross = torch.nn.functional.cross_entropy
                negatives = [p.negative for p in batch if p.negative]
                forward = scores
                if negatives:
                    forward = torch.cat([scores, a @ _encode(model, negatives, prompt).T * settings.scale], dim=1)
                loss = (cross(forward, labels) + cross(scores.T, labels)) / 2
                loss.backward()
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                step += 1
                if progress:
                    progress(step, steps, loss.item())
    model.eval()  # type: ignore[attr-defined]
    for param in params:  # fp16 halves the file (~2.7 MB); peft casts it back when merging
        param.data = param.data.to(torch.float16)
    peft_model.peft_config["default"].base_model_name_or_path = base_name  # not this machine's cache path
    # save_embedding_layers=False: "auto" would look the base name up on the hub to compare vocabularies.
    peft_model.save_pretrained(str(out), save_embedding_layers=False)


def _encode(model: object, texts: list[str], prompt: str):  # type: ignore[no-untyped-def]
    """Embeddings with gradients, prepared exactly as ``SentenceTransformer.encode`` prepares them."""
    import torch

    features = model.preprocess(texts, prompt=prompt)  # type: ignore[attr-defined]
    output = model(features)  # type: ignore[operator]
    return torch.nn.functional.normalize(output["sentence_embedding"], dim=-1)


def merge_adapter(model: object, adapter: Path) -> None:
    """Merge a saved adapter into the model's transformer weights in place."""
    from peft import PeftModel

    transformer = model[0]  # type: ignore[index]
    with _quiet_peft():
        transformer.auto_model = PeftModel.from_pretrained(transformer.auto_model, str(adapter)).merge_and_unload()
