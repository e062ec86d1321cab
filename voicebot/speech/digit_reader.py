"""The digit reader: a small CTC model over whisper tiny.en's encoder output that reads number words.

Whisper's decoder drops and merges repeated digits in long strings ("seven seven three three"); a CTC
reader emits one word per spoken word and cannot merge them. The model (trained by
``voicebot models train-digits``, ``voicebot/training/digit_reader.py``; weights ``models/digit_reader.npz``)
reads the encoder states of the utterance (50 frames a second, 384 values, the same encoding the
recogniser already made for the turn; whisper's attention already gave every frame its context): two
frames stacked, a linear layer with ReLU, three residual 1-D convolutions over time (kernel 5, width 160, ReLU) and
a linear layer to :data:`VOCAB` — the number words as spoken, "double", "triple",
one class for any other word (``<w>``) and the CTC blank. Served with numpy (no torch). The shipped weights
are an ensemble of two such networks (the second fine-tuned from the first on clips with more pairs); the
reader averages their per-step probabilities.

Greedy CTC decoding gives the words (an n-best hypothesis when the flow expects a count the best path
misses, or when whisper heard a teen where the reader heard a ten: :meth:`DigitReader.read`);
:func:`words_to_text` writes them as text ("forty two, seventeen") and the product's text side
(``nlu.normalize.find_digit_runs``) turns that into digits, as for any transcript. Confidence: the lowest
mean posterior of a word's frames (one doubtful word makes the whole string doubtful).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import math
from collections import defaultdict
from collections.abc import Callable

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
BEAM_WIDTH = 8  # hypotheses kept by the n-best search (dev: 16 and 32 no better)
MIN_TAKEN_BACK = 4  # the fewest digits of a number taken back and said again (the shortest digit slot)
COUNT_MARGIN = 10.0  # how far (log-probability) a hypothesis taken for its count or digits may trail the best
_TEENS_TENS = {"thirteen": "thirty", "fourteen": "forty", "fifteen": "fifty", "sixteen": "sixty",
               "seventeen": "seventy", "eighteen": "eighty", "nineteen": "ninety"}
TEEN_TEN = {**_TEENS_TENS, **{ten: teen for teen, ten in _TEENS_TENS.items()}}  # words heard for each other
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


@dataclass(frozen=True, slots=True)
class TakenBack:
    """A number taken back and said again in one breath: both readings, and when (seconds into the turn) the
    words between them were said."""

    before: DigitReading
    after: DigitReading
    between_start_s: float
    between_end_s: float


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


def best_path(posteriors: np.ndarray) -> list[tuple[int, int, int]]:
    """The words on the best path (the most likely class per step): each run of one class that is not the
    blank, as (class, its first step, the step after its last)."""
    best = posteriors.argmax(axis=1)
    words: list[tuple[int, int, int]] = []
    start = 0
    for t in range(1, len(best) + 1):
        if t < len(best) and best[t] == best[start]:
            continue
        if best[start] != 0:
            words.append((int(best[start]), start, t))
        start = t
    return words


def ctc_greedy(posteriors: np.ndarray) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Best path: the most likely class per step, repeats collapsed, blanks removed; each word with the
    mean posterior of its steps."""
    path = best_path(posteriors)
    return (tuple(VOCAB[label] for label, _, _ in path),
            tuple(float(posteriors[first:end, label].mean()) for label, first, end in path))


def take_back_split(posteriors: np.ndarray) -> tuple[int, int] | None:
    """Where the best path has a number, then other words, then only number words ("9 8 7 … 1 1, sorry, 9 8 7
    … 1 0"): the first step of the last such run of other words and the step after it; None when it has
    none."""
    path = best_path(posteriors)
    other = VOCAB.index(OTHER)
    last = max((k for k, (label, _, _) in enumerate(path) if label == other), default=None)
    if last is None or last == len(path) - 1:
        return None
    first = last
    while first > 0 and path[first - 1][0] == other:
        first -= 1
    return (path[first][1], path[last][2]) if first > 0 else None


def ctc_beam(posteriors: np.ndarray, width: int = 16,
             floor: float = 1e-3) -> list[tuple[tuple[int, ...], float]]:
    """The ``width`` most likely label sequences (class indices) with their CTC log-probabilities, best
    first: prefix beam search, summing over every path of a sequence; at each step only classes with a
    posterior of at least ``floor`` extend a prefix."""
    logs = np.log(np.maximum(posteriors, 1e-30))
    # prefix -> log-probabilities of its paths that end in a blank, and in its last word
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -math.inf)}
    for t in range(posteriors.shape[0]):
        step: defaultdict[tuple[int, ...], list[float]] = defaultdict(lambda: [-math.inf, -math.inf])
        classes = [int(c) for c in np.nonzero(posteriors[t] >= floor)[0] if c != 0]
        for prefix, (blank, word) in beams.items():
            total = np.logaddexp(blank, word)
            step[prefix][0] = np.logaddexp(step[prefix][0], total + logs[t, 0])
            for c in classes:
                if prefix and prefix[-1] == c:  # the same word again only after a blank
                    step[prefix][1] = np.logaddexp(step[prefix][1], word + logs[t, c])
                    extended = step[prefix + (c,)]
                    extended[1] = np.logaddexp(extended[1], blank + logs[t, c])
                else:
                    extended = step[prefix + (c,)]
                    extended[1] = np.logaddexp(extended[1], total + logs[t, c])
        ranked = sorted(step.items(), key=lambda kv: -np.logaddexp(*kv[1]))[:width]
        beams = {prefix: (b, w) for prefix, (b, w) in ranked}
    return [(prefix, float(np.logaddexp(*scores))) for prefix, scores in beams.items()]


