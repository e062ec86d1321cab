"""Collecting DTMF digits into one input: terminator, maximum length, inter-digit timeout."""

from __future__ import annotations

from dataclasses import dataclass

from voicebot.types import DigitsInput, Expectation

# Keys less than this far apart after a one-key answer are typed as one number ("1", then "2345678#").
BURST_GAP_S = 1.0
# The most keys such an entry holds (no question bounds it).
MAX_ENTRY_KEYS = 16


@dataclass(frozen=True, slots=True)
class KeyedOn(DigitsInput):
    """Keys that went on straight after a one-key answer: the whole entry, that answer's key first
    ("12345678" keyed at a menu, its "1" already taken as option 1). The session answers it from the state
    before that key when it can (:func:`without_answer_key` otherwise)."""


def without_answer_key(entry: KeyedOn, expect: Expectation) -> DigitsInput:
    """The entry for the question asked after its first key was taken as an answer: the keys after it, or all
    of them when only those fit the question's length ("1" for yes, then an account number one key short)."""
    rest = entry.digits[1:]
    if expect.max_digits > 1 and not _fits(rest, expect) and _fits(entry.digits, expect):
        rest = entry.digits
    return DigitsInput(rest, entry.terminated)


def _fits(digits: str, expect: Expectation) -> bool:
    return expect.min_digits <= len(digits) <= expect.max_digits


@dataclass(slots=True)
class DigitCollector:
    """Pure state machine; the session owns the timer and calls :meth:`timeout` when it fires.

    With no DTMF expected (``max_digits == 0``) every key is its own input (menus: "press 1").
    Callers often press the terminator after an entry that was already complete at its maximum
    length ("12345678#"): that terminator is swallowed, not taken as the answer to the next question.
    Keys typed after an input is complete and before the next question (:meth:`reset`) are held for that
    question. Keys that follow a one-key answer less than ``BURST_GAP_S`` apart are one entry, a
    :class:`KeyedOn` that starts with that answer's key and ends at "#", at a gap or at ``MAX_ENTRY_KEYS``,
    whatever the question: a number keyed at a menu or at "Did you want to …? Press 1 for yes" is a number.
    """

    expect: Expectation
    digits: str = ""
    last_key_at: float | None = None
    _late_terminator: tuple[str, float] | None = None  # (terminator, until when it is swallowed)
    _answered: bool = False  # an input is complete: further keys wait for the next question
    _chain: tuple[str, float] | None = None  # (a one-key answer's key, until when a key goes on from it)
    _burst: bool = False  # ``digits`` is a KeyedOn entry being typed

    def reset(self, expect: Expectation) -> list[DigitsInput]:
        """A new question. Keys pressed and not yet part of an input (typed while the bot was busy) are kept
        and read again under it, in order; returns the inputs they complete at once. A KeyedOn entry being
        typed goes on."""
        self.expect, self._answered = expect, False
        if self._burst:
            return [self._done(self.digits[:-1], True)] if self.digits.endswith("#") else []
        pending, at = self.digits, self.last_key_at or 0.0
        self.digits, self.last_key_at = "", None
        if pending:
            self._chain = None
        inputs = []
        for k in pending:  # all of them under this question: one input may follow another
            self._answered = False
            if (done := self.key(k, at)) is not None:
                inputs.append(done)
        return inputs

    def key(self, digit: str, at: float) -> DigitsInput | None:
        """Add a key press; returns the collected input once it is complete."""
        late, self._late_terminator = self._late_terminator, None
        if late is not None and digit == late[0] and at <= late[1] and not self.digits:
            return None
        chain, self._chain = self._chain, None
        if chain is not None and at <= chain[1] and not self._burst and digit != "#":
            self.digits, self._burst = chain[0], True  # a number keyed straight after a one-key answer
        self.last_key_at = at
        if self._burst:
            if digit == "#":
                if not self._answered:
                    return self._done(self.digits, terminated=True)
                self._hold(digit)
                return None
            self.digits += digit
            if len(self.digits) >= MAX_ENTRY_KEYS and not self._answered:
                return self._done(self.digits, terminated=False)
            return None
        if self._answered:
            self._hold(digit)
            return None
        if self.expect.max_digits == 0:
            return self._one_key(digit, at)
        if digit == self.expect.terminator:
            return self._done(self.digits, terminated=True)
        self.digits += digit
        if len(self.digits) >= self.expect.max_digits:
            self._late_terminator = (self.expect.terminator, at + self.expect.inter_digit_s)
            if self.expect.max_digits == 1:
                return self._one_key(self.digits, at)
            return self._done(self.digits, terminated=False)
        return None

    @property
    def deadline(self) -> float | None:
        """When the inter-digit timeout fires, while a partial entry is pending."""
        if not self.digits or self.last_key_at is None or self._answered:
            return None
        return self.last_key_at + (BURST_GAP_S if self._burst else self.expect.inter_digit_s)

    def timeout(self) -> DigitsInput | None:
        return self._done(self.digits, terminated=False) if self.digits and not self._answered else None

    def _hold(self, digit: str) -> None:
        self.digits += digit  # (kept for the next question)

    def _one_key(self, digit: str, at: float) -> DigitsInput:
        done = self._done(digit, terminated=False)
        self._chain = (digit, at + BURST_GAP_S)
        return done

    def _done(self, digits: str, terminated: bool) -> DigitsInput:
        burst = self._burst
        self.digits, self.last_key_at, self._answered, self._burst = "", None, True, False
        return KeyedOn(digits, terminated) if burst else DigitsInput(digits, terminated)
