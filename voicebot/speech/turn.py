"""End of turn: how much silence ends the caller's turn, given what they said so far.

The listener decodes speculatively at the caller's first pause; that transcript decides the wait:

* ``end_of_turn_min_s`` of silence when the speculative text looks **complete** for what the flow
  expects;
* ``end_of_turn_max_s`` otherwise (mid-number, mid-sentence, nothing decoded yet).

"Complete" rules, in order:

1. no words (or only fillers) -> incomplete (it may be the start of a slow answer); free text expected
   (``hints.kind == "text"``: "Please tell me briefly what happened, and where.") -> incomplete whatever
   was said: a caller describing a problem pauses between clauses, and a finished-looking first clause
   ("This is ridiculous.") is not the description;
2. the text trails off -> incomplete: it ends in "," / "..." / "-" or in a continuation word
   ("and", "or", "but", "so", "because", "uh", "um", "the", "a", "my", "is", "to", "of", ...), which
   also covers "my number is";
3. digits expected (``hints.kind == "digits"``): a text with no digit at all is another kind of
   answer ("yes please", "I don't know", "I don't have one") and complete; when the flow gives a
   length (``min_digits`` > 1), complete once at least ``min_digits`` digits were heard; with no
   length (``min_digits`` <= 1: a digits slot with no length, a repair turn), a text that ends in a
   digit is incomplete (callers read numbers in groups: "three one four, one five nine, two six"),
   unless only one digit was expected (``max_digits == 1``);
4. options expected (``hints.phrases``, e.g. "credit card balance"): the text ending in a proper
   prefix of an option ("... my credit") is incomplete, unless it also ends in a whole option;
5. anything else with a word is complete: a one-word "yes", "billing" or "two" ends the turn after
   ``end_of_turn_min_s``.

A pause inside a digit string whose expected length is not reached yet ("three one four, ..." with
eight digits expected) may wait longer than ``end_of_turn_max_s``: ``digit_pause_s`` when given (callers
reading a number off a card pause between groups for up to a second or two).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from voicebot.speech.wer import normalize
from voicebot.types import Expectation

CONTINUATION = frozenset(
    "and or but so because uh um er erm the a an my is are was to of for with from at in on it's its "
    "like then plus your our their".split())
_TRAILING = re.compile(r"(,|\.\.\.|…|-|—)\s*$")
_PRONOUN_ONE = re.compile(r"\b(?:have|had|got|need|want|that|this|the|other|another|no|any|new|which)\s+one\b",
                          re.IGNORECASE)


def looks_complete(text: str, expectation: Expectation = Expectation()) -> bool:
    """Whether a (speculative) transcript reads like a finished answer to ``expectation``."""
    tokens = normalize(text)
    hints = expectation.hints
    if not tokens or hints.kind == "text" or _TRAILING.search(text.strip()) or tokens[-1] in CONTINUATION:
        return False
    if hints.kind == "digits":
        digits = digit_count(text)
        if digits == 1 and _PRONOUN_ONE.search(text):  # "I don't have one": no digit read out
            return True
        if digits and (expectation.min_digits > 1 or expectation.max_digits == 1):
            return digits >= expectation.min_digits
        return not tokens[-1].isdigit()  # no digit at all: an answer of another kind ("I don't know")
    if hints.digit_count is not None and 0 < digit_count(text) < hints.digit_count[0]:
        return False  # the number said again at its confirmation ("No, it's 1 9 3, …"): more may come
    options = [normalize(p) for p in hints.phrases]
    ends_in_option = any(o and tokens[-len(o):] == o for o in options)
    return ends_in_option or not any(_ends_in_prefix(tokens, o) for o in options)


def _ends_in_prefix(tokens: list[str], option: list[str]) -> bool:
    """``tokens`` end with the first k < len(option) words of ``option``."""
    return any(tokens[-k:] == option[:k] for k in range(1, len(option)) if k <= len(tokens))


@dataclass(frozen=True, slots=True)
class EndOfTurnPolicy:
    """Silence thresholds, from ``SpeechSettings.end_of_turn_min_s`` / ``end_of_turn_max_s``."""

    min_s: float = 0.35
    max_s: float = 1.2
    digit_pause_s: float | None = None  # None: max_s

    def silence_needed(self, speculative: str | None, expectation: Expectation = Expectation()) -> float:
        """Seconds of silence that end the turn; ``speculative`` is None until a decode is ready."""
        if speculative is None:
            return self.max_s
        if looks_complete(speculative, expectation):
            return self.min_s
        if self.digit_pause_s is not None and expectation.hints.kind == "digits" \
                and 0 < digit_count(speculative) < expectation.min_digits:
            return max(self.max_s, self.digit_pause_s)
        return self.max_s


def digit_count(text: str) -> int:
    """Digits read out in ``text`` (one per normalised token)."""
    return sum(t.isdigit() for t in normalize(text))
