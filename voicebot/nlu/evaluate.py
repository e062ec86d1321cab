"""``voicebot eval intents``: train on one file, test on another, print accuracy figures.

Files: CSV with a ``text,label`` header, or JSONL objects with ``text`` and ``label``. The label ``oos``
means out of scope (train rows labelled ``oos`` train an out-of-scope class). Training happens here,
deterministically (fixed seeds), in the chosen mode:

- ``accurate`` (default): the top MiniLM layers fine-tuned with a cosine head (``finetune.py``), averaged
  with a frozen-embedding logistic regression and a TF-IDF n-gram one (``IntentEnsemble``, ``lexical.py``);
  minutes, two embeddings per utterance;
- ``fast``: frozen embeddings + logistic regression, the flows' product path (``intents.py``); seconds.
"""

from __future__ import annotations

import csv
import json
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from voicebot.nlu.intents import OOS, IntentClassifier, IntentEnsemble, label_phrase, logistic_regression

Mode = Literal["accurate", "fast"]
# Weight of the lexical member (TF-IDF n-grams) against 1 for each embedding member, tuned on the dev sets.
LEXICAL_WEIGHT = 0.5
# Out-of-scope threshold of the accurate-mode ensemble, tuned on CLINC150 val (eval/README.md "Intents"):
# 0.325 -> in-scope 96.0 %, oos recall 88 %; 0.35 -> 95.7 % / 89 %; 0.4 -> 95.2 % / 92 %.
FINETUNED_OOS_THRESHOLD = 0.35


def read_rows(path: Path) -> list[tuple[str, str]]:
    """(text, label) rows from a CSV (``text,label`` header) or JSONL file."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="") as f:
            return [(row["text"], row["label"]) for row in csv.DictReader(f)]
    with path.open() as f:
        return [(row["text"], row["label"]) for row in map(json.loads, filter(str.strip, f))]


def few_shot(rows: Sequence[tuple[str, str]], shots: int, seed: int = 0) -> list[tuple[str, str]]:
    """``shots`` rows per label, drawn with a fixed seed."""
    by_label: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in rows:
        by_label[row[1]].append(row)
    rng = random.Random(seed)
    picked = []
    for label in sorted(by_label):
        group = list(by_label[label])
        rng.shuffle(group)
        picked += group[:shots]
    return picked


def train_classifier(rows: Sequence[tuple[str, str]], mode: Mode = "accurate", threads: int = 2,
                     progress: Callable[[int, int, float], None] | None = None,
                     ) -> IntentClassifier | IntentEnsemble:
    """Train on (text, label) rows; ``oos`` rows train the out-of-scope class.

    Without ``oos`` rows the classifier is closed-set (never rejects), as the benchmarks score it; with
    them it learns and calibrates rejection. Each intent's name ("card_arrival" -> "card arrival") is one
    more training example of the frozen-embedding and lexical heads.
    """
    texts, labels = [r[0] for r in rows], [r[1] for r in rows]
    open_set = OOS in labels
    intents = sorted(set(labels) - {OOS})
    from voicebot.nlu.embeddings import MiniLmEmbedder

    frozen = MiniLmEmbedder.load(threads=threads)
    named_texts, named_labels = texts + [label_phrase(i) for i in intents], labels + intents
    vectors = frozen.embed(named_texts)
    if mode == "fast":
        if open_set:
            return IntentClassifier.fit(frozen, vectors, named_labels)
        weights, bias, classes = logistic_regression(vectors, np.asarray(named_labels))
        return IntentClassifier(frozen, classes, weights, bias, threshold=0.0)
    from voicebot.nlu.finetune import FineTuneConfig, finetune
    from voicebot.nlu.lexical import LexicalClassifier

    weights, bias, classes = logistic_regression(vectors, np.asarray(named_labels))
    tuned = finetune(texts, labels, FineTuneConfig(threads=threads), progress=progress)
    assert tuned.labels == classes
    members = [IntentClassifier.from_finetuned(tuned, 0.0), IntentClassifier(frozen, classes, weights, bias, 0.0),
               LexicalClassifier.fit(named_texts, named_labels)]
    return IntentEnsemble(members, FINETUNED_OOS_THRESHOLD if open_set else 0.0,
                          weights=(1.0, 1.0, LEXICAL_WEIGHT))


def metrics(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 (over gold labels, ``oos`` included), in-scope accuracy, out-of-scope P/R."""
    from sklearn.metrics import f1_score

    g, p = np.asarray(gold), np.asarray(predicted)
    in_scope = g != OOS
    result: dict[str, Any] = {
        "accuracy": float((g == p).mean()),
        "macro_f1": float(f1_score(g, p, labels=sorted(set(g.tolist())), average="macro", zero_division=0)),
        "in_scope_accuracy": float((g[in_scope] == p[in_scope]).mean()) if in_scope.any() else None,
        "oos_precision": None, "oos_recall": None,
    }
    if (~in_scope).any():
        result["oos_recall"] = float((p[~in_scope] == OOS).mean())
        result["oos_precision"] = float((g[p == OOS] == OOS).mean()) if (p == OOS).any() else 0.0
    return result


