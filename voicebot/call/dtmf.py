"""Collecting DTMF digits into one input: terminator, maximum length, inter-digit timeout."""

from __future__ import annotations

from dataclasses import dataclass

from voicebot.types import DigitsInput, Expectation


@dataclass(slots=True)
class DigitCollector:
    """Pure state machine; the session owns the timer and calls :meth:`timeout` when it fires.

    With no DTMF expected (``max_digits == 0``) every key is its own input (menus: "press 1").
    Callers often press the terminator after an entry that was already complete at its maximum
    length ("12345678#"): that terminator is swallowed, not taken as the answer to the next question.
    Keys typed after an input is complete and before the next question (:meth:`reset`) are held for that
    question: "1" for yes and the account number typed straight after it is two inputs, not nine.
    """

    expect: Expectation
    digits: str = ""
    last_key_at: float | None = None
    _late_terminator: tuple[str, float] | None = None  # (terminator, until when it is swallowed)
    _answered: bool = False  # an input is complete: further keys wait for the next question

    def reset(self, expect: Expectation) -> list[DigitsInput]:
        """A new question. Keys pressed and not yet part of an input (typed while the bot was busy) are kept
        and read again under it, in order; returns the inputs they complete at once."""
        pending, at = self.digits, self.last_key_at or 0.0
        self.expect, self.digits, self.last_key_at, self._answered = expect, "", None, False
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
        self.last_key_at = at
        if self._answered:
            self.digits += digit
            return None
        if self.expect.max_digits == 0:
            return self._done(digit, terminated=False)
        if digit == self.expect.terminator:
            return self._done(self.digits, terminated=True)
        self.digits += digit
        if len(self.digits) >= self.expect.max_digits:
            self._late_terminator = (self.expect.terminator, at + self.expect.inter_digit_s)
            return self._done(self.digits, terminated=False)
        return None

    @property
    def deadline(self) -> float | None:
        """When the inter-digit timeout fires, while a partial entry is pending."""
        if not self.digits or self.last_key_at is None or self._answered:
            return None
        return self.last_key_at + self.expect.inter_digit_s

    def timeout(self) -> DigitsInput | None:
        return self._done(self.digits, terminated=False) if self.digits and not self._answered else None

    def _done(self, digits: str, terminated: bool) -> DigitsInput:
        self.digits, self.last_key_at, self._answered = "", None, True
        return DigitsInput(digits=digits, terminated=terminated)
