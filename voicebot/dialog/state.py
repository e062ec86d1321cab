"""The dialog's per-call data (:class:`DialogState`) and what one turn produces (:class:`TurnOutput`).

Plain data shared by the engine's phases: ``interpret`` reads the state, ``runner`` and ``prompts`` change
it and write the turn's actions and decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from voicebot.types import BotAction, Listen, Say, Understanding

WaitKind = Literal["ask", "menu", "collect", "survey", "confirm_slot", "confirm_intent", "offer_agent"]


@dataclass(slots=True)
class Frame:
    """A flow being run: which step comes next. ``digression``: it interrupted the frame below;
    ``then``: the ``goto`` of the ``flow:`` or ``menu`` step that started it, followed when it returns."""

    flow: str
    index: int = 0
    digression: bool = False
    then: str | None = None


@dataclass(slots=True)
class Waiting:
    """What the engine waits for after it spoke: the step that asked, and what kind of answer."""

    kind: WaitKind
    flow: str
    index: int
    intent: str | None = None  # confirm_intent: the intent being confirmed
    request: Understanding | None = None  # confirm_intent: the utterance, for the values said with it
    before: Waiting | None = None  # offer_agent: the question the offer of a person interrupted


@dataclass
class DialogState:
    """One call's dialog state: small, plain data."""

    call_id: str
    caller_id: str = ""
    language: str = "en"
    call_vars: dict[str, str] = field(default_factory=dict)
    stack: list[Frame] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    waiting: Waiting | None = None
    no_input: int = 0  # in a row, at the waiting step
    no_match: int = 0
    out_of_scope: int = 0  # in the whole call
    frustration: int = 0
    agent_offered: bool = False  # the agent handler's offer was made: a request now hands off at once
    options_offered: bool = False  # the out-of-scope limit offered the options and a person
    last_prompt: tuple[Say, ...] = ()
    last_listen: Listen | None = None
    last_filled: str | None = None  # the slot filled or confirmed in the caller's last turn
    digits_heard: str | None = None  # a digit string read back at the waiting step, for the caller to fix
    digits_ruled_out: tuple[str, ...] = ()  # digit strings the caller said are wrong at the waiting step
    last_intent: str | None = None
    last_confidence: float = 0.0
    started: bool = False
    ended: bool = False
    history: list[str] = field(default_factory=list)

    def scope(self) -> dict[str, Any]:
        """What conditions and templates read: ``slots``, ``vars``, ``result``, ``call``, ``intent``…"""
        call = {
            "call_id": self.call_id,
            "caller_id": self.caller_id,
            "language": self.language,
            **self.call_vars,
        }
        return {
            "slots": self.slots,
            "vars": self.vars,
            "result": self.result,
            "call": call,
            "intent": self.last_intent,
            "confidence": self.last_confidence,
        }


@dataclass(slots=True)
class TurnOutput:
    """What one turn has produced so far: the actions, the decisions in plain English."""

    actions: list[BotAction] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    side_effects: bool = False  # a backend action that may change something ran
    unusable: bool = False  # the input was no answer (a no-match)
    heard_digits: str | None = None  # a digit string said with the request, for the flow's first question

    def note(self, text: str) -> None:
        self.decisions.append(text)
