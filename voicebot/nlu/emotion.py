"""The caller's emotion for one turn: neutral | positive | frustrated | angry, with a sentiment score.

Three signals, combined in log space:
1. a small logistic-regression head on the MiniLM embedding (``models/emotion_head.npz``, trained on
   GoEmotions by ``voicebot models train-emotion``; see ``GOEMOTIONS_MAP`` for the label mapping);
2. VADER sentiment (lexicon; also reported as ``Emotion.sentiment``);
3. call-centre cues the Reddit data lacks: swearing, "this is ridiculous", "third time I'm calling",
   asking for a human, shouting in capitals (typed text; ASR output is not capitalised that way).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from voicebot.engines import SentenceEmbedder
from voicebot.types import Emotion

LABELS = ("neutral", "positive", "frustrated", "angry")

# GoEmotions label -> ours. A comment takes the strongest of its labels (angry > frustrated > positive >
# neutral); comments carrying only other emotions (fear, sadness, curiosity, surprise, ...) are left out.
GOEMOTIONS_MAP = {
    "anger": "angry", "disgust": "angry",
    "annoyance": "frustrated", "disappointment": "frustrated", "disapproval": "frustrated",
    "admiration": "positive", "amusement": "positive", "approval": "positive", "caring": "positive",
    "excitement": "positive", "gratitude": "positive", "joy": "positive", "love": "positive",
    "optimism": "positive", "pride": "positive", "relief": "positive",
    "neutral": "neutral",
}
_PRIORITY = {"angry": 3, "frustrated": 2, "positive": 1, "neutral": 0}


def map_goemotions(labels: list[str]) -> str | None:
    """Our label for a GoEmotions comment's labels, or None when none of them maps."""
    mapped = [GOEMOTIONS_MAP[label] for label in labels if label in GOEMOTIONS_MAP]
    return max(mapped, key=_PRIORITY.__getitem__) if mapped else None


_SWEARING = re.compile(
    r"\b(damn(?:ed|it)?|hell|crap(?:py)?|shit(?:ty)?|bullshit|fuck\w*|bloody|wtf|pissed|screw(?:ed)?|"
    r"idiots?|stupid|moron|bastards?|sucks?|rubbish|garbage)\b", re.IGNORECASE)
_FRUSTRATION = re.compile(
    r"(ridiculous|unacceptable|absurd|pathetic|useless|incompetent|terrible|awful|horrible|worst|"
    r"frustrat\w*|annoy\w*|fed up|sick (?:and tired )?of|waste of (?:my )?time|are you (?:kidding|serious)|"
    r"(?:this|that) is a joke|(?:second|third|fourth|fifth|\d+(?:st|nd|rd|th)|many|several) times?\b.*\b(?:call|ask|told|tried)|"
    r"(?:called|tried|asked|told you) (?:\w+ ){0,3}(?:times|already|before|again and again)|"
    r"already (?:called|tried|told|asked)|"
    r"(?:still|yet) (?:not|no|nothing|haven'?t|hasn'?t|isn'?t|doesn'?t|waiting)|been waiting|"
    r"(?:speak|talk) (?:to|with) (?:a |an |the |your |some )?(?:real |actual )?(?:human|person|agent|manager|"
    r"supervisor|someone)|(?:real|actual) (?:human|person)|not listening|(?:not|isn'?t|won'?t) working|"
    r"doesn'?t (?:work|help|understand)|"
    r"nobody (?:helps|answers|cares)|never (?:works|answers|arrived))", re.IGNORECASE)

# Log-space weights of the cues (set by hand on call-centre phrasings; see eval/README.md "Emotion").
CUE_WEIGHTS = {
    "swearing": {"angry": 2.2, "frustrated": 0.6, "positive": -1.0, "neutral": -0.8},
    "frustration": {"frustrated": 1.4, "angry": 0.4, "positive": -1.0, "neutral": -0.8},
    "shouting": {"angry": 1.2, "frustrated": 0.4, "neutral": -0.5},
}
VADER_WEIGHT = 1.5


class EmotionClassifier:
    """Implements ``engines.EmotionDetector``. Shared by all calls (no per-call state)."""

    def __init__(self, embedder: SentenceEmbedder, weights: np.ndarray, bias: np.ndarray,
                 labels: tuple[str, ...] = LABELS) -> None:
        self.embedder = embedder
        self.weights = np.asarray(weights, dtype=np.float32)
        self.bias = np.asarray(bias, dtype=np.float32)
        self.labels = tuple(labels)
        self._vader = SentimentIntensityAnalyzer()

    @classmethod
    def load(cls, embedder: SentenceEmbedder, path: Path | None = None) -> EmotionClassifier:
        """Load the head from ``path`` (default: ``models/emotion_head.npz`` via the manifest)."""
        if path is None:
            from voicebot.models import resolve

            path = resolve("emotion")
        with np.load(path, allow_pickle=False) as data:
            return cls(embedder, data["weights"], data["bias"], tuple(str(x) for x in data["labels"]))

    def head_probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """The embedding head alone (rows follow ``labels``)."""
        logits = np.asarray(vectors, dtype=np.float32) @ self.weights.T + self.bias
        logits -= logits.max(axis=-1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=-1, keepdims=True)

    def detect(self, text: str) -> Emotion:
        """Blocking (one embedding): call through the InferencePool."""
        return self.detect_embedded(text, self.embedder.embed([text])[0])

    def detect_embedded(self, text: str, vector: np.ndarray) -> Emotion:
        """Same as ``detect`` with the text's embedding already computed (shared with the intent step)."""
        logits = np.log(self.head_probabilities(vector[None, :])[0] + 1e-9)
        sentiment = float(self._vader.polarity_scores(text)["compound"]) if text.strip() else 0.0
        for cue in cues(text):
            for label, weight in CUE_WEIGHTS[cue].items():
                logits[self.labels.index(label)] += weight
        if sentiment < 0:
            logits[self.labels.index("frustrated")] += VADER_WEIGHT * -sentiment
            logits[self.labels.index("angry")] += 0.5 * VADER_WEIGHT * -sentiment
            logits[self.labels.index("positive")] -= VADER_WEIGHT * -sentiment
        else:
            logits[self.labels.index("positive")] += VADER_WEIGHT * sentiment
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        best = int(np.argmax(probs))
        return Emotion(label=self.labels[best], score=float(probs[best]), sentiment=sentiment)


def cues(text: str) -> list[str]:
    """Call-centre cues present in ``text``: "swearing", "frustration", "shouting"."""
    found = []
    if _SWEARING.search(text):
        found.append("swearing")
    if _FRUSTRATION.search(text):
        found.append("frustration")
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 8 and sum(c.isupper() for c in letters) / len(letters) > 0.7:
        found.append("shouting")
    return found
