"""``voicebot eval intents``: train on one file, test on another, print accuracy figures.

Files: CSV with a ``text,label`` header, or JSONL objects with ``text`` and ``label``. The label ``oos``
means out of scope (train rows labelled ``oos`` train an out-of-scope class). Training happens here,
deterministically (fixed seeds), in the chosen mode:

- ``accurate`` (default): the top MiniLM layers fine-tuned with a cosine head (``finetune.py``), averaged
  with a frozen-embedding logistic regression and a TF-IDF n-gram one (``ensemble.py``, ``lexical.py``);
  minutes, two embeddings per utterance;
- ``fast``: frozen embeddings + logistic regression, the flows' product path (``intents.py``); seconds.

``--flow`` instead evaluates a flow bundle's own product NLU, trained from its YAML as the service trains it,
and scores what the dialog does with each understood request at its menu (``route``).
"""

from __future__ import annotations

import csv
import json
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from voicebot.nlu.build import NluSource, build_nlu
from voicebot.nlu.intents import OOS, IntentClassifier, label_phrase, logistic_regression
from voicebot.training.ensemble import IntentEnsemble

Mode = Literal["accurate", "fast"]
Outcome = Literal["direct", "confirm", "out_of_scope", "no_match"]
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


def holdout(rows: list[tuple[str, str]], share: float = 0.2, seed: int = 0):
    """Split per label: the first ``share`` of each shuffled label group is the dev part."""
    by_label: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in rows:
        by_label[row[1]].append(row)
    rng = random.Random(seed)
    train, dev = [], []
    for label in sorted(by_label):
        group = list(by_label[label])
        rng.shuffle(group)
        cut = int(len(group) * share)
        dev += group[:cut]
        train += group[cut:]
    return train, dev


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
    from voicebot.training.finetune import FineTuneConfig, finetune
    from voicebot.training.lexical import LexicalClassifier

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


# -- a flow bundle's product NLU ------------------------------------------------------------------------


class FlowNluSource(NluSource, Protocol):
    """A bundle as the flow evaluation reads it: what its NLU is built from and how its menu routes."""

    intent_flow: dict[str, str]
    settings: Any  # .confirm_below


@dataclass(frozen=True, slots=True)
class Routed:
    """One test row: what the NLU said and what the dialog does with it at the menu."""

    text: str
    gold: str
    intent: str | None
    confidence: float
    outcome: Outcome


def route(intent: str | None, confidence: float, confirm_below: float,
          flow_intents: Collection[str]) -> Outcome:
    """What ``dialog/interpret.py`` (``Interpreter``) does at a menu with an understood request: out of scope
    when there is no intent; the intent's flow (or handler) at once when its confidence is at least
    ``confirm_below``; below it, "Did you want to …?" for a flow's intent, a no-match re-prompt for a
    built-in one (help, agent)."""
    if intent is None:
        return "out_of_scope"
    if confidence >= confirm_below:
        return "direct"
    return "confirm" if intent in flow_intents else "no_match"


def flow_metrics(rows: Sequence[Routed]) -> dict[str, Any]:
    """``metrics`` plus how in-scope requests are served: reached the right flow directly or after one
    confirmation, handed to the out-of-scope handler, or wrong; and how out-of-scope ones are treated."""
    result = metrics([r.gold for r in rows], [r.intent or OOS for r in rows])
    inside = [r for r in rows if r.gold != OOS]
    outside = [r for r in rows if r.gold == OOS]

    def share(part: Sequence[Routed], whole: Sequence[Routed]) -> float | None:
        return len(part) / len(whole) if whole else None

    right = [r for r in inside if r.intent == r.gold]
    result |= {
        "in_scope_rows": len(inside), "oos_rows": len(outside),
        "reached": share([r for r in right if r.outcome in ("direct", "confirm")], inside),
        "reached_directly": share([r for r in right if r.outcome == "direct"], inside),
        "reached_after_confirmation": share([r for r in right if r.outcome == "confirm"], inside),
        "handed_off_oos": share([r for r in inside if r.outcome == "out_of_scope"], inside),
        "wrong_intent": share([r for r in inside if r.intent is not None and r.intent != r.gold], inside),
        "oos_confirmed": share([r for r in outside if r.outcome == "confirm"], outside),
        "oos_routed_directly": share([r for r in outside if r.outcome == "direct"], outside),
        "per_intent_reached": {
            intent: share([r for r in right if r.gold == intent and r.outcome in ("direct", "confirm")],
                          [r for r in inside if r.gold == intent])
            for intent in sorted({r.gold for r in inside})},
    }
    return result


def evaluate_flow(bundle: FlowNluSource, test_rows: Sequence[tuple[str, str]], embedder=None,
                  cache_dir: Path | None = None, confirm_below: float | None = None,
                  ) -> tuple[dict[str, Any], list[Routed]]:
    """Train the bundle's NLU exactly as the service does (``nlu.build.build_nlu``), understand each test
    text (ASR confidence 1) and route it with the bundle's ``confirm_below`` (or the one given, for
    sweeps)."""
    confirm_below = bundle.settings.confirm_below if confirm_below is None else confirm_below
    from voicebot.nlu.embeddings import MiniLmEmbedder

    embedder = embedder or MiniLmEmbedder.load()
    start = time.perf_counter()
    nlu = build_nlu(bundle, embedder, None, None, cache_dir)
    train_seconds = time.perf_counter() - start
    classifier = nlu.classifier
    routed = []
    for text, gold in test_rows:
        u = nlu.understand_sync(text)
        routed.append(Routed(text, gold, u.intent, u.confidence,
                             route(u.intent, u.confidence, confirm_below, bundle.intent_flow)))
    report = {"mode": "flow", "test_rows": len(test_rows), "intents": len(classifier.intents),
              "confirm_below": confirm_below, "threshold": classifier.threshold,
              "similarity_floor": classifier.similarity_floor, "train_seconds": train_seconds,
              **flow_metrics(routed)}
    return report, routed


def format_flow_report(report: dict[str, Any]) -> str:
    """Human-readable lines for ``voicebot eval intents --flow``."""
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.1f} %"

    lines = [
        f"flow {report.get('flow', '')}: {report['intents']} intents, {report['in_scope_rows']} in-scope and "
        f"{report['oos_rows']} out-of-scope test rows; confirm below {report['confirm_below']}, "
        f"out-of-scope threshold {report['threshold']:.3f}, "
        f"similarity floor {report['similarity_floor']:.2f}",
        f"accuracy                      {pct(report['accuracy'])}",
        f"in-scope accuracy             {pct(report['in_scope_accuracy'])}",
        f"out-of-scope P / R            {pct(report['oos_precision'])} / {pct(report['oos_recall'])}",
        f"in scope, right flow          {pct(report['reached'])} "
        f"(directly {pct(report['reached_directly'])}, "
        f"after one confirmation {pct(report['reached_after_confirmation'])})",
        f"in scope, handed off as oos   {pct(report['handed_off_oos'])}",
        f"in scope, wrong intent        {pct(report['wrong_intent'])}",
        f"out of scope, confirmed / routed at once  {pct(report['oos_confirmed'])} / "
        f"{pct(report['oos_routed_directly'])}",
    ]
    lines += [f"  {intent:<28}{pct(value)} reached" for intent, value in report["per_intent_reached"].items()]
    return "\n".join(lines)