def single_utterance_ms(classifier: IntentClassifier | IntentEnsemble, texts: Sequence[str],
                        n: int = 200) -> tuple[float, float]:
    """Median wall and CPU ms to classify one utterance (tokenise + encode + head, one thread), after
    warm-up. CPU time is what a busy machine does not inflate (onnxruntime runs one-thread sessions on the
    calling thread)."""
    for text in texts[:5]:
        classifier.predict(text)
    wall, cpu = [], []
    for text in texts[:n]:
        start, start_cpu = time.perf_counter(), time.thread_time()
        classifier.predict(text)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def evaluate(train_path: Path, test_path: Path, shots: int | None = None, mode: Mode = "accurate",
             threads: int = 2, progress: Callable[[int, int, float], None] | None = None) -> dict[str, Any]:
    """Train on ``train_path`` (``shots`` per label if given), test on ``test_path``; figures as a dict."""
    report = evaluate_rows(read_rows(train_path), read_rows(test_path), shots, mode, threads, progress)
    return {"train": str(train_path), "test": str(test_path)} | report


def evaluate_rows(train_rows: Sequence[tuple[str, str]], test_rows: Sequence[tuple[str, str]],
                  shots: int | None = None, mode: Mode = "accurate", threads: int = 2,
                  progress: Callable[[int, int, float], None] | None = None) -> dict[str, Any]:
    """Same as ``evaluate`` on (text, label) rows."""
    if shots:
        train_rows = few_shot(train_rows, shots)
    start = time.perf_counter()
    classifier = train_classifier(train_rows, mode, threads, progress)
    train_seconds = time.perf_counter() - start
    predictions = classifier.predict_many([r[0] for r in test_rows])
    predicted = [p.intent or OOS for p in predictions]
    single = classifier.with_threads(1)  # latency on one core
    return {
        "mode": mode, "shots": shots, "train_rows": len(train_rows), "test_rows": len(test_rows),
        "intents": len(classifier.intents),
        **metrics([r[1] for r in test_rows], predicted),
        **dict(zip(("ms_per_utterance", "cpu_ms_per_utterance"),
                   single_utterance_ms(single, [r[0] for r in test_rows]), strict=True)),
        "train_seconds": train_seconds, "threshold": classifier.threshold,
    }


def format_report(report: dict[str, Any]) -> str:
    """Human-readable lines for ``voicebot eval intents``."""
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.2f} %"

    return "\n".join([
        f"mode {report['mode']}, shots {report['shots'] or 'all'}: {report['train_rows']} train rows, "
        f"{report['intents']} intents, {report['test_rows']} test rows",
        f"accuracy            {pct(report['accuracy'])}",
        f"macro-F1            {pct(report['macro_f1'])}",
        f"in-scope accuracy   {pct(report['in_scope_accuracy'])}",
        f"out-of-scope P / R  {pct(report['oos_precision'])} / {pct(report['oos_recall'])}",
        f"ms per utterance    {report['ms_per_utterance']:.2f} wall, {report['cpu_ms_per_utterance']:.2f} CPU "
        "(median, one thread, after warm-up)",
        f"training            {report['train_seconds']:.1f} s",
    ])
