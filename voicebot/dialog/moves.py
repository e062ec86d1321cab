"""The moves an input is read into (``interpret.py``) and that ``runner.py`` applies: small frozen data.

An input becomes zero or more bookkeeping moves (:class:`Heard`, :class:`Frustrated`, :class:`Keyed`)
followed by exactly one decisive move; each carries what the turn's decision text needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from voicebot.dialog.questions import ValueAhead
from voicebot.types import Understanding

# -- bookkeeping moves: noted, then the next move follows ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Heard:
    """An utterance was understood (its intent is remembered for templates)."""

    understanding: Understanding


@dataclass(frozen=True, slots=True)
class Frustrated:
    """The caller sounds frustrated or angry: counted toward the ``frustration`` handler, ``counts`` turns'
    worth (two right after the bot missed the caller's answer to the same question: the anger is at the bot)."""

    label: str
    score: float
    counts: int = 1


@dataclass(frozen=True, slots=True)
class Keyed:
    """DTMF keys were pressed."""

    digits: str
    terminated: bool


# -- decisive moves: one per input, it ends the turn ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Silence:
    """No input (``why``: what stood for it, e.g. an empty transcript)."""

    why: str = ""


@dataclass(frozen=True, slots=True)
class HandlerHandoff:
    """A global handler hands the call off (``agent`` asked for, the ``frustration`` limit)."""

    handler: str
    why: str


@dataclass(frozen=True, slots=True)
class OfferAgent:
    """A person asked for where the ``agent`` handler offers first ("Do you want me to put you through …?")."""

    why: str


@dataclass(frozen=True, slots=True)
class DeclineAgent:
    """The offer of a person answered no: the question it interrupted is asked again."""

    why: str


@dataclass(frozen=True, slots=True)
class FillSlot:
    """The awaited slot gets ``value``; ``ahead``: values said with it for later asks, filled first;
    ``inferred``: a list value read by meaning, not said, which the caller confirms first."""

    value: Any
    why: str
    ahead: tuple[ValueAhead, ...] = ()
    inferred: bool = False


@dataclass(frozen=True, slots=True)
class SlotConfirmed:
    """The caller answered the slot's confirmation yes or no."""

    yes: bool
    why: str


@dataclass(frozen=True, slots=True)
class CorrectConfirmed:
    """A new value given while its confirmation was asked: replaced and confirmed again."""

    slot: str
    value: Any
    how: str
    fix: str | None = None  # a spoken fix of a part of a digit string, described


@dataclass(frozen=True, slots=True)
class RejectDigits:
    """A digit string wrong at its confirmation: asked again keeping it for a fix, or ``fixed`` (a fix that
    left the wrong length) read back."""

    value: str
    fixed: str | None
    fix: str


@dataclass(frozen=True, slots=True)
class IntentConfirmed:
    """The caller answered "Did you want to …?" (``also``: an answer giving values, a yes)."""

    yes: bool
    why: str
    also: Understanding | None = None


@dataclass(frozen=True, slots=True)
class CorrectEarlier:
    """ "No, I said 457": the slot filled in the caller's previous turn is replaced."""

    slot: str
    value: Any


@dataclass(frozen=True, slots=True)
class AskEarlierAgain:
    """ "No, I said …" with no value heard in it: the corrected slot's question (step ``index`` of the flow
    waiting) is asked again, and the flow goes on from there."""

    slot: str
    index: int
    why: str


@dataclass(frozen=True, slots=True)
class ReadBack:
    """A digit string of the wrong length: a no-match that reads it back for the caller to fix."""

    digits: str
    why: str


@dataclass(frozen=True, slots=True)
class StartFlow:
    """A flow's intent chosen at a menu (said, keyed, or confirmed instead of a yes/no)."""

    intent: str
    understanding: Understanding | None
    why: str


@dataclass(frozen=True, slots=True)
class ConfirmIntent:
    """A flow's intent not sure enough, or guessed from a value: "Did you want to …?" first."""

    intent: str
    understanding: Understanding
    why: str | None = None


@dataclass(frozen=True, slots=True)
class Digress:
    """Another flow's request while a value is awaited; ``kept``: the answer said with it, kept first."""

    intent: str
    understanding: Understanding
    kept: FillSlot | None = None


@dataclass(frozen=True, slots=True)
class GlobalIntent:
    """``help``, ``repeat`` or ``goodbye``."""

    intent: str


@dataclass(frozen=True, slots=True)
class WaitAsked:
    """The caller asked the bot to wait ("hang on, let me find my card")."""


@dataclass(frozen=True, slots=True)
class OutOfScope:
    """A request the bundle does not serve."""


@dataclass(frozen=True, slots=True)
class NoMatch:
    """Nothing usable in the answer."""

    why: str


Move = (
    Heard | Frustrated | Keyed | Silence | HandlerHandoff | OfferAgent | DeclineAgent | FillSlot | SlotConfirmed
    | CorrectConfirmed | RejectDigits | IntentConfirmed | CorrectEarlier | AskEarlierAgain | ReadBack | StartFlow
    | ConfirmIntent | Digress | GlobalIntent | WaitAsked | OutOfScope | NoMatch
)
