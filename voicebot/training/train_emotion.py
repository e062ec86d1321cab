"""Train the caller-emotion model (``models/emotion_head.npz`` and its encoder adapter) on GoEmotions.

``voicebot models train-emotion --data ../shared/data/emotion`` runs this: one fine-tune per seed, then their
uniform soup (:func:`train_soup`, :func:`soup`). The top ``train_layers`` layers of all-MiniLM-L6-v2 (by default
all six) are fine-tuned (lower layers, if any, stay frozen; their output is computed once per text and cached,
``finetune.SplitEncoder``) with one linear head on the pooled embedding giving two outputs:

* the product's four groups (softmax; labels mapped by ``emotion.GOEMOTIONS_MAP``, comments whose labels map
  to none of them do not train this output) and
* Ekman's seven (one sigmoid each; GoEmotions' ``ekman`` field, multi-label).

About a third of the texts are lower-cased without punctuation, as the recogniser writes them.

``goemotions_dev.jsonl`` is split in two by a hash of each comment's id: the *tune* half sets the group
offsets (``group_bias``, raising macro-F1 of the rarer groups) and the Ekman thresholds; the *held-out*
half is never used to choose anything and gives the reported figures. The artifact holds the tuned layers
in float16 (``models/emotion_encoder.safetensors``, an encoder adapter, ≈ 3.5 MB a layer) and the head
with its offsets and thresholds (``models/emotion_head.npz``, no pickle). Deterministic: fixed seeds.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from voicebot.nlu.emotion import EKMAN, LABELS, as_read
from voicebot.training.emotion_eval import Example, is_held_out, read_rows

ENCODER_FILE = "emotion_encoder.safetensors"


@dataclass(frozen=True, slots=True)
class EmotionTrainConfig:
    epochs: float = 1.0
    max_rows: int | None = 30000  # a seeded subset of the train split, rare emotions first (None: all)
    batch_size: int = 32
    encoder_lr: float = 1e-4
    head_lr: float = 3e-3
    warmup: float = 0.06
    scale: float = 20.0  # the head sees scale * unit embedding
    train_layers: int = 6  # all of MiniLM's six: 0.541 / 0.571 frustrated / angry F1 against 0.521 / 0.531 for 3
    asr_share: float = 0.33
    ekman_weight: float = 1.0  # weight of the Ekman loss next to the groups' loss
    seed: int = 0
    threads: int = 2


_RARE_EKMAN = {"anger", "disgust", "fear", "sadness"}


def subset(rows: Sequence[Example], size: int, rng: random.Random) -> list[Example]:
    """``size`` rows: every angry or frustrated one and those with a rare Ekman label first (up to ``size``),
    the rest sampled (the group offsets and thresholds tuned afterwards undo the shifted priors)."""
    rare = [r for r in rows if r.group in ("angry", "frustrated") or _RARE_EKMAN & set(r.ekman)]
    rest = [r for r in rows if not (r.group in ("angry", "frustrated") or _RARE_EKMAN & set(r.ekman))]
    chosen = rng.sample(rare, min(size, len(rare)))
    chosen += rng.sample(rest, size - len(chosen))
    rng.shuffle(chosen)
    return chosen


def train(data_dir: Path, out: Path, config: EmotionTrainConfig = EmotionTrainConfig(),
          progress: Callable[[str], None] | None = None, init: Path | None = None) -> dict[str, Any]:
    """Fine-tune, tune the offsets and thresholds on the tune half, save the artifacts; return a report
    (``voicebot eval emotion --held-out`` gives the figures). ``init``: a head (``emotion_head.npz``, its
    adapter beside it) to continue training from instead of the base model (its offsets are tuned anew)."""
    import torch

    from voicebot.models import resolve
    from voicebot.nlu.embeddings import load_encoder, load_tokenizer
    from voicebot.training.adapt import asr_style
    from voicebot.training.finetune import SplitEncoder, _batches

    say = progress or (lambda message: None)
    started = time.monotonic()
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = random.Random(config.seed)
    rows = read_rows(data_dir / "goemotions_train.jsonl")
    if config.max_rows is not None and config.max_rows < len(rows):
        rows = subset(rows, config.max_rows, rng)
    texts = [asr_style(r.text) if rng.random() < config.asr_share else r.text for r in rows]
    group_y = torch.tensor([LABELS.index(r.group) if r.group else -100 for r in rows])
    ekman_y = torch.tensor([[float(e in r.ekman) for e in EKMAN] for r in rows])

    base = resolve("embeddings")
    tokenizer = load_tokenizer(base)
    encoder = load_encoder(base)
    if init is not None:
        warm_start(encoder, init)
    split = SplitEncoder(encoder, config.train_layers)
    cached = split.cache_lower(tokenizer, texts)
    say(f"lower layers cached for {len(texts)} texts in {time.monotonic() - started:.0f} s")

    counts = torch.bincount(group_y[group_y >= 0], minlength=len(LABELS)).float()
    group_weight = (counts.sum() / counts / len(LABELS)).sqrt()  # softened class balance
    positives = ekman_y.sum(0)
    ekman_pos_weight = ((len(rows) - positives) / positives).sqrt()
    head = torch.nn.Linear(int(encoder.config.hidden_size), len(LABELS) + len(EKMAN))
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    if init is not None:
        with np.load(init, allow_pickle=False) as saved, torch.no_grad():
            weights = np.concatenate([saved["weights"], saved["ekman_weights"]])
            head.weight.copy_(torch.from_numpy(weights / config.scale))
            head.bias.copy_(torch.from_numpy(np.concatenate([saved["bias"], saved["ekman_bias"]])))
    optimizer = torch.optim.AdamW([
        {"params": split.trainable, "lr": config.encoder_lr, "weight_decay": 0.01},
        {"params": head.parameters(), "lr": config.head_lr, "weight_decay": 0.0},
    ])
    total = max(1, round(config.epochs * math.ceil(len(texts) / config.batch_size)))
    warmup = max(1, round(config.warmup * total))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    lengths = [len(h) for h in cached]
    encoder.train()
    step = 0
    while step < total:
        for batch in _batches(lengths, config.batch_size, rng):
            if step >= total:
                break
            logits = head(config.scale * split.upper_cached([cached[i] for i in batch]))
            index = torch.tensor(batch)
            group_loss = torch.nn.functional.cross_entropy(
                logits[:, :len(LABELS)], group_y[index], weight=group_weight, ignore_index=-100)
            ekman_loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits[:, len(LABELS):], ekman_y[index], pos_weight=ekman_pos_weight)
            loss = group_loss + config.ekman_weight * ekman_loss
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(split.trainable, 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            if step % 50 == 0 or step == total:
                say(f"step {step}/{total} loss {loss.item():.3f} ({time.monotonic() - started:.0f} s)")
    encoder.eval()

    first = len(split.layers) - config.train_layers
    layers = {name: t.detach().numpy().astype(np.float16) for name, t in encoder.state_dict().items()
              if any(name.startswith(f"encoder.layer.{i}.") for i in range(first, len(split.layers)))}
    weights = (config.scale * head.weight.detach()).numpy().astype(np.float32)
    bias = head.bias.detach().numpy().astype(np.float32)

    report = tune_and_save(data_dir, out, split, tokenizer, layers, weights, bias, config)
    return {**report, "init": str(init) if init else None, "train_rows": len(rows),
            "train_seconds": round(time.monotonic() - started, 1)}


def tune_and_save(data_dir: Path, out: Path, split: Any, tokenizer: Any, layers: dict[str, np.ndarray],
                  weights: np.ndarray, bias: np.ndarray, config: EmotionTrainConfig) -> dict[str, Any]:
    """Tune the group offsets and Ekman thresholds of a model (``split``: its encoder, holding ``layers``; the
    head's ``weights``, scale folded in, and ``bias``) on the tune half of dev, and save its artifacts."""
    import torch

    dev_path = data_dir / "goemotions_dev.jsonl"
    tune = [r for r in read_rows(dev_path) if not is_held_out(r)] if dev_path.exists() else []
    group_bias = np.zeros(len(LABELS), np.float32)
    thresholds = np.full(len(EKMAN), 0.5, np.float32)
    if tune:
        with torch.inference_mode():
            tune_cached = split.cache_lower(tokenizer, [as_read(r.text) for r in tune])
            vectors = np.concatenate([split.upper_cached(tune_cached[s:s + 64]).numpy()
                                      for s in range(0, len(tune), 64)])
        tune_logits = vectors @ weights.T + bias
        group_bias = tune_group_bias(tune_logits[:, :len(LABELS)], [r.group for r in tune])
        thresholds = tune_thresholds(tune_logits[:, len(LABELS):], [r.ekman for r in tune])
    save_artifacts(out, layers, weights, bias + np.concatenate([group_bias, np.zeros(len(EKMAN), np.float32)]),
                   thresholds, config)
    return {"config": asdict(config), "tune_rows": len(tune),
            "group_offsets": {label: round(float(x), 2) for label, x in zip(LABELS, group_bias, strict=True)},
            "ekman_thresholds": {label: round(float(x), 3) for label, x in zip(EKMAN, thresholds, strict=True)},
            "artifacts": [str(out), str(out.parent / ENCODER_FILE)]}


def train_soup(data_dir: Path, out: Path, config: EmotionTrainConfig = EmotionTrainConfig(),
               seeds: Sequence[int] = (0, 1), progress: Callable[[str], None] | None = None,
               init: Path | None = None) -> dict[str, Any]:
    """One model per seed, then their uniform soup (:func:`soup`): what ``voicebot models train-emotion`` ships.
    Two fine-tunes of all six layers averaged: held-out frustrated / angry F1 0.557 / 0.578 against 0.541 / 0.571
    for the first alone (eval/README.md, "Emotion")."""
    import tempfile

    say = progress or (lambda message: None)
    with tempfile.TemporaryDirectory(prefix="emotion-soup-") as work:
        heads = []
        for seed in seeds:
            head = Path(work) / f"seed-{seed}" / "emotion_head.npz"
            say(f"seed {seed}")
            train(data_dir, head, replace(config, seed=seed), progress, init)
            heads.append(head)
        report = soup(heads, out, data_dir, config) if len(heads) > 1 else _moved(heads[0], out, config)
    return {**report, "seeds": list(seeds)}


def soup(heads: Sequence[Path], out: Path, data_dir: Path, config: EmotionTrainConfig) -> dict[str, Any]:
    """The uniform soup of emotion models fine-tuned from the same base: their tuned layers and heads averaged (a
    layer a model did not tune counts as the base's), the offsets and thresholds tuned anew on the tune half."""
    import torch
    from safetensors.numpy import load_file

    from voicebot.models import resolve
    from voicebot.nlu.embeddings import load_encoder, load_tokenizer
    from voicebot.training.finetune import SplitEncoder

    base = resolve("embeddings")
    tokenizer, encoder = load_tokenizer(base), load_encoder(base)
    state = {name: t.detach().numpy().astype(np.float32) for name, t in encoder.state_dict().items()}
    adapters, weights, biases = [], [], []
    for head in heads:
        with np.load(head, allow_pickle=False) as saved:
            adapters.append(load_file(str(head.parent / str(saved["encoder"]))))
            weights.append(np.concatenate([saved["weights"], saved["ekman_weights"]]))
            biases.append(np.concatenate([saved["bias"], saved["ekman_bias"]]))
    names = sorted(set().union(*adapters))
    layers = {name: np.mean([a[name].astype(np.float32) if name in a else state[name] for a in adapters], axis=0)
              for name in names}
    encoder.load_state_dict({name: torch.from_numpy(value) for name, value in layers.items()}, strict=False)
    lowest = min(int(name.split(".")[2]) for name in names)  # "encoder.layer.N...."
    split = SplitEncoder(encoder, len(encoder.encoder.layer) - lowest)
    return tune_and_save(data_dir, out, split, tokenizer, {n: v.astype(np.float16) for n, v in layers.items()},
                         np.mean(weights, axis=0).astype(np.float32), np.mean(biases, axis=0).astype(np.float32),
                         config)


def _moved(head: Path, out: Path, config: EmotionTrainConfig) -> dict[str, Any]:
    """One seed: its artifacts are the model."""
    import shutil

    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(head.parent / ENCODER_FILE, out.parent / ENCODER_FILE)
    shutil.copyfile(head, out)
    return {"config": asdict(config), "artifacts": [str(out), str(out.parent / ENCODER_FILE)]}


def warm_start(encoder: Any, head_path: Path) -> None:
    """Load the tuned layers of a saved emotion model (the adapter its head names) into ``encoder``."""
    from voicebot.nlu.embeddings import apply_adapter

    with np.load(head_path, allow_pickle=False) as saved:
        apply_adapter(encoder, head_path.parent / str(saved["encoder"]))


def tune_group_bias(logits: np.ndarray, gold: Sequence[str | None], rounds: int = 3) -> np.ndarray:
    """Offsets added to the group logits that maximise macro-F1 (coordinate search on a grid)."""
    keep = [i for i, g in enumerate(gold) if g is not None]
    logits, truth = logits[keep], np.array([LABELS.index(gold[i]) for i in keep])
    bias = np.zeros(len(LABELS), np.float32)

    def macro(b: np.ndarray) -> float:
        predicted = (logits + b).argmax(1)
        scores = []
        for k in range(len(LABELS)):
            hits, said, real = np.sum((predicted == k) & (truth == k)), np.sum(predicted == k), np.sum(truth == k)
            scores.append(2 * hits / (said + real) if said + real else 0.0)
        return float(np.mean(scores))

    best = macro(bias)
    for _ in range(rounds):
        for k in range(1, len(LABELS)):  # neutral stays the reference
            for value in np.arange(-2.0, 2.01, 0.1, dtype=np.float32):
                trial = bias.copy()
                trial[k] = value
                score = macro(trial)
                if score > best + 1e-6:
                    best, bias = score, trial
    return bias


def tune_thresholds(logits: np.ndarray, gold: Sequence[Sequence[str]]) -> np.ndarray:
    """Per-class probability thresholds of the Ekman outputs that maximise each class's F1."""
    from sklearn.metrics import f1_score

    probs = 1 / (1 + np.exp(-logits))
    thresholds = np.full(len(EKMAN), 0.5, np.float32)
    for k, label in enumerate(EKMAN):
        truth = np.array([label in g for g in gold])
        grid = np.arange(0.2, 0.9, 0.025)
        scores = [f1_score(truth, probs[:, k] >= t, zero_division=0) for t in grid]
        thresholds[k] = grid[int(np.argmax(scores))]
    return thresholds


def save_artifacts(head_path: Path, layers: dict[str, np.ndarray], weights: np.ndarray, bias: np.ndarray,
                   thresholds: np.ndarray, config: EmotionTrainConfig) -> None:
    """The tuned layers as an encoder adapter (``ENCODER_FILE``, next to the head; ``embeddings.apply_adapter``
    reads it) and the head as a small ``.npz`` naming it (no pickle). Both written atomically."""
    from safetensors.numpy import save_file

    head_path.parent.mkdir(parents=True, exist_ok=True)
    encoder_path = head_path.parent / ENCODER_FILE
    partial = encoder_path.with_suffix(".partial")
    save_file(layers, str(partial), metadata={"base": "all-MiniLM-L6-v2", "kind": "emotion",
                                               "config": json.dumps(asdict(config))})
    partial.chmod(0o644)  # safetensors creates it private
    partial.replace(encoder_path)
    groups = len(LABELS)
    partial = head_path.with_suffix(".partial.npz")
    np.savez(partial, labels=np.array(LABELS, dtype=str), weights=weights[:groups], bias=bias[:groups],
             ekman_labels=np.array(EKMAN, dtype=str), ekman_weights=weights[groups:], ekman_bias=bias[groups:],
             ekman_threshold=thresholds, encoder=np.array(ENCODER_FILE))
    partial.replace(head_path)
