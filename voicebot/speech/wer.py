"""Word error rate and the text normalisation applied to both reference and hypothesis.

Normalisation (the usual Whisper-eval style, kept small and documented):

1. lower-case; hyphens and slashes become spaces; other punctuation is dropped (apostrophes inside
   words are kept: "don't");
2. numbers are written as digits, one token per digit: "forty-seven", "four seven", "47" and
   "4 7" all become ``4 7``; "double seven" becomes ``7 7``; "oh" next to another digit is ``0``;
   "two hundred five" becomes ``2 0 5``. Scoring digit by digit is what matters for account and
   phone numbers, and it makes "47" and "forty seven" equal on both sides;
   "and" inside a number or between dollars and cents is dropped;
3. money and ids as a recogniser writes them: "$1,250.50" becomes ``1 2 5 0 dollars 5 0 cents``,
   "50%" ``5 0 percent``, and a token mixing letters and digits is spelled out ("B732" -> ``b 7 3 2``,
   as "B seven three two" reads);
4. ordinals keep their suffix on the last digit: "twenty third", "23rd" both become ``2 3rd``
   (AN4's dates are read "JUNE TWENTY THIRD"; whisper writes "June 23rd"), "first" and "1st" ``1st``;
5. fillers ("uh", "um", "er", "erm", "hmm", "mm") are removed.

Spelled letters: in a text with lower-case letters (a recogniser's usual output), a word in capitals is
read letter by letter, as spelled ("Erase CK CW" -> ``erase c k c w``, against AN4's "ERASE C K C W");
a text all in capitals (AN4's and LibriSpeech's references) is read as words. A spelled name written as a
word stays wrong: "E R I C" against "Eric" is four word errors (a flow reading a spelled name needs the
letters). :func:`cer` measures the same pairs by character with the spaces taken out, so there the two
are equal: report both for spelled items.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())}
TEENS = {w: 10 + i for i, w in enumerate(
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())}
TENS = {w: 10 * (i + 2)
        for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
SCALES = {"hundred": 100, "thousand": 1000}
REPEATS = {"double": 2, "triple": 3}
FILLERS = {"uh", "um", "er", "erm", "hmm", "mm", "ah"}
_NUMBER_WORDS = UNITS.keys() | TEENS.keys() | TENS.keys() | SCALES.keys()
_PUNCT = re.compile(r"[^\w\s']")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_MONEY = re.compile(r"\$(\d+)(?:\.(\d\d))?\b")
_ORDINAL = re.compile(r"^(\d+)(st|nd|rd|th)$")
ORDINALS = {"first": ("one", "st"), "second": ("two", "nd"), "third": ("three", "rd"),
            "fifth": ("five", "th"), "eighth": ("eight", "th"), "ninth": ("nine", "th"), "twelfth": ("twelve", "th"),
            **{f"{w}th": (w, "th") for w in ("four", "six", "seven", "ten", "eleven", *(
                "thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()))},
            **{f"{w[:-1]}ieth": (w, "th") for w in TENS}}
_CAPITALS = re.compile(r"(?<![\w'])[A-Z]{2,}(?![\w'])")
_SUFFIX = "\0"  # marks an ordinal suffix token until it is put back on its number


def _numbers_to_digits(words: Sequence[str]) -> list[str]:
    """A run of number words -> digit tokens. Adjacent units are separate numbers ("four seven");
    "one thousand two hundred fifty" is one number (1250)."""
    out: list[str] = []
    total, current, last = 0, None, ""  # the number read so far is total + current

    def flush() -> None:
        nonlocal total, current
        if current is not None or total:
            out.extend(str(total + (current or 0)))
        total, current = 0, None

    for w in words:
        if w in UNITS or w in TEENS:
            n = UNITS.get(w, TEENS.get(w, 0))
            if not (last in SCALES or (last == "tens" and w in UNITS)):
                flush()
            current = (current or 0) + n
            last = "unit"
        elif w in TENS:
            if last not in SCALES:
                flush()
            current = (current or 0) + TENS[w]
            last = "tens"
        elif w == "hundred":
            current = (current or 1) * 100
            last = w
        else:  # thousand
            total += (current or 1) * 1000
            current, last = None, w
    flush()
    return out


def normalize(text: str) -> list[str]:
    """Normalised tokens of ``text`` (see the module docstring)."""
    if re.search("[a-z]", text):  # capitals in a mixed-case text are spelled letters
        text = _CAPITALS.sub(lambda m: " ".join(m[0]), text)
    text = _THOUSANDS.sub("", text.lower())
    text = _MONEY.sub(lambda m: f"{m[1]} dollars" + (f" {m[2]} cents" if m[2] and int(m[2]) else ""), text)
    text = text.replace("%", " percent ").replace("-", " ").replace("/", " ")
    text = _PUNCT.sub(" ", text.replace("’", "'"))
    tokens = [t.strip("'") for t in text.split()]
    tokens = [t for t in tokens if t and t not in FILLERS]
    tokens = [c for t in tokens for c in (_spelled(t) if _is_id(t) else (t,))]
    tokens = [c for t in tokens for c in _ordinal(t)]
    out: list[str] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.startswith(_SUFFIX):
            if out and out[-1].isdigit():
                out[-1] += t[1:]
            else:  # only after a number (never happens: _ordinal puts one first)
                out.append(t[1:])
            i += 1
        elif t.isdigit():
            out.extend(t)
            i += 1
        elif t in REPEATS and i + 1 < len(tokens) and (tokens[i + 1] in UNITS or tokens[i + 1].isdigit()):
            nxt = tokens[i + 1]
            out.extend(str(UNITS.get(nxt, nxt)) * REPEATS[t])
            i += 2
        elif t in _NUMBER_WORDS:
            j = i
            while j < len(tokens) and (tokens[j] in _NUMBER_WORDS or _and_in_number(tokens, j)):
                j += 1
            out.extend(_numbers_to_digits([w for w in tokens[i:j] if w != "and"]))
            i = j
        elif t == "and" and out and out[-1] in ("dollar", "dollars") and i + 1 < len(tokens) \
                and (tokens[i + 1] in _NUMBER_WORDS or tokens[i + 1].isdigit()):
            i += 1  # "five dollars and fifty cents" reads as "$5.50"
        else:
            out.append(t)
            i += 1
    # "oh" is zero only between or beside digits ("four oh seven")
    return ["0" if t == "oh" and _digit_neighbour(out, k) else t for k, t in enumerate(out)]


def _and_in_number(tokens: Sequence[str], j: int) -> bool:
    """ "and" after hundred/thousand and before a number word: "two hundred and five"."""
    return (tokens[j] == "and" and 0 < j < len(tokens) - 1 and tokens[j - 1] in SCALES
            and tokens[j + 1] in _NUMBER_WORDS)


def _is_id(token: str) -> bool:
    return any(c.isdigit() for c in token) and any(c.isalpha() for c in token) and not _ORDINAL.match(token)


def _spelled(token: str) -> list[str]:
    """"b732" -> ["b", "732"]: letters one by one, digit runs kept (they are split later)."""
    return re.findall(r"\d+|[^\d]", token)


def _ordinal(token: str) -> tuple[str, ...]:
    """"23rd" -> ("23", suffix marker "rd"); "third" -> ("three", marker "rd"); others unchanged."""
    if token in ORDINALS:
        word, suffix = ORDINALS[token]
        return word, _SUFFIX + suffix
    match = _ORDINAL.match(token)
    return (match[1], _SUFFIX + match[2]) if match else (token,)


def _digit_neighbour(tokens: Sequence[str], k: int) -> bool:
    return any(0 <= j < len(tokens) and tokens[j].isdigit() for j in (k - 1, k + 1))


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Levenshtein distance over tokens (substitutions, deletions, insertions all cost 1)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


@dataclass(frozen=True, slots=True)
class WerResult:
    errors: int
    reference_words: int

    @property
    def wer(self) -> float:
        return self.errors / self.reference_words if self.reference_words else 0.0


@dataclass(frozen=True, slots=True)
class CerResult:
    errors: int
    reference_chars: int

    @property
    def cer(self) -> float:
        return self.errors / self.reference_chars if self.reference_chars else 0.0


def wer(pairs: Iterable[tuple[str, str]]) -> WerResult:
    """Corpus WER over (reference, hypothesis) pairs: total edits / total reference words."""
    errors = words = 0
    for ref, hyp in pairs:
        r, h = normalize(ref), normalize(hyp)
        errors += edit_distance(r, h)
        words += len(r)
    return WerResult(errors, words)


def cer(pairs: Iterable[tuple[str, str]]) -> CerResult:
    """Corpus character error rate over (reference, hypothesis) pairs, on the normalised texts with
    their spaces taken out ("E R I C" and "Eric" are equal; "4 7" and "forty-seven" too)."""
    errors = chars = 0
    for ref, hyp in pairs:
        r, h = "".join(normalize(ref)), "".join(normalize(hyp))
        errors += edit_distance(r, h)
        chars += len(r)
    return CerResult(errors, chars)
