"""The dialog engine: (per-call state, one input) -> bot actions, with the reason for every decision.

Deterministic: the same bundle, state and input give the same actions (backend answers aside). The
output of a step is zero or more ``Say`` followed by a ``Listen`` (what to expect next), a
``Handoff`` or an ``EndCall``. Any fault in a flow (a missing variable, an unknown function, a bug
here) becomes the bundle's ``flow_error`` apology plus a handoff with reason ``flow_error``:
:meth:`DialogEngine.step` never raises into a call.

One input goes through three phases: ``interpret.py`` reads it into typed moves (the decision cascade
of docs/flows.md, "How a turn is decided"), ``runner.py`` applies them and runs the flow's steps
(``steps.py``) until one waits, ``prompts.py`` phrases what is said and what is listened for.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from voicebot.dialog.actions import ActionRunner
from voicebot.dialog.bundle import Bundle
from voicebot.dialog.conditions import FlowRuntimeError
from voicebot.dialog.interpret import Interpreter
from voicebot.dialog.prompts import Prompts
from voicebot.dialog.questions import Questions
from voicebot.dialog.runner import Runner
from voicebot.dialog.state import DialogState, TurnOutput
from voicebot.types import BotAction, CallStart, DialogInput

log = logging.getLogger(__name__)

HISTORY_LIMIT = 500

__all__ = ["DialogEngine", "DialogState", "StepResult"]


@dataclass(frozen=True, slots=True)
class StepResult:
    actions: tuple[BotAction, ...]
    decisions: tuple[str, ...]
    state_name: str
    side_effects: bool = False  # a backend action that may change something ran: no taking the step back
    unusable: bool = False  # the input was no answer (a no-match): it may be read again with what follows it


class DialogEngine:
    """Runs one bundle's flows. Shared by all calls of the bundle; all per-call data is in DialogState."""

    def __init__(self, bundle: Bundle, actions: ActionRunner) -> None:
        self.bundle = bundle
        self.actions = actions
        questions = Questions(bundle)
        self._interpreter = Interpreter(bundle, questions)
        self._runner = Runner(bundle, actions, questions, Prompts(bundle, questions))

    def start(self, call_id: str, caller_id: str = "", variables: Mapping[str, str] = {}) -> DialogState:
        language = variables.get("language", "")
        return DialogState(
            call_id=call_id,
            caller_id=caller_id,
            call_vars=dict(variables),
            language=language if language in self.bundle.languages else self.bundle.default_language,
        )

    async def step(self, state: DialogState, event: DialogInput) -> StepResult:
        """Decide the bot's answer to one input. Never raises: faults become apology + handoff."""
        out = TurnOutput()
        correctable, state.last_filled = state.last_filled, None
        try:
            if state.ended:
                out.note("the call already ended; input ignored")
            elif isinstance(event, CallStart) or not state.started:
                await self._runner.start_call(state, out, event)
            else:
                await self._runner.apply(state, out, self._interpreter.interpret(state, event, correctable))
            if not state.ended and state.waiting is None:
                raise FlowRuntimeError("the engine stopped without waiting for the caller")
        except Exception as exc:  # noqa: BLE001 - a flow fault must never take the call down
            if not isinstance(exc, FlowRuntimeError):
                log.exception("dialog engine fault in call %s", state.call_id)
            self._runner.flow_error(state, out, exc)
        state.history.extend(out.decisions)
        del state.history[:-HISTORY_LIMIT]
        return StepResult(tuple(out.actions), tuple(out.decisions), self.state_name(state), out.side_effects,
                          out.unusable)

    def state_name(self, state: DialogState) -> str:
        return self._runner.steps.state_name(state)
