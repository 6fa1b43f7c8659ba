"""A cross-encoder verifier fine-tuned from the shipped encoder (issue 28's lever): the
Indonesian sentence and a candidate original read together (``query: A </s></s> query: B``), the
mean of the last layer's token states scored by one linear unit.

Trained listwise: each Indonesian sentence with its original and its hard negatives, a softmax
over the group (the original should win), as the reranker uses it. The hard negatives are what
the real articles' wrong best candidates are: the same story's other sentences (mined with the
shipped encoder: the most similar ones), and the original with a figure changed. Training data
is NTREX's calibration half and Tatoeba's ind-eng pairs: never a real case and never NTREX's test
half, so every figure the lever reports is on data the verifier never saw.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from tracer.evaluation._evaluate import ParallelDoc, split_of
from tracer.model._embed import SentenceTransformerEmbedder

LANGS = ("en", "ru", "uk")
PREFIX = "query: "
NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


@dataclass(frozen=True)
class Group:
    query: str
    texts: tuple[str, ...]
    """The original first, then its hard negatives."""


def changed_figure(text: str, rng: random.Random) -> str | None:
    """The text with one of its figures replaced by a plausible other one (None: no figure)."""
    found = list(NUMBER.finditer(text))
    if not found:
        return None
    m = rng.choice(found)
    digits = re.sub(r"\D", "", m.group())
    value = int(digits) if digits else 0
    other = rng.choice(
        [value + rng.randint(1, 9), max(0, value - rng.randint(1, 9)), value * 2, value * 10, value // 2 + 1]
    )
    if other == value:
        other = value + 1
    return text[: m.start()] + str(other) + text[m.end() :]


def training_groups(
    docs: Sequence[ParallelDoc],
    tatoeba: Sequence[tuple[str, str]],
    embedder: SentenceTransformerEmbedder,
    negatives: int = 2,
    seed: int = 0,
) -> list[Group]:
    """Groups from NTREX's calibration half (each Indonesian sentence against its en/ru/uk original,
    the ``negatives`` most similar other sentences of the same document in that language, and the
    original with a figure changed) and Tatoeba ind-eng (against the most similar other English
    sentences)."""
    rng = random.Random(seed)
    groups: list[Group] = []
    for doc in docs:
        if split_of(doc.doc_id) != "calib" or len(doc.segments) < 2:
            continue
        ids = [seg["id"] for seg in doc.segments]
        q = embedder.embed(ids, role="query")
        for lang in LANGS:
            originals = [seg[lang] for seg in doc.segments]
            p = embedder.embed(originals, role="query")
            sims = q @ p.T
            for i, text in enumerate(ids):
                if not text or not originals[i]:
                    continue
                order = [j for j in np.argsort(-sims[i]) if j != i and originals[j]][:negatives]
                texts = [originals[i], *(originals[j] for j in order)]
                if NUMBER.search(text) and (bad := changed_figure(originals[i], rng)) and bad != originals[i]:
                    texts.append(bad)
                groups.append(Group(text, tuple(texts)))
    if tatoeba:
        q = embedder.embed([a for a, _ in tatoeba], role="query")
        p = embedder.embed([b for _, b in tatoeba], role="query")
        sims = q @ p.T
        for i, (a, b) in enumerate(tatoeba):
            order = [j for j in np.argsort(-sims[i]) if j != i][:negatives]
            groups.append(Group(a, (b, *(tatoeba[j][1] for j in order))))
    rng.shuffle(groups)
    return groups


class Verifier(torch.nn.Module):
    """The shipped encoder's transformer (adapter merged) reading the pair at once. Its score starts
    as the bi-encoder's: a scaled cosine between the mean token states of the sentence's part and
    the candidate's part, so training only has to teach what reading them together adds; a linear
    unit over their product and difference (zero at the start) learns the rest."""

    def __init__(self, embedder: SentenceTransformerEmbedder, max_length: int = 160):
        super().__init__()
        module = embedder.model[0]  # type: ignore[index]
        self.tokenizer = module.tokenizer
        self.encoder = module.auto_model
        hidden = self.encoder.config.hidden_size
        self.head = torch.nn.Linear(2 * hidden, 1)
        torch.nn.init.zeros_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)
        self.scale = torch.nn.Parameter(torch.tensor(20.0))
        self.max_length = max_length

    def forward(self, queries: Sequence[str], texts: Sequence[str]) -> torch.Tensor:
        batch = self.tokenizer(
            [PREFIX + q for q in queries],
            [PREFIX + t for t in texts],
            padding=True,
            truncation="longest_first",
            max_length=self.max_length,
            return_tensors="pt",
        )
        parts = torch.tensor([[-1 if s is None else s for s in batch.sequence_ids(i)] for i in range(len(queries))])
        states = self.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        pooled = []
        for part in (0, 1):
            mask = (parts == part).unsqueeze(-1).to(states.dtype)
            pooled.append(torch.nn.functional.normalize((states * mask).sum(1) / mask.sum(1).clamp(min=1), dim=-1))
        a, b = pooled
        cosine = (a * b).sum(-1)
        return self.scale * cosine + self.head(torch.cat([a * b, (a - b).abs()], -1)).squeeze(-1)

    @torch.inference_mode()
    def score(self, pairs: Sequence[tuple[str, str]], batch_size: int = 32) -> list[float]:
        """Scores in the order given (batched by length: less padding)."""
        self.eval()
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        values = [0.0] * len(pairs)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            z = self([pairs[i][0] for i in chunk], [pairs[i][1] for i in chunk])
            for i, v in zip(chunk, z.tolist(), strict=True):
                values[i] = v
        return values


def train(
    verifier: Verifier,
    groups: Sequence[Group],
    *,
    epochs: int = 1,
    groups_per_step: int = 8,
    lr: float = 5e-5,
    head_lr: float = 1e-3,
    frozen_layers: int = 4,
    log: Callable[[str], None] = print,
) -> None:
    """Listwise softmax cross-entropy over each group (the original is the target); word
    embeddings and the lowest ``frozen_layers`` layers stay as shipped (cheaper, and they carry
    what the bi-encoder already knows)."""
    torch.manual_seed(0)
    encoder = verifier.encoder
    for p in encoder.embeddings.parameters():
        p.requires_grad_(False)
    for layer in encoder.encoder.layer[:frozen_layers]:
        for p in layer.parameters():
            p.requires_grad_(False)
    body = [p for p in encoder.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": body, "lr": lr}, {"params": [*verifier.head.parameters(), verifier.scale], "lr": head_lr}]
    )
    steps = epochs * ((len(groups) + groups_per_step - 1) // groups_per_step)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(1, steps // 10)) * max(0.0, 1 - s / steps)
    )
    verifier.train()
    started, step = time.monotonic(), 0
    for _ in range(epochs):
        for start in range(0, len(groups), groups_per_step):
            chunk = groups[start : start + groups_per_step]
            queries = [g.query for g in chunk for _ in g.texts]
            texts = [t for g in chunk for t in g.texts]
            z = verifier(queries, texts)
            loss, at = torch.zeros(()), 0
            for g in chunk:
                zs = z[at : at + len(g.texts)]
                loss = loss + torch.logsumexp(zs, 0) - zs[0]
                at += len(g.texts)
            loss = loss / len(chunk)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            if step % 20 == 0 or step == steps:
                rate = (start + len(chunk)) / (time.monotonic() - started)
                log(f"  step {step}/{steps}: loss {loss.item():.3f}, {rate:.1f} groups/s")
    verifier.eval()
