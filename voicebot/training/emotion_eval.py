"""``voicebot eval emotion``: per-class F1 and macro-F1 for the product's groups and for Ekman's seven."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voicebot.nlu.emotion import EKMAN, LABELS, EmotionClassifier, as_read, map_goemotions


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    group: str | None  # None: the comment's labels map to none of the product's groups
    ekman: tuple[str, ...]
    id: str


def read_rows(path: Path) -> list[Example]:
    """GoEmotions JSONL rows (``text``, ``labels``, ``ekman``, ``id``)."""
    rows = []
    with path.open() as f:
        for line in f:
            row = json.loads(line)
            rows.append(Example(row["text"], map_goemotions(row.get("labels", [])), tuple(row.get("ekman", ())),
                                str(row.get("id", ""))))
    return rows


def is_held_out(example: Example) -> bool:
    """Half of the dev split, by a hash of the comment id: never tuned on."""
    return hashlib.sha256(example.id.encode()).digest()[0] % 2 == 0


def group_f1(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    """F1 of each product group (single label), plus "macro"."""
    from sklearn.metrics import f1_score

    scores = f1_score(list(gold), list(predicted), labels=list(LABELS), average=None, zero_division=0)
    result = {label: round(float(s), 4) for label, s in zip(LABELS, scores, strict=True)}
    result["macro"] = round(float(np.mean(scores)), 4)
    return result


def ekman_f1(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, float]:
    """F1 of each of Ekman's seven (multi-label: a comment may carry several), plus "macro"."""
    from sklearn.metrics import f1_score

    def matrix(rows: Sequence[Sequence[str]]) -> np.ndarray:
        return np.array([[label in row for label in EKMAN] for row in rows], dtype=bool)

    scores = f1_score(matrix(gold), matrix(predicted), average=None, zero_division=0)
    result = {label: round(float(s), 4) for label, s in zip(EKMAN, scores, strict=True)}
    result["macro"] = round(float(np.mean(scores)), 4)
    return result


def evaluate(classifier: EmotionClassifier, rows: Sequence[Example], latency_samples: int = 200) -> dict[str, Any]:
    """Figures of ``classifier`` on GoEmotions-style rows: the groups (text model alone, and as served:
    with VADER and the cues), Ekman's seven, and the time of one ``detect`` (one utterance, median ms)."""
    vectors = classifier.embedder.embed([as_read(r.text) for r in rows])  # as served
    mapped = [i for i, r in enumerate(rows) if r.group is not None]
    gold = [rows[i].group for i in mapped]
    model = classifier.head_probabilities(vectors[mapped]).argmax(axis=1)
    served = [classifier.detect_embedded(rows[i].text, vectors[i]).label for i in mapped]
    report: dict[str, Any] = {
        "rows": len(rows), "group_rows": len(mapped),
        "group_counts": {label: gold.count(label) for label in LABELS},
        "groups_model": group_f1(gold, [classifier.labels[k] for k in model]),
        "groups_served": group_f1(gold, served),
    }
    with_ekman = [i for i, r in enumerate(rows) if r.ekman]
    if classifier.ekman_weights is not None and with_ekman:
        predicted = classifier.ekman(vectors[with_ekman])
        report["ekman_rows"] = len(with_ekman)
        report["ekman"] = ekman_f1([rows[i].ekman for i in with_ekman], predicted)
    timings = []
    for row in rows[:latency_samples]:
        started = time.perf_counter()
        classifier.detect(row.text)
        timings.append((time.perf_counter() - started) * 1000)
    report["detect_ms_p50"] = round(float(np.median(timings)), 2) if timings else None
    return report


def format_report(report: dict[str, Any]) -> str:
    """Lines for people: one table row per figure set."""
    lines = [f"{report['rows']} rows, {report['group_rows']} in the product's groups "
             + ", ".join(f"{k} {v}" for k, v in report["group_counts"].items())]
    for key, title in (("groups_model", "groups, text model"), ("groups_served", "groups, as served"),
                       ("ekman", "Ekman")):
        if key in report:
            lines.append(f"{title:<20} " + "  ".join(f"{k} {v:.3f}" for k, v in report[key].items()))
    lines.append(f"detect: {report['detect_ms_p50']} ms per utterance (median, one thread)")
    return "\n".join(lines)
