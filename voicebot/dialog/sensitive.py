"""Sensitive slots: values that never reach a record, an event, a log line or an agent in clear.

A flow marks a question ``sensitive: true`` (or ``{keep_last: 4}``). For each call a :class:`Redactor`
learns the values those slots take and hides them wherever they would be kept: everything the caller
says or keys at such a question is replaced whole, and the values themselves are masked in any other
text (the bot's read-back, the decision, the handoff summary), spelled as digits, with separators, or
as digit words ("four five six seven"). Then ``free_text`` (the PII masker of ``nlu/pii.py``, on by default
in the service) masks the personal data the flow did not mark: cards, phone numbers, e-mail addresses, ….
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

MASK = "****"
_DIGIT_WORDS = {"0": "zero|oh|o", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
                "7": "seven", "8": "eight", "9": "nine"}
_SEPARATOR = r"[\s,.\-/]*"
_DIGIT_RUN = re.compile(r"\d(?:[\s,.\-]?\d)*")  # digits as a text writes them: 4111 1111, 555-0100, 55555


def mask_value(value: Any, keep_last: int = 0) -> str:
    """``****``, or ``****5678`` with the last ``keep_last`` characters left."""
    text = str(value)
    return MASK + text[-keep_last:] if 0 < keep_last < len(text) else MASK


def _pattern(value: str) -> re.Pattern[str] | None:
    """How the value may be spelled in a text; None for values too short to find without false hits."""
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 3 and len(digits) >= len(re.sub(r"[\s\-/.]", "", value)) - 1:
        parts = [f"(?:{d}|{_DIGIT_WORDS[d]})" for d in digits]
        return re.compile(r"(?<![\w])" + _SEPARATOR.join(parts) + r"(?![\w])", re.IGNORECASE)
    if len(value.strip()) >= 3:
        return re.compile(re.escape(value.strip()), re.IGNORECASE)
    return None


class Redactor:
    """One call's sensitive values and how to hide them."""

    def __init__(self, rules: Mapping[str, int], free_text: Callable[[str], str] | None = None) -> None:
        self.rules = dict(rules)  # slot -> characters left in clear
        self._free_text = free_text  # masks personal data in any text (nlu/pii.py); None: slots only
        self._patterns: dict[str, tuple[re.Pattern[str], str]] = {}  # value -> (how it is spelled, its mask)

    def learn(self, slots: Mapping[str, Any]) -> None:
        """Remember the values the sensitive slots hold now."""
        for slot, keep in self.rules.items():
            value = slots.get(slot)
            if value in (None, "") or str(value) in self._patterns:
                continue
            if (pattern := _pattern(str(value))) is not None:
                self._patterns[str(value)] = (pattern, mask_value(value, keep))

    def learn_heard(self, digits: str) -> None:
        """Remember a sensitive answer the bot reads back before it fills its slot (seven digits of eight)."""
        if digits not in self._patterns and (pattern := _pattern(digits)) is not None:
            self._patterns[digits] = (pattern, MASK)

    def text(self, text: str, free_text: bool = True) -> str:
        """``text`` with every known sensitive value masked, then (unless not ``free_text``) any other personal
        data."""
        for value in sorted(self._patterns, key=len, reverse=True):  # an account number before a PIN inside it
            pattern, mask = self._patterns[value]
            text = pattern.sub(mask, text)
        return self._free_text(text) if free_text and self._free_text is not None and text else text

    def slots(self, slots: Mapping[str, Any]) -> dict[str, Any]:
        """The slots with the sensitive ones masked (and every value's text scrubbed)."""
        return {name: mask_value(value, self.rules[name]) if name in self.rules and value not in (None, "")
                else self.data(value) for name, value in slots.items()}

    def fragments_of(self, text: str) -> Callable[[Any], Any]:
        """A scrubber for the rest of a turn whose caller said ``text``: the NLU reads entities from the same words
        and the decision quotes them, so a run of 3 or more digits that free-text masking took out of ``text``
        (and left nowhere in it) is masked wherever else it stands ("55555" of a spoken card number)."""
        clear = "".join(re.findall(r"\d", self.text(text, free_text=False)))
        kept = "".join(re.findall(r"\d", self.text(text)))

        def hidden(digits: str) -> bool:
            return len(digits) >= 3 and digits in clear and digits not in kept

        def scrub(value: Any) -> Any:
            if isinstance(value, str):
                return _DIGIT_RUN.sub(lambda m: MASK if hidden(re.sub(r"\D", "", m[0])) else m[0], value)
            if isinstance(value, int) and not isinstance(value, bool):
                return MASK if hidden(str(abs(value))) else value
            if isinstance(value, Mapping):
                return {k: scrub(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return type(value)(scrub(v) for v in value)
            return value

        return scrub if clear != kept else (lambda value: value)

    def data(self, value: Any, free_text: bool = True) -> Any:
        """Any JSON-like value with the known sensitive values (and other personal data) masked in its strings."""
        if isinstance(value, str):
            return self.text(value, free_text)
        if isinstance(value, int) and not isinstance(value, bool):  # a number read as one (411111111111111)
            masked = self.text(str(value), free_text)
            return value if masked == str(value) else masked
        if isinstance(value, Mapping):
            return {k: self.data(v, free_text) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.data(v, free_text) for v in value)
        return value
