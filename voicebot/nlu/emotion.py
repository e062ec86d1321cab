"""The caller's emotion for one turn: neutral | positive | frustrated | angry, with a sentiment score.

Signals, combined in log space:
1. the text model: all-MiniLM-L6-v2 with its top layers fine-tuned on GoEmotions and a linear head
   (``models/emotion_encoder.safetensors`` + ``models/emotion_head.npz``, trained by ``voicebot models
   train-emotion``; ``GOEMOTIONS_MAP`` is the label mapping). It is served by onnxruntime like the shared
   embeddings (its own session: one more forward pass, a few ms) and also scores Ekman's seven;
2. VADER sentiment (lexicon; also reported as ``Emotion.sentiment``);
3. call-centre cues the Reddit data lacks: swearing, "this is ridiculous", "third time I'm calling",
   asking for a human, shouting in capitals (typed text; ASR output is not capitalised that way);
4. the call's signals when the caller gives them (``types.CallerSignals``): turns in a row not understood,
   and the voice's arousal against the caller's own baseline (``speech/arousal.py``).
The weights of 2-4 are set by hand on call-centre phrasings (eval/README.md "Emotion"); the thresholds
that escalate stay in the flows' YAML (``frustration`` handlers).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from voicebot.engines import SentenceEmbedder
from voicebot.types import CallerSignals, Emotion

LABELS = ("neutral", "positive", "frustrated", "angry")
UPSET = ("frustrated", "angry")
EKMAN = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")  # GoEmotions' ``ekman`` field

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
    r"(ridiculous|unacceptable|outrageous|appalling|disgrace(?:ful)?|shambles|absurd|pathetic|useless|incompetent|"
    r"terrible|awful|horrible|worst|"
    r"frustrat\w*|annoy\w*|fed up|sick (?:and tired )?of|waste of (?:my )?time|are you (?:kidding|serious)|"
    r"(?:this|that) is a joke|(?:second|third|fourth|fifth|\d+(?:st|nd|rd|th)|many|several) times?\b.*\b(?:call|ask|told|tried)|"
    r"(?:called|tried|asked|told you) (?:\w+ ){0,3}(?:times|already|before|again and again)|"
    r"already (?:called|tried|told|asked)|"
    r"(?:still|yet) (?:not|no|nothing|haven'?t|hasn'?t|isn'?t|doesn'?t|waiting)|been waiting|"
    r"(?:speak|talk) (?:to|with) (?:a |an |the |your |some )?(?:real |actual )?(?:human|person|agent|manager|"
    r"supervisor|someone)|(?:real|actual) (?:human|person)|not listening|(?:not|isn'?t|won'?t) working|"
    r"doesn'?t (?:work|help|understand)|"
    r"nobody (?:helps|answers|cares)|never (?:works|answers|arrived))", re.IGNORECASE)

# Anger said in so many words: "I'm really angry", "this makes me furious" (not "I'm not angry").
_ANGER_SAID = re.compile(
    r"\b(?:i'?m|i am|we'?re|we are|(?:it|this|that) makes? me|making me|getting)(?: (?!not\b|never\b)\w+){0,2} "
    r"(?:angry|furious|livid|fuming|irate|seething|outraged|enraged)\b", re.IGNORECASE)

# Log-space weights of the cues and signals (set by hand on call-centre phrasings; see eval/README.md "Emotion").
CUE_WEIGHTS = {
    "swearing": {"angry": 2.2, "frustrated": 0.6, "positive": -1.0, "neutral": -0.8},
    "frustration": {"frustrated": 1.4, "angry": 0.4, "positive": -1.0, "neutral": -0.8},
    "shouting": {"angry": 1.2, "frustrated": 0.4, "neutral": -0.5},
    "anger said": {"angry": 2.0, "frustrated": 0.4, "positive": -1.0, "neutral": -0.8},
    "no_match": {"frustrated": 1.2, "neutral": -0.4},  # per turn not understood beyond the first, up to 3
    "arousal": {"angry": 0.8, "frustrated": 0.2, "neutral": -0.4},  # per unit of z-score above 0.5, up to 3
}
VADER_WEIGHT = 1.5
# "I'd like to ..." asks for something: VADER scores that "like" as liking (+0.36), so it reads "want"
_REQUEST_LIKE = re.compile(r"\b((?:i|we|you)(?:'d| would)|would you) like\b", re.IGNORECASE)
# Callers mostly make calm requests, Reddit comments are often upset: the text model's offsets are set for
# GoEmotions, so a call lowers the upset labels' prior ("I want to make a complaint" is not yet upset).
CALL_CENTRE_PRIOR = {"frustrated": -1.5, "angry": -1.5}
AROUSAL_FLOOR = 0.5  # a voice this close to the caller's baseline says nothing
POSITIVE_SENTIMENT = 0.3  # a raised voice with words this positive is excitement, not anger


class EmotionClassifier:
    """Implements ``engines.EmotionDetector``. Shared by all calls (no per-call state).

    ``embedder`` is the emotion model's own encoder (the fine-tuned one, not the intents' embedder);
    ``weights``/``bias`` its group head (offsets tuned on dev folded into the bias); ``ekman_*`` its
    Ekman head (one sigmoid per label, with per-label thresholds), used by ``voicebot eval emotion``."""

    def __init__(self, embedder: SentenceEmbedder, weights: np.ndarray, bias: np.ndarray,
                 labels: tuple[str, ...] = LABELS, ekman_weights: np.ndarray | None = None,
                 ekman_bias: np.ndarray | None = None, ekman_thresholds: np.ndarray | None = None) -> None:
        self.embedder = embedder
        self.weights = np.asarray(weights, dtype=np.float32)
        self.bias = np.asarray(bias, dtype=np.float32)
        self.labels = tuple(labels)
        self.ekman_weights = None if ekman_weights is None else np.asarray(ekman_weights, dtype=np.float32)
        self.ekman_bias = None if ekman_bias is None else np.asarray(ekman_bias, dtype=np.float32)
        self.ekman_thresholds = None if ekman_thresholds is None else np.asarray(ekman_thresholds, np.float32)
        self._vader = SentimentIntensityAnalyzer()

    @classmethod
    def load(cls, path: Path | None = None, cache_dir: Path | None = None, threads: int = 1) -> EmotionClassifier:
        """Load the head from ``path`` (default ``models/emotion_head.npz`` via the manifest) and its tuned
        encoder (the adapter the head names, exported once to ONNX in ``cache_dir``, default
        ``cache/emotion`` next to the head; needs torch then, like the embeddings' first load)."""
        from voicebot.nlu.embeddings import MiniLmEmbedder

        if path is None:
            from voicebot.models import resolve

            path = resolve("emotion")
        path = Path(path)
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        encoder = MiniLmEmbedder.load(cache_dir=cache_dir or path.parent / "cache" / "emotion", threads=threads,
                                      adapter=path.parent / str(arrays["encoder"]))
        return cls(encoder, arrays["weights"], arrays["bias"], tuple(str(x) for x in arrays["labels"]),
                   arrays["ekman_weights"], arrays["ekman_bias"], arrays["ekman_threshold"])

    def head_probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """The text model alone (rows follow ``labels``)."""
        logits = np.asarray(vectors, dtype=np.float32) @ self.weights.T + self.bias
        logits -= logits.max(axis=-1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=-1, keepdims=True)

    def ekman(self, vectors: np.ndarray) -> list[tuple[str, ...]]:
        """Ekman's labels of each text (those over their threshold; the likeliest when none is)."""
        assert self.ekman_weights is not None and self.ekman_bias is not None and self.ekman_thresholds is not None
        probs = 1 / (1 + np.exp(-(np.asarray(vectors, np.float32) @ self.ekman_weights.T + self.ekman_bias)))
        chosen = []
        for row in probs:
            over = [EKMAN[k] for k in np.flatnonzero(row >= self.ekman_thresholds)]
            chosen.append(tuple(over) or (EKMAN[int(row.argmax())],))
        return chosen

    def detect(self, text: str, signals: CallerSignals | None = None) -> Emotion:
        """Blocking (one forward pass of the emotion encoder): call through the InferencePool."""
        return self.detect_embedded(text, self.embedder.embed([as_read(text)])[0], signals)

    def detect_embedded(self, text: str, vector: np.ndarray, signals: CallerSignals | None = None) -> Emotion:
        """Same as ``detect`` with the emotion-encoder vector of ``as_read(text)`` already computed (batch
        evaluation)."""
        probs = self.head_probabilities(vector[None, :])[0]
        read = as_read(text)
        sentiment = float(self._vader.polarity_scores(read)["compound"]) if text.strip() else 0.0
        return combine(dict(zip(self.labels, probs, strict=True)), sentiment, cues(text), signals)


def as_read(text: str) -> str:
    """The words as the text model and the sentiment lexicon read them: a request's "I'd like" is wanting, not
    liking (both read "I'd like to check my balance" as pleased)."""
    return _REQUEST_LIKE.sub(r"\1 want", text)


def combine(text_probs: dict[str, float], sentiment: float, found: Sequence[str],
            signals: CallerSignals | None = None) -> Emotion:
    """The emotion from the text model's probabilities, VADER's sentiment, the text's cues and the call's
    signals (pure; weights in ``CUE_WEIGHTS``). An upset label's score is the probability of either upset
    label (escalation asks "is the caller upset?"; the label says how); ``Emotion.cues`` names the cues and
    signals that moved it."""
    labels = tuple(text_probs)
    logits = dict(zip(labels, np.log(np.asarray(list(text_probs.values()), np.float64) + 1e-9), strict=True))
    for label, shift in CALL_CENTRE_PRIOR.items():
        logits[label] += shift
    weighted: dict[str, float] = {cue: 1.0 for cue in found}
    if signals is not None:
        if signals.no_matches >= 2:
            weighted["no_match"] = float(min(signals.no_matches - 1, 3))
        if signals.arousal is not None and signals.arousal > AROUSAL_FLOOR and sentiment < POSITIVE_SENTIMENT:
            weighted["arousal"] = min(signals.arousal - AROUSAL_FLOOR, 3.0)
    for cue, amount in weighted.items():
        for label, weight in CUE_WEIGHTS[cue].items():
            logits[label] += weight * amount
    if sentiment < 0:
        logits["frustrated"] += VADER_WEIGHT * -sentiment
        logits["angry"] += 0.5 * VADER_WEIGHT * -sentiment
        logits["positive"] -= VADER_WEIGHT * -sentiment
    else:
        logits["positive"] += VADER_WEIGHT * sentiment
    values = np.array([logits[label] for label in labels])
    probs = np.exp(values - values.max())
    probs /= probs.sum()
    best = int(np.argmax(probs))
    upset = [i for i, label in enumerate(labels) if label in UPSET]
    score = probs[upset].sum() if best in upset else probs[best]
    return Emotion(label=labels[best], score=float(score), sentiment=sentiment, cues=tuple(weighted))


def cues(text: str) -> list[str]:
    """Call-centre cues present in ``text``: "swearing", "anger said", "frustration", "shouting"."""
    found = []
    if _SWEARING.search(text):
        found.append("swearing")
    if _ANGER_SAID.search(text):
        found.append("anger said")
    if _FRUSTRATION.search(text):
        found.append("frustration")
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 8 and sum(c.isupper() for c in letters) / len(letters) > 0.7:
        found.append("shouting")
    return found
