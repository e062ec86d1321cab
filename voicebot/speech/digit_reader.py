"""The digit reader: a small CTC model over whisper tiny.en's encoder output that reads number words.

Whisper's decoder drops and merges repeated digits in long strings ("seven seven three three"); a CTC
reader emits one word per spoken word and cannot merge them. The model (trained by
``voicebot models train-digits``, ``voicebot/training/digit_reader.py``; weights ``models/digit_reader.npz``)
reads the encoder states of the utterance (50 frames a second, 384 values, the same encoding the
recogniser already made for the turn; whisper's attention already gave every frame its context): two
frames stacked, a linear layer with ReLU, three residual 1-D convolutions over time (kernel 5, width 160, ReLU) and
a linear layer to :data:`VOCAB` — the number words as spoken, "double", "triple",
one class for any other word (``<w>``) and the CTC blank. Served with numpy (no torch).

Greedy CTC decoding gives the words; :func:`words_to_text` writes them as text ("forty two, seventeen")
and the product's text side (``nlu.normalize.find_digit_runs``) turns that into digits, as for any
transcript. Confidence: the lowest mean posterior of a word's frames (one doubtful word makes the whole
string doubtful).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicebot.nlu.normalize import find_digit_runs

BLANK = "<b>"
OTHER = "<w>"  # any word that is not a number word ("my", "account", "uh")
NUMBER_WORDS = tuple(
    "zero oh one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred "
    "thousand double triple".split())
VOCAB = (BLANK, *NUMBER_WORDS, OTHER)
FEATURE_DIM = 384  # whisper tiny.en's encoder width
FRAME_RATE = 50  # encoder frames a second
STACK = 2  # frames stacked into one model step (25 steps a second)
GROUP_ENDS = frozenset({"hundred", "thousand"})  # "nine hundred" closes a group: "nine hundred, one two"


@dataclass(frozen=True, slots=True)
class DigitReading:
    """What the reader heard: its words (``<w>`` for any other word), the digits they spell, confidence."""

    words: tuple[str, ...]
    digits: str
    confidence: float

    @property
    def other_words(self) -> int:
        return sum(w == OTHER for w in self.words)


def words_to_text(words: tuple[str, ...] | list[str]) -> str:
    """The number words as text for ``find_digit_runs``: other words become a comma (a break), and a
    group ends after "hundred" or "thousand"."""
    parts: list[str] = []
    for word in words:
        if word == OTHER:
            if parts and parts[-1] != ",":
                parts.append(",")
            continue
        parts.append(word)
        if word in GROUP_ENDS:
            parts.append(",")
    return " ".join(parts).replace(" ,", ",").strip(", ")


def words_to_digits(words: tuple[str, ...] | list[str]) -> str:
    """Every digit the words spell, in order ("double four seven" -> "447")."""
    return "".join(run.value for run in find_digit_runs(words_to_text(words)))


def ctc_greedy(posteriors: np.ndarray) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Best path: the most likely class per step, repeats collapsed, blanks removed; each word with the
    mean posterior of its steps."""
    best = posteriors.argmax(axis=1)
    words: list[str] = []
    scores: list[float] = []
    start = 0
    for t in range(1, len(best) + 1):
        if t < len(best) and best[t] == best[start]:
            continue
        if best[start] != 0:
            words.append(VOCAB[best[start]])
            scores.append(float(posteriors[start:t, best[start]].mean()))
        start = t
    return tuple(words), tuple(scores)


class DigitReader:
    """The trained reader, in numpy. ``read`` is blocking (a few ms per second of audio): run it in the pool."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self._w = {k: np.asarray(v, np.float32) for k, v in weights.items()}
        self.layers = sum(1 for k in weights if k.startswith("conv.") and k.endswith(".weight"))
        if self._w["proj.weight"].shape[1] != FEATURE_DIM * STACK or self._w["out.weight"].shape[0] != len(VOCAB):
            raise ValueError("digit reader weights do not match this version's features or vocabulary")

    @classmethod
    def load(cls, path: Path) -> DigitReader:
        with np.load(path) as data:
            return cls(dict(data))

    def posteriors(self, features: np.ndarray) -> np.ndarray:
        """Per-step class probabilities for encoder states ``features`` (frames, 384)."""
        steps = features.shape[0] // STACK
        x = np.asarray(features[:steps * STACK], np.float32).reshape(steps, FEATURE_DIM * STACK)
        x = np.maximum(x @ self._w["proj.weight"].T + self._w["proj.bias"], 0.0)
        for layer in range(self.layers):
            x = x + np.maximum(self._conv(x, f"conv.{layer}"), 0.0)
        logits = x @ self._w["out.weight"].T + self._w["out.bias"]
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def _conv(self, x: np.ndarray, name: str) -> np.ndarray:
        """torch.nn.Conv1d over time with "same" zero padding: (steps, width) -> (steps, width)."""
        weight = self._w[f"{name}.weight"]  # (out, in, kernel)
        kernel = weight.shape[2]
        padded = np.pad(x, ((kernel // 2, kernel // 2), (0, 0)))
        windows = np.stack([padded[k:k + x.shape[0]] for k in range(kernel)], axis=2)  # (steps, in, kernel)
        return windows.reshape(x.shape[0], -1) @ weight.reshape(weight.shape[0], -1).T + self._w[f"{name}.bias"]

    def read(self, features: np.ndarray) -> DigitReading:
        """The words, digits and confidence for one utterance's encoder states."""
        if features.shape[0] < STACK:
            return DigitReading((), "", 0.0)
        words, scores = ctc_greedy(self.posteriors(features))
        return DigitReading(words, words_to_digits(words), min(scores, default=0.0))
