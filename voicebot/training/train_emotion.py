"""Train the emotion head (``models/emotion_head.npz``) on GoEmotions over MiniLM embeddings.

``voicebot models train-emotion --data ../shared/data/emotion`` runs this: embeds the train split,
maps labels (``emotion.GOEMOTIONS_MAP``), keeps at most ``per_class`` rows of each class (seeded sample:
a linear head on 384 features gains little beyond that, and embedding all 43k rows takes long on 2 cores),
fits a class-balanced logistic regression, writes a few-KB .npz (no pickle) and reports dev F1 per class
for the head alone and with VADER and cues. Deterministic (fixed seed, lbfgs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from voicebot.nlu.emotion import LABELS, EmotionClassifier, map_goemotions
from voicebot.nlu.embeddings import MiniLmEmbedder

EMOTION_C = 1.0
PER_CLASS = 4000


def read_goemotions(path: Path) -> tuple[list[str], list[str]]:
    """(texts, our labels) of the rows whose GoEmotions labels map to one of ours."""
    texts, labels = [], []
    with path.open() as f:
        for line in f:
            row = json.loads(line)
            label = map_goemotions(row["labels"])
            if label is not None:
                texts.append(row["text"])
                labels.append(label)
    return texts, labels


def per_class_f1(gold: list[str], predicted: list[str]) -> dict[str, float]:
    """F1 of each of our labels, plus "macro"."""
    from sklearn.metrics import f1_score

    scores = f1_score(gold, predicted, labels=list(LABELS), average=None, zero_division=0)
    result = {label: round(float(s), 4) for label, s in zip(LABELS, scores, strict=True)}
    result["macro"] = round(float(np.mean(scores)), 4)
    return result


def cap_per_class(texts: list[str], labels: list[str], per_class: int, seed: int = 0):
    """At most ``per_class`` rows of each label (seeded sample, original order kept)."""
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    for label in LABELS:
        idx = [i for i, y in enumerate(labels) if y == label]
        keep += sorted(rng.permutation(idx)[:per_class].tolist()) if len(idx) > per_class else idx
    keep.sort()
    return [texts[i] for i in keep], [labels[i] for i in keep]


def train(data_dir: Path, out: Path, embedder: MiniLmEmbedder | None = None,
          per_class: int = PER_CLASS) -> dict[str, Any]:
    """Fit and save the head; return dev figures."""
    from sklearn.linear_model import LogisticRegression

    embedder = embedder or MiniLmEmbedder.load(threads=2)
    texts, labels = cap_per_class(*read_goemotions(data_dir / "goemotions_train.jsonl"), per_class)
    vectors = embedder.embed(texts)
    model = LogisticRegression(C=EMOTION_C, max_iter=3000, class_weight="balanced").fit(vectors, labels)
    order = [list(model.classes_).index(label) for label in LABELS]
    weights, bias = model.coef_[order].astype(np.float32), model.intercept_[order].astype(np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial.npz")
    np.savez(partial, labels=np.array(LABELS, dtype=str), weights=weights, bias=bias)
    partial.replace(out)
    report: dict[str, Any] = {"train_rows": len(texts), "train_per_class": {y: labels.count(y) for y in LABELS},
                              "artifact": str(out), "bytes": out.stat().st_size}
    dev_path = data_dir / "goemotions_dev.jsonl"
    if dev_path.exists():
        classifier = EmotionClassifier(embedder, weights, bias)
        dev_texts, dev_labels = read_goemotions(dev_path)
        dev_vectors = embedder.embed(dev_texts)
        head = [LABELS[i] for i in classifier.head_probabilities(dev_vectors).argmax(axis=1)]
        combined = [classifier.detect_embedded(t, v).label for t, v in zip(dev_texts, dev_vectors, strict=True)]
        report |= {"dev_rows": len(dev_texts), "dev_f1_head": per_class_f1(dev_labels, head),
                   "dev_f1_combined": per_class_f1(dev_labels, combined)}
    return report
