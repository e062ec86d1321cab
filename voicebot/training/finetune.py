"""Accurate mode: fine-tune the top layers of the MiniLM encoder with a cosine-softmax intent head
(cross-entropy, label smoothing), used by ``voicebot eval intents`` and for large training sets. Minutes on
2 cores, not seconds: flows use the fast mode in ``intents.py`` (frozen embeddings + logistic regression).

The lower layers stay frozen: their output is computed once per training text and cached, so a training
step runs only the top ``train_layers`` layers forward and backward (about 3x cheaper than the whole encoder).

Deterministic: fixed seeds, single-process data order.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicebot.nlu.embeddings import MiniLmEmbedder, load_encoder, load_tokenizer, tokenize


@dataclass(frozen=True, slots=True)
class FineTuneConfig:
    epochs: float = 3.0
    min_steps: int = 300  # few-shot sets get more epochs
    batch_size: int = 32
    encoder_lr: float = 1e-4
    head_lr: float = 2e-2
    warmup: float = 0.1
    label_smoothing: float = 0.1
    scale: float = 20.0  # cosine-softmax temperature
    train_layers: int = 2  # top transformer layers that are fine-tuned; the rest stay frozen
    seed: int = 0
    threads: int = 2


@dataclass(frozen=True, slots=True)
class FineTuned:
    embedder: MiniLmEmbedder
    labels: tuple[str, ...]
    weights: np.ndarray  # (classes, dimension): scale * unit class vectors; logits = weights @ embedding


def _batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length (less padding, about 2x faster than random batches)."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start:start + pool], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def finetune(texts: Sequence[str], labels: Sequence[str], config: FineTuneConfig = FineTuneConfig(),
             path: Path | None = None, progress: Callable[[int, int, float], None] | None = None) -> FineTuned:
    """Fine-tune the encoder on (text, label) rows; returns the ONNX-served embedder and class weights."""
    import torch

    from voicebot.models import resolve

    path = Path(path) if path is not None else resolve("embeddings")
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = random.Random(config.seed)
    classes = tuple(sorted(set(labels)))
    index = {c: i for i, c in enumerate(classes)}
    y_all = [index[label] for label in labels]
    tokenizer = load_tokenizer(path)
    encoder = load_encoder(path)
    split = SplitEncoder(encoder, config.train_layers)
    trainable = split.trainable
    dim = int(encoder.config.hidden_size)
    cached = split.cache_lower(tokenizer, texts)
    head = torch.zeros(len(classes), dim)
    with torch.inference_mode():  # frozen embeddings: the class vectors start at their means
        for start in range(0, len(texts), 64):
            pooled = split.upper_cached(cached[start:start + 64])
            for row, i in enumerate(range(start, start + len(pooled))):
                head[y_all[i]] += pooled[row]
    head = torch.nn.Parameter(torch.nn.functional.normalize(head, dim=-1))
    encoder.train()
    optimizer = torch.optim.AdamW([
        {"params": trainable, "lr": config.encoder_lr, "weight_decay": 0.01},
        {"params": [head], "lr": config.head_lr, "weight_decay": 0.0},
    ])
    lengths = [len(h) for h in cached]
    steps_per_epoch = math.ceil(len(texts) / config.batch_size)
    total = max(config.min_steps, round(config.epochs * steps_per_epoch))
    warmup = max(1, round(config.warmup * total))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    step = 0
    while step < total:
        for batch in _batches(lengths, config.batch_size, rng):
            if step >= total:
                break
            logits = config.scale * split.upper_cached([cached[i] for i in batch]) @ \
                torch.nn.functional.normalize(head, dim=-1).T
            target = torch.tensor([y_all[i] for i in batch])
            loss = torch.nn.functional.cross_entropy(logits, target, label_smoothing=config.label_smoothing)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            if progress:
                progress(step, total, loss.item())
    encoder.eval()
    with torch.no_grad():
        class_vectors = config.scale * torch.nn.functional.normalize(head, dim=-1)
    return FineTuned(MiniLmEmbedder.from_torch(encoder, tokenizer, threads=config.threads), classes,
                     class_vectors.numpy().astype(np.float32))


class SplitEncoder:
    """A BERT encoder cut in two: frozen lower layers (run once per text, outputs cached) and the top
    ``train_layers`` layers, trainable, with mean pooling and L2 norm."""

    def __init__(self, encoder, train_layers: int) -> None:
        self.encoder = encoder
        self.layers = encoder.encoder.layer
        self.frozen_count = len(self.layers) - train_layers
        for parameter in encoder.parameters():
            parameter.requires_grad = False
        self.trainable = [p for layer in self.layers[self.frozen_count:] for p in layer.parameters()]
        for parameter in self.trainable:
            parameter.requires_grad = True

    def cache_lower(self, tokenizer, texts: Sequence[str], batch: int = 64) -> list:
        """The lower layers' output for each text (unpadded tensors), in ``texts`` order."""
        import torch

        self.encoder.eval()
        cached: list[torch.Tensor] = [torch.empty(0)] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), batch):
                idx = order[start:start + batch]
                ids, mask = (torch.from_numpy(a) for a in tokenize(tokenizer, [texts[i] for i in idx]))
                hidden = self.encoder.embeddings(input_ids=ids)
                for layer in self.layers[:self.frozen_count]:
                    hidden = layer(hidden, _additive(mask, hidden.dtype))
                for row, i in enumerate(idx):
                    cached[i] = hidden[row, :int(mask[row].sum())].clone()
        self.encoder.train()
        return cached

    def upper_cached(self, rows: Sequence):
        """Pooled, normalised embeddings of cached lower-layer outputs (padded into one batch)."""
        import torch

        lengths = [len(h) for h in rows]
        hidden = torch.zeros(len(rows), max(lengths), rows[0].shape[-1])
        mask = torch.zeros(len(rows), max(lengths), dtype=torch.long)
        for row, h in enumerate(rows):
            hidden[row, :len(h)] = h
            mask[row, :len(h)] = 1
        for layer in self.layers[self.frozen_count:]:
            hidden = layer(hidden, _additive(mask, hidden.dtype))
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return torch.nn.functional.normalize((hidden * weights).sum(1) / weights.sum(1), dim=-1)


def _additive(mask, dtype):  # (batch, tokens) 0/1 -> (batch, 1, 1, tokens) additive attention mask
    import torch

    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