def ctc_align(posteriors: np.ndarray, labels: tuple[int, ...]) -> tuple[float, ...]:
    """Each label's mean posterior over its steps on the best (Viterbi) CTC path that spells ``labels``."""
    if not labels:
        return ()
    logs = np.log(np.maximum(posteriors, 1e-30))
    states = [0]
    for label in labels:
        states += [label, 0]
    n, steps = len(states), posteriors.shape[0]
    score = np.full((steps, n), -math.inf)
    back = np.zeros((steps, n), np.int64)
    score[0, :2] = logs[0, states[:2]]
    for t in range(1, steps):
        for s in range(n):
            options = [(score[t - 1, s], s)]
            if s >= 1:
                options.append((score[t - 1, s - 1], s - 1))
            if s >= 2 and states[s] != 0 and states[s] != states[s - 2]:
                options.append((score[t - 1, s - 2], s - 2))
            best, back[t, s] = max(options)
            score[t, s] = best + logs[t, states[s]]
    s = n - 1 if score[-1, n - 1] >= score[-1, n - 2] else n - 2
    frames: list[list[float]] = [[] for _ in labels]
    for t in range(steps - 1, -1, -1):
        if s % 2:
            frames[s // 2].append(float(posteriors[t, states[s]]))
        s = int(back[t, s])
    return tuple(float(np.mean(f)) if f else 0.0 for f in frames)


def teens_for_tens(words: tuple[str, ...], other: tuple[str, ...]) -> bool:
    """``other`` is ``words`` with some teens and tens swapped ("seventeen" <-> "seventy"), nothing else."""
    return len(words) == len(other) and words != other \
        and all(a == b or TEEN_TEN.get(a) == b for a, b in zip(words, other, strict=True))


def _first_near(nbest: list[tuple[tuple[int, ...], float]], wanted: Callable[[tuple[str, ...], str], bool],
                ) -> tuple[tuple[int, ...], tuple[str, ...], str] | None:
    """The most likely hypothesis within :data:`COUNT_MARGIN` of the best whose (words, digits) are
    ``wanted``: (labels, words, digits)."""
    for labels, score in nbest:
        if score < nbest[0][1] - COUNT_MARGIN:
            break
        words = tuple(VOCAB[c] for c in labels)
        digits = words_to_digits(words)
        if wanted(words, digits):
            return labels, words, digits
    return None


def members_of(weights: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """The networks in one weights file: one, or an ensemble whose keys are prefixed "0/", "1/", …"""
    if not any("/" in k for k in weights):
        return [weights]
    members: defaultdict[int, dict[str, np.ndarray]] = defaultdict(dict)
    for key, value in weights.items():
        member, name = key.split("/", 1)
        members[int(member)][name] = value
    return [members[k] for k in sorted(members)]


def ensemble_weights(*members: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One weights file for several readers (each one network, or already an ensemble): "0/proj.weight", …"""
    networks = [network for weights in members for network in members_of(weights)]
    return {f"{k}/{name}": value for k, network in enumerate(networks) for name, value in network.items()}


class _Network:
    """One trained network of the reader: stacked encoder states -> per-step class probabilities."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self._w = {k: np.asarray(v, np.float32) for k, v in weights.items()}
        self.layers = sum(1 for k in weights if k.startswith("conv.") and k.endswith(".weight"))
        if self._w["proj.weight"].shape[1] != FEATURE_DIM * STACK or self._w["out.weight"].shape[0] != len(VOCAB):
            raise ValueError("digit reader weights do not match this version's features or vocabulary")

    def posteriors(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities per step for stacked states ``x`` (steps, 768)."""
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


class DigitReader:
    """The trained reader, in numpy: one network, or an ensemble whose per-step probabilities are averaged
    (its networks must spike at the same steps: a member fine-tuned from another, eval/README.md). ``read`` is
    blocking (a few ms per second of audio): run it in the pool."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self.networks = [_Network(network) for network in members_of(weights)]

    @classmethod
    def load(cls, path: Path) -> DigitReader:
        with np.load(path) as data:
            return cls(dict(data))

    def posteriors(self, features: np.ndarray) -> np.ndarray:
        """Per-step class probabilities for encoder states ``features`` (frames, 384)."""
        steps = features.shape[0] // STACK
        x = np.asarray(features[:steps * STACK], np.float32).reshape(steps, FEATURE_DIM * STACK)
        return np.mean([network.posteriors(x) for network in self.networks], axis=0)

    def read(self, features: np.ndarray, digit_count: tuple[int, int] | None = None,
             heard: str = "", ruled_out: tuple[str, ...] = ()) -> DigitReading:
        """The words, digits and confidence for one utterance's encoder states: the best path, but

        * when the flow expects ``digit_count`` (min, max) digits and the best path spells another count, the
          most likely hypothesis of the n-best (:func:`ctc_beam`) that has the count;
        * when ``heard`` (another transcript of the turn: whisper's free text) has digits that differ from
          the reading only where a teen and a ten were confused ("seventeen" read as "seventy"), the
          hypothesis that spells its digits with those words swapped;
        * when the reading spells a number the caller said is wrong at this question (``ruled_out``), the most
          likely hypothesis that spells another number of the same length (a caller who says it again after
          "no" says something else: the reading heard before is the one thing known to be wrong).

        Each only within :data:`COUNT_MARGIN` (log-probability) of the n-best's best."""
        if features.shape[0] < STACK:
            return DigitReading((), "", 0.0)
        return _reading(self.posteriors(features), digit_count, heard, ruled_out)

    def read_taken_back(self, features: np.ndarray, digit_count: tuple[int, int] | None = None
                        ) -> TakenBack | None:
        """A number said, taken back and said again in one breath ("9 8 7 … 1 1, sorry, 9 8 7 … 1 0"): the
        number before and the number after the last run of other words on the best path
        (:func:`take_back_split`), each read as :meth:`read` reads a turn (an n-best for ``digit_count``),
        without a digit the take-back's own sound added next to it (:func:`_without_leaked_word`). None when
        there is no such run, when the number after it does not have ``digit_count`` digits, or when the two
        differ in length by more than one digit."""
        if features.shape[0] < STACK:
            return None
        posteriors = self.posteriors(features)
        split = take_back_split(posteriors)
        if split is None:
            return None
        end, start = split
        if digit_count is not None:  # the take-back's own sound read as a digit either side of it
            end = _without_leaked_word(posteriors, 0, end, digit_count[1], last=True)
            start = _without_leaked_word(posteriors, start, posteriors.shape[0], digit_count[1], last=False)
        before, after = _reading(posteriors[:end], digit_count), _reading(posteriors[start:], digit_count)
        if digit_count is not None and not digit_count[0] <= len(after.digits) <= digit_count[1]:
            return None
        if len(after.digits) < MIN_TAKEN_BACK or abs(len(before.digits) - len(after.digits)) > 1:
            return None
        return TakenBack(before, after, split[0] * STACK / FRAME_RATE, split[1] * STACK / FRAME_RATE)


def _without_leaked_word(posteriors: np.ndarray, start: int, end: int, most: int, last: bool) -> int:
    """Where a number next to a take-back ends (``last``) or starts: without its word next to the take-back
    when the best path spells one digit more than ``most`` with it and no more than ``most`` without it
    ("actually, 8 8 6 6 …" for "actually, 8 6 6 …": the end of "actually" read as "eight")."""
    path = best_path(posteriors[start:end])
    words = [VOCAB[label] for label, _, _ in path]
    if not path or len(words_to_digits(words)) != most + 1 \
            or len(words_to_digits(words[:-1] if last else words[1:])) > most:
        return end if last else start
    return start + path[-1][1] if last else start + path[0][2]


def _reading(posteriors: np.ndarray, digit_count: tuple[int, int] | None, heard: str = "",
             ruled_out: tuple[str, ...] = ()) -> DigitReading:
    """:meth:`DigitReader.read` over per-step class probabilities."""
    words, scores = ctc_greedy(posteriors)
    digits = words_to_digits(words)
    nbest: list[tuple[tuple[int, ...], float]] = []
    if digit_count is not None and not digit_count[0] <= len(digits) <= digit_count[1]:
        low, high = digit_count
        nbest = ctc_beam(posteriors, BEAM_WIDTH)
        found = _first_near(nbest, lambda said, spelled: low <= len(spelled) <= high)
        if found is not None:
            words, digits, scores = found[1], found[2], ctc_align(posteriors, found[0])
    other = "".join(run.value for run in find_digit_runs(heard))
    if other and other != digits and any(w in TEEN_TEN for w in words):
        nbest = nbest or ctc_beam(posteriors, BEAM_WIDTH)
        found = _first_near(nbest, lambda said, spelled: spelled == other and teens_for_tens(words, said))
        if found is not None:
            words, digits, scores = found[1], found[2], ctc_align(posteriors, found[0])
    if digits in ruled_out:
        nbest = nbest or ctc_beam(posteriors, BEAM_WIDTH)
        length = len(digits)
        found = _first_near(nbest, lambda said, spelled: len(spelled) == length and spelled not in ruled_out)
        if found is not None:
            words, digits, scores = found[1], found[2], ctc_align(posteriors, found[0])
    return DigitReading(words, digits, min(scores, default=0.0))
