"""Adapt the MiniLM encoder so that cosine similarity means "same request": a candidate intent encoder, not
the product path (the adapters trained so far did not raise the flows' dev figures, eval/README.md "Intents").

Contrastive fine-tuning of the top ``train_layers`` transformer layers on public intent data (BANKING77,
CLINC150, HWU64, SLURP): each batch holds two utterances of each of up to ``labels_per_batch`` intents of
one data set; every utterance must pick its partner among the batch's others (symmetric in-batch softmax
over cosine similarities, "multiple negatives ranking"). The lower layers stay frozen; their output is
computed once per text and cached, so a step runs the top layers only. About half the texts are lower-cased
without punctuation, as the recogniser writes them.

The result is an *adapter*: the tuned layers' weights in float16 (≈ 7 MB for two layers), applied over the base package's weights when ``MiniLmEmbedder.load(adapter=…)``
exports the ONNX model once into ``models/cache/embeddings``. Deterministic: fixed seeds.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicebot.nlu.embeddings import load_encoder, load_tokenizer


@dataclass(frozen=True, slots=True)
class AdaptConfig:
    steps: int = 1500
    labels_per_batch: int = 64
    encoder_lr: float = 5e-5
    warmup: float = 0.1
    scale: float = 20.0  # inverse temperature of the in-batch softmax over cosines
    train_layers: int = 2
    asr_share: float = 0.5  # texts lower-cased without punctuation
    seed: int = 0
    threads: int = 2


_PUNCTUATION = re.compile(r"[^\w\s']")


def asr_style(text: str) -> str:
    """Lower case, no punctuation: how the recogniser's text often looks."""
    return " ".join(_PUNCTUATION.sub(" ", text.lower()).split())


def adapt(groups: Sequence[Sequence[tuple[str, str]]], config: AdaptConfig = AdaptConfig(),
          path: Path | None = None, progress: Callable[[int, int, float], None] | None = None,
          ) -> dict[str, np.ndarray]:
    """Tune on (text, label) rows grouped by data set (a batch never mixes sets: labels are per set).

    Returns the tuned layers' weights by their encoder state-dict names, float16."""
    import torch

    from voicebot.models import resolve
    from voicebot.training.finetune import SplitEncoder

    path = Path(path) if path is not None else resolve("embeddings")
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = random.Random(config.seed)
    tokenizer = load_tokenizer(path)
    encoder = load_encoder(path)
    split = SplitEncoder(encoder, config.train_layers)

    texts: list[str] = []
    by_label: list[dict[str, list[int]]] = []  # per group: label -> text indices
    for rows in groups:
        labels: dict[str, list[int]] = defaultdict(list)
        for text, label in rows:
            labels[label].append(len(texts))
            texts.append(asr_style(text) if rng.random() < config.asr_share else text)
        by_label.append({k: v for k, v in labels.items() if len(v) >= 2})
    cached = split.cache_lower(tokenizer, texts)

    optimizer = torch.optim.AdamW(split.trainable, lr=config.encoder_lr, weight_decay=0.01)
    warmup = max(1, round(config.warmup * config.steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min((s + 1) / warmup, max(0.0, (config.steps - s) / max(1, config.steps - warmup))))
    sizes = [sum(len(v) for v in g.values()) for g in by_label]
    encoder.train()
    for step in range(config.steps):
        group = by_label[rng.choices(range(len(by_label)), weights=sizes)[0]]
        labels = rng.sample(sorted(group), min(config.labels_per_batch, len(group)))
        pairs = [rng.sample(group[label], 2) for label in labels]
        anchors = split.upper_cached([cached[a] for a, _ in pairs])
        positives = split.upper_cached([cached[p] for _, p in pairs])
        logits = config.scale * anchors @ positives.T
        target = torch.arange(len(pairs))
        loss = (torch.nn.functional.cross_entropy(logits, target)
                + torch.nn.functional.cross_entropy(logits.T, target)) / 2
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(split.trainable, 1.0)
        optimizer.step()
        schedule.step()
        if progress:
            progress(step + 1, config.steps, loss.item())
    encoder.eval()
    first = len(split.layers) - config.train_layers
    return {name: tensor.detach().numpy().astype(np.float16) for name, tensor in encoder.state_dict().items()
            if any(name.startswith(f"encoder.layer.{i}.") for i in range(first, len(split.layers)))}


def save_adapter(weights: dict[str, np.ndarray], target: Path) -> None:
    from safetensors.numpy import save_file

    target.parent.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(target), metadata={"base": "all-MiniLM-L6-v2", "kind": "intent-contrastive"})
