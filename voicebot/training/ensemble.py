"""Accurate mode's ensemble (``voicebot eval intents``): members' log-probabilities averaged, one decision."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from voicebot.nlu.intents import IntentClassifier, IntentPrediction, _softmax


class EnsembleMember(Protocol):
    """A classifier of texts over sorted ``labels``: ``IntentClassifier`` or ``lexical.LexicalClassifier``."""

    labels: tuple[str, ...]

    def probabilities_of(self, texts: Sequence[str]) -> np.ndarray: ...

    def with_threads(self, threads: int) -> EnsembleMember: ...


class IntentEnsemble:
    """Members with the same labels, averaged in log-probability with ``weights`` (default equal); out of
    scope when the ``oos`` class wins or the top in-scope probability is below ``threshold``.
    ``voicebot eval intents`` uses a fine-tuned member, a frozen-embedding member (one embedding each per
    utterance) and a lexical member (TF-IDF n-grams, no embedding)."""

    def __init__(self, members: Sequence[EnsembleMember], threshold: float,
                 weights: Sequence[float] | None = None) -> None:
        assert members and all(m.labels == members[0].labels for m in members), "members need the same labels"
        self.members = tuple(members)
        self.weights = np.ones(len(members)) if weights is None else np.asarray(weights, dtype=float)
        assert len(self.weights) == len(self.members) and self.weights.sum() > 0
        self.labels = members[0].labels
        self.threshold = float(threshold)
        self._decider = IntentClassifier(_NoEmbedder(), self.labels, np.zeros((len(self.labels), 1)),
                                         np.zeros(len(self.labels)), threshold)

    @property
    def intents(self) -> tuple[str, ...]:
        return self._decider.intents

    def probabilities_of(self, texts: Sequence[str]) -> np.ndarray:
        logs = [w * np.log(m.probabilities_of(texts) + 1e-9)
                for m, w in zip(self.members, self.weights, strict=True)]
        return _softmax(np.sum(logs, axis=0) / self.weights.sum())

    def predict(self, text: str) -> IntentPrediction:
        return self._decider.decide(self.probabilities_of([text])[0])

    def predict_many(self, texts: Sequence[str]) -> list[IntentPrediction]:
        return [self._decider.decide(row) for row in self.probabilities_of(texts)]

    def with_threads(self, threads: int) -> IntentEnsemble:
        return IntentEnsemble([m.with_threads(threads) for m in self.members], self.threshold, self.weights)


class _NoEmbedder:
    """The ensemble's decision rule embeds nothing: its members do."""

    dimension = 1

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        raise TypeError("an IntentEnsemble decides on probabilities; its members embed their own texts")
