"""Collecting DTMF digits into one input: terminator, maximum length, inter-digit timeout."""

from __future__ import annotations

from dataclasses import dataclass

from voicebot.types import DigitsInput, Expectation

# Keys less than this far apart after a one-key answer are typed as one number ("1", then "9876543210#").
BURST_GAP_S = 1.0
# The most keys such an entry holds when no question bounds it.
MAX_ENTRY_KEYS = 16


@dataclass(slots=True)
class DigitCollector:
    """Pure state machine; the session owns the timer and calls :meth:`timeout` when it fires.

    With no DTMF expected (``max_digits == 0``) every key is its own input (menus: "press 1").
    Callers often press the terminator after an entry that was already complete at its maximum
    length ("12345678#"): that terminator is swallowed, not taken as the answer to the next question.
    Keys typed after an input is complete and before the next question (:meth:`reset`) are held for that
    question: "1" for yes and the account number typed straight after it is two inputs, not nine (unless the
    number is one key short without that "1": then the "1" was its first digit as well). Keys that
    follow a one-key answer less than ``BURST_GAP_S`` apart are one entry, with that answer's key, when the
    next question takes one key: "9876543210#" keyed at "Did you want to track a parcel?" is "9" (no answer)
    and then "9876543210" at the question asked again, not one input per key (the dialog reads a number at
    a one-key question; it may drop that first key when it answered the question before).
    """

    expect: Expectation
    digits: str = ""
    last_key_at: float | None = None
    _late_terminator: tuple[str, float] | None = None  # (terminator, until when it is swallowed)
    _answered: bool = False  # an input is complete: further keys wait for the next question
    _chain: tuple[str, float] | None = None  # (a one-key answer's key, until when a key follows it)
    _burst: bool = False  # the pending keys are one entry typed straight after a one-key answer
    _lead: str = ""  # that answer's key, when the entry (under a question for a number) began straight after it

    def reset(self, expect: Expectation) -> list[DigitsInput]:
        """A new question. Keys pressed and not yet part of an input (typed while the bot was busy) are kept
        and read again under it, in order; returns the inputs they complete at once. An entry typed straight
        after a one-key answer stays one entry under a question that takes one key."""
        pending, at, burst = self.digits, self.last_key_at or 0.0, self._burst
        self.expect, self.digits, self.last_key_at, self._answered, self._lead = expect, "", None, False, ""
        if burst and pending and expect.max_digits <= 1:
            if pending.endswith("#"):
                return [self._done(pending[:-1], terminated=True)]
            self.digits, self.last_key_at = pending, at  # goes on: more keys, "#" or the gap end it
            return []
        lead = ""
        if burst:  # the next question takes the number: the one-key answer's key leads it only if it must
            lead, pending = pending[0], pending[1:]
        self._burst = False
        if pending:  # a key held for this question follows no answer: replayed as typed
            self._chain = None
        inputs = []
        for k in pending:  # all of them under this question: one input may follow another
            self._answered = False
            if (done := self.key(k, at)) is not None:
                inputs.append(done)
            elif lead and len(self.digits) == 1:
                self._lead = lead
            lead = ""
        return inputs

    def key(self, digit: str, at: float) -> DigitsInput | None:
        """Add a key press; returns the collected input once it is complete."""
        late, self._late_terminator = self._late_terminator, None
        if late is not None and digit == late[0] and at <= late[1] and not self.digits:
            return None
        chain, self._chain = self._chain, None
        chained = chain is not None and at <= chain[1]
        self.last_key_at = at
        if self._answered:
            if not self.digits and chained and chain is not None:
                self.digits, self._burst = chain[0], True
            if self._burst:
                self._chain = ("", at + BURST_GAP_S)
            self.digits += digit
            return None
        if (chained or self._burst) and self.expect.max_digits <= 1 and (self.digits or digit != "#"):
            if not self._burst and chain is not None:  # a number keyed straight after a one-key answer
                self.digits, self._burst = chain[0], True
            if digit == "#":
                return self._done(self.digits, terminated=True)
            self.digits += digit
            self._chain = ("", at + BURST_GAP_S)
            return self._done(self.digits, terminated=False) if len(self.digits) >= MAX_ENTRY_KEYS else None
        if self.expect.max_digits == 0:
            return self._one_key(digit, at)
        if chained and chain is not None and not self.digits and digit != self.expect.terminator:
            self._lead = chain[0]  # an entry started straight after a one-key answer
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

    def _one_key(self, digit: str, at: float) -> DigitsInput:
        done = self._done(digit, terminated=False)
        self._chain = (digit, at + BURST_GAP_S)
        return done

    def _done(self, digits: str, terminated: bool) -> DigitsInput:
        lead, self._lead = self._lead, ""
        if lead and not self._fits(digits) and self._fits(lead + digits):
            digits = lead + digits  # the key that answered the question before was the entry's first
        self.digits, self._answered, self._burst = "", True, False
        self.last_key_at = None
        return DigitsInput(digits=digits, terminated=terminated)

    def _fits(self, digits: str) -> bool:
        return self.expect.min_digits <= len(digits) <= self.expect.max_digits
