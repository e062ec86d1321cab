"""The dialog engine: (per-call state, one input) -> bot actions, with the reason for every decision.

Deterministic: the same bundle, state and input give the same actions (backend answers aside). The
output of a step is zero or more ``Say`` followed by a ``Listen`` (what to expect next), a
``Handoff`` or an ``EndCall``. Any fault in a flow (a missing variable, an unknown function, a bug
here) becomes the bundle's ``flow_error`` apology plus a handoff with reason ``flow_error``:
:meth:`DialogEngine.step` never raises into a call.

How one utterance is decided is documented in docs/flows.md ("How a turn is decided").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

from voicebot.dialog.actions import ActionRequest, ActionRunner
from voicebot.dialog.conditions import FlowRuntimeError, evaluate, format_value, render
from voicebot.dialog.bundle import MENU_CHOICE_TYPE, Bundle
from voicebot.dialog.schema import (
    AnyStep,
    AskStep,
    CollectDigitsStep,
    HandlerDef,
    HandoffSpec,
    MenuStep,
    SurveyStep,
    Text,
    step_kind,
)
from voicebot.nlu.normalize import apply_digit_edit, find_digit_edit
from voicebot.types import (
    BotAction,
    CallStart,
    DialogInput,
    DigitsInput,
    EndCall,
    Entity,
    Expectation,
    Handoff,
    Listen,
    NoInput,
    RecognitionHints,
    Say,
    Understanding,
)

log = logging.getLogger(__name__)

MAX_STEPS_PER_TURN = 200
HISTORY_LIMIT = 500
_NEGATIVE_EMOTIONS = ("frustrated", "angry")
_READ_BACK_TAG = {
    "digits": "digits",
    "phone": "phone",
    "money": "money",
    "date": "date",
    "time": "time",
    "regex": "spell",
    "number": "number",
}

# Words a caller fixing a digit string uses, allowed by the digits grammar while a read-back is answered
# ("the last one is eight", "it ends in four two", "add a nine at the end").
REPAIR_WORDS = tuple(
    "the last first second third fourth fifth sixth seventh eighth ninth tenth one digit number is was "
    "should be a an it ends in starts with add at end start no yes that's right wrong not".split()
)
_KEYPAD_WORDS = ("key", "keypad", "type", "press", "dial")
# Below this recogniser confidence a menu answer with no intent was not heard clearly ("do do do", a loop
# whisper wrote for "two"): a no-match that repeats the options, never counted toward the out-of-scope
# handoff.
OUT_OF_SCOPE_MIN_TRANSCRIPT_CONFIDENCE = 0.5

WaitKind = Literal["ask", "menu", "collect", "survey", "confirm_slot", "confirm_intent"]


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
    last_prompt: tuple[Say, ...] = ()
    last_listen: Listen | None = None
    last_filled: str | None = None  # the slot filled or confirmed in the caller's last turn
    digits_heard: str | None = None  # a digit string read back at the waiting step, for the caller to fix
    last_intent: str | None = None
    last_confidence: float = 0.0
    started: bool = False
    ended: bool = False
    history: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StepResult:
    actions: tuple[BotAction, ...]
    decisions: tuple[str, ...]
    state_name: str
    side_effects: bool = False  # a backend action that may change something ran: no taking the step back


class _Done(Exception):
    """Internal: the turn's output is complete (the engine waits, hands off or ended)."""


@dataclass(slots=True)
class _Turn:
    actions: list[BotAction] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    side_effects: bool = False
    heard_digits: str | None = None  # a digit string said with the request, for the flow's first question

    def note(self, text: str) -> None:
        self.decisions.append(text)


def _default_find_correction() -> Callable[[str], str | None]:
    from voicebot.nlu.normalize import find_correction

    return find_correction


class DialogEngine:
    """Runs one bundle's flows. Shared by all calls of the bundle; all per-call data is in DialogState."""

    def __init__(
        self,
        bundle: Bundle,
        actions: ActionRunner,
        find_correction: Callable[[str], str | None] | None = None,
    ) -> None:
        self.bundle = bundle
        self.actions = actions
        self._find_correction = find_correction

    # ------------------------------------------------------------------------------------------
    # Public API
    # ------------------------------------------------------------------------------------------

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
        turn = _Turn()
        correctable, state.last_filled = state.last_filled, None
        try:
            try:
                if state.ended:
                    turn.note("the call already ended; input ignored")
                elif isinstance(event, CallStart) or not state.started:
                    await self._on_start(state, event, turn)
                elif isinstance(event, Understanding):
                    await self._on_utterance(state, event, turn, correctable)
                elif isinstance(event, DigitsInput):
                    await self._on_digits(state, event, turn)
                elif isinstance(event, NoInput):
                    await self._on_no_input(state, turn)
                else:
                    raise FlowRuntimeError(f"unknown input {type(event).__name__}")
            except _Done:
                pass
            if not state.ended and state.waiting is None:
                raise FlowRuntimeError("the engine stopped without waiting for the caller")
        except Exception as exc:  # noqa: BLE001 - a flow fault must never take the call down
            if not isinstance(exc, FlowRuntimeError):
                log.exception("dialog engine fault in call %s", state.call_id)
            self._flow_error(state, turn, exc)
        state.history.extend(turn.decisions)
        del state.history[:-HISTORY_LIMIT]
        return StepResult(tuple(turn.actions), tuple(turn.decisions), self.state_name(state), turn.side_effects)

    def state_name(self, state: DialogState) -> str:
        if state.ended:
            return "ended"
        w = state.waiting
        if w is None:
            return "idle"
        step = self.bundle.flows[w.flow].steps[w.index]
        name = f"{w.flow}.{step.id or w.index}"
        return name + (":confirm" if w.kind in ("confirm_slot", "confirm_intent") else "")

    # ------------------------------------------------------------------------------------------
    # Inputs
    # ------------------------------------------------------------------------------------------

    async def _on_start(self, state: DialogState, event: DialogInput, turn: _Turn) -> None:
        state.started = True
        if isinstance(event, CallStart):
            if event.caller_id and not state.caller_id:
                state.caller_id = event.caller_id
            state.call_vars.update(dict(event.variables))
            if event.called:
                state.call_vars.setdefault("called", event.called)
            lang = state.call_vars.get("language")
            if lang in self.bundle.languages:
                state.language = lang
        start = self.bundle.spec.start
        turn.note(f"call started: flow {start}")
        state.stack = [Frame(start)]
        await self._run(state, turn)

    async def _on_utterance(
        self, state: DialogState, u: Understanding, turn: _Turn, correctable: str | None
    ) -> None:
        if not u.text.strip():
            turn.note("empty transcript: treated as no-input")
            await self._on_no_input(state, turn)
        state.last_intent, state.last_confidence = u.intent, u.confidence
        heard = (
            f"intent {u.intent} ({u.confidence:.2f})" if u.intent else f"out of scope ({u.confidence:.2f})"
        )
        entities = ", ".join(f"{e.type}={e.value!r}" for e in u.entities)
        turn.note(f"heard {u.text!r}: {heard}" + (f"; entities {entities}" if entities else ""))
        settings = self.bundle.settings
        sure = u.intent is not None and u.confidence >= settings.confirm_below

        handler = self.bundle.handlers["frustration"]
        if (
            handler.enabled
            and u.emotion is not None
            and u.emotion.label in _NEGATIVE_EMOTIONS
            and u.emotion.score >= (handler.threshold or 0.7)
        ):
            state.frustration += 1
            turn.note(
                f"caller sounds {u.emotion.label} ({u.emotion.score:.2f}), "
                f"{state.frustration}/{handler.count or 2}"
            )
            if state.frustration >= (handler.count or 2):
                self._handler_handoff(state, turn, "frustration", "frustration limit reached")

        if sure and u.intent == "agent" and self.bundle.handlers["agent"].enabled:
            self._handler_handoff(state, turn, "agent", "caller asked for an agent")

        w = state.waiting
        assert w is not None
        if w.kind == "confirm_slot":
            await self._answer_confirm_slot(state, u, turn)
        if w.kind == "confirm_intent":
            await self._answer_confirm_intent(state, u, turn)

        step = self._waiting_step(state)
        slot_type = self._expected_type(state)
        if w.kind != "menu" and correctable and correctable != self._slot_of(step):
            await self._try_correction(state, u, turn, correctable)
        digression = self._digression_intent(state, u)
        if w.kind in ("ask", "collect") and self._digit_bounds(step) is not None:
            await self._digits_answer(state, u, turn)
        if w.kind == "ask" and self._yes_with_value(state, step, u, turn):
            why = f"slot {self._slot_of(step)} answered yes by giving what comes next"
            await self._fill(state, turn, True, why)
        if w.kind in ("ask", "collect", "survey"):
            entity = self._entity_for(u, slot_type)
            if entity is not None and self._valid(step, entity.value):
                why = f"slot {self._slot_of(step)} filled by speech ({entity.text or entity.value!r})"
                if digression is not None and self._answer_with_request(step, u, entity):
                    # "yes, and my card was stolen": keep the answer, then serve the request
                    state.slots[self._slot_of(step)] = entity.value
                    state.last_filled = self._slot_of(step)
                    turn.note(why)
                    await self._digress(state, turn, digression, u)
                await self._fill(state, turn, entity.value, why)
        if w.kind == "menu":
            assert isinstance(step, MenuStep)
            allowed = step.menu.intents or list(self.bundle.intent_flow)
            key = u.entity(MENU_CHOICE_TYPE)
            if key is not None and str(key.value) in step.menu.dtmf and not (sure and u.intent in allowed):
                await self._menu_key(state, turn, step, str(key.value), f"{key.text!r} said")
            if u.intent in allowed and u.intent in self.bundle.intent_flow:
                if sure:
                    turn.note(
                        f"intent {u.intent} ({u.confidence:.2f}) matched flow "
                        f"{self.bundle.intent_flow[u.intent]}"
                    )
                    await self._start_intent_flow(state, turn, u.intent, u, digression=False)
                await self._confirm_intent(state, turn, u.intent, u)

        if digression is not None:
            await self._digress(state, turn, digression, u)

        if sure and u.intent in ("help", "repeat", "goodbye") and self.bundle.handlers[u.intent].enabled:
            await self._global_intent(state, turn, u.intent)

        if w.kind == "menu":
            assert isinstance(step, MenuStep)
            intent = self._intent_for_value(state, step, u)
            if intent is not None:
                turn.note(f"a value for flow {self.bundle.intent_flow[intent]} said at the menu")
                await self._confirm_intent(state, turn, intent, u)
        number_said = u.entity("number") is not None or u.entity("digits") is not None
        heard_clearly = u.transcript_confidence >= OUT_OF_SCOPE_MIN_TRANSCRIPT_CONFIDENCE
        if w.kind == "menu" and u.intent is None and not number_said and heard_clearly:
            await self._out_of_scope(state, turn)  # (a number, or words not heard clearly, are no request)
        await self._no_match(state, turn, "nothing usable in the answer")

    def _digression_intent(self, state: DialogState, u: Understanding) -> str | None:
        """Another flow's intent said while a value is awaited, when the current flow allows leaving."""
        w = state.waiting
        assert w is not None
        if (
            w.kind not in ("ask", "collect", "survey")
            or u.intent not in self.bundle.intent_flow
            or u.confidence < self.bundle.settings.digress_above
        ):
            return None
        target = self.bundle.intent_flow[u.intent]
        running = {frame.flow for frame in state.stack}
        if target in running or not self.bundle.flows[state.stack[-1].flow].digressions:
            return None
        return u.intent

    def _answer_with_request(self, step: AnyStep, u: Understanding, entity: Entity) -> bool:
        """Whether the answer came with a request ("yes, and my card was stolen"): a yes/no value, or a
        list value said as a yes or no ("Anything else?" "Yes, and …"), at an ask without confirmation.
        Other values said with an intent answer the question ("for an ID card" names the service)."""
        if not isinstance(step, AskStep) or step.confirm:
            return False
        type_def = self.bundle.slot_type_defs.get(self.bundle.slot_type_of(step))
        if type_def is None or type_def.kind not in ("yes_no", "list"):
            return False
        if type_def.kind == "yes_no":
            return True
        yes_no = u.entity("yes_no")
        if yes_no is None:
            return False
        known = min(yes_no.start, yes_no.end, entity.start, entity.end) >= 0
        return not known or (yes_no.start < entity.end and entity.start < yes_no.end)

    async def _digress(self, state: DialogState, turn: _Turn, intent: str, u: Understanding) -> None:
        """Serve another flow's request mid-way; the waiting step runs again afterwards. Raises _Done."""
        turn.note(
            f"digression: intent {intent} ({u.confidence:.2f}) → flow {self.bundle.intent_flow[intent]} "
            f"while waiting at {self.state_name(state)}"
        )
        await self._start_intent_flow(state, turn, intent, u, digression=True)

    async def _on_digits(self, state: DialogState, d: DigitsInput, turn: _Turn) -> None:
        turn.note(f"DTMF {d.digits!r}" + (" (terminated)" if d.terminated else ""))
        w = state.waiting
        assert w is not None
        step = self._waiting_step(state)
        digits = d.digits
        if w.kind in ("confirm_slot", "confirm_intent"):
            if digits in ("1", "2"):
                answer = digits == "1"
                turn.note(f"confirmation answered {'yes' if answer else 'no'} by DTMF")
                if w.kind == "confirm_slot":
                    await self._confirmed_slot(state, turn, answer)
                await self._confirmed_intent(state, turn, answer)
            if w.kind == "confirm_slot":
                value = self._digits_value(state, step, digits)
                if value is not None:
                    await self._correct(state, turn, self._slot_of(step), value, "DTMF")
            await self._no_match(state, turn, f"DTMF {digits!r} is not 1 (yes) or 2 (no)")
        if w.kind == "menu":
            assert isinstance(step, MenuStep)
            await self._menu_key(state, turn, step, digits, "DTMF")
            await self._no_match(state, turn, f"DTMF {digits!r} is not a menu option")
        if w.kind in ("ask", "collect") and self._digit_bounds(step) is not None:
            await self._digits_keyed(state, turn, digits)
        value = self._digits_value(state, step, digits)
        if value is None:
            await self._no_match(state, turn, f"DTMF {digits!r} is not a valid {self._expected_type(state)}")
        await self._fill(state, turn, value, f"slot {self._slot_of(step)} filled by DTMF")

    async def _menu_key(self, state: DialogState, turn: _Turn, step: MenuStep, key: str, how: str) -> None:
        """A menu option chosen by its key, pressed or said ("two", "press 2"). Raises _Done when it is
        one."""
        intent = step.menu.dtmf.get(key)
        if intent == "agent":
            self._handler_handoff(state, turn, "agent", f"{how} {key} is mapped to an agent")
        if intent in self.bundle.intent_flow:
            turn.note(f"{how} {key} chose intent {intent}")
            await self._start_intent_flow(state, turn, intent, None, digression=False)

    async def _on_no_input(self, state: DialogState, turn: _Turn) -> None:
        state.no_input += 1
        await self._missed(state, turn, "no_input", state.no_input, "")

    # ------------------------------------------------------------------------------------------
    # Answers to what was asked
    # ------------------------------------------------------------------------------------------

    async def _fill(self, state: DialogState, turn: _Turn, value: Any, why: str) -> None:
        """Store the answer to the waiting step and move on (or confirm first). Raises _Done."""
        w = state.waiting
        assert w is not None
        step = self._waiting_step(state)
        slot = self._slot_of(step)
        if isinstance(step, SurveyStep):
            score = _as_int(value)
            if score is None or not 1 <= score <= 5:
                if state.no_match >= 1:
                    turn.note(f"survey answer {value!r} is not 1-5 again; survey skipped")
                    await self._advance_from_waiting(state, turn)
                await self._no_match(state, turn, f"survey answer {value!r} is not 1-5")
            value = score
        state.slots[slot] = value
        state.last_filled = slot
        state.digits_heard = None
        turn.note(why)
        if isinstance(step, AskStep) and step.confirm:
            self._wait(state, "confirm_slot", w.flow, w.index)
            self._emit_confirm_slot(state, turn, step)
            raise _Done
        await self._advance_from_waiting(state, turn)

    async def _advance_from_waiting(self, state: DialogState, turn: _Turn) -> None:
        w = state.waiting
        assert w is not None
        step = self.bundle.flows[w.flow].steps[w.index]
        state.waiting = None
        frame = state.stack[-1]
        frame.index = w.index + 1
        if getattr(step, "goto", None):
            self._jump(state, turn, step.goto)  # type: ignore[union-attr]
        await self._run(state, turn)

    async def _answer_confirm_slot(self, state: DialogState, u: Understanding, turn: _Turn) -> None:
        step = self._waiting_step(state)
        slot = self._slot_of(step)
        type_name = self.bundle.slot_type_of(step)
        entity = self._entity_for(u, type_name)
        if (
            entity is not None
            and type_name != "yes_no"
            and entity.value != state.slots.get(slot)
            and self._valid_type(type_name, entity.value)
        ):
            await self._correct(state, turn, slot, entity.value, "speech")
        edit = find_digit_edit(u.text) if self._digit_bounds(step) is not None else None
        current = state.slots.get(slot)
        fixed = apply_digit_edit(current, edit, lambda d: self._fits(step, d)) \
            if edit is not None and isinstance(current, str) else current
        if edit is not None and fixed != current:  # (a fix that changes nothing is a yes)
            assert isinstance(current, str)
            turn.note(f"the caller fixed part of {slot}: {edit.kind} {edit.digits!r}")
            if fixed is not None and self._fits(step, fixed):
                await self._correct(state, turn, slot, fixed, "a spoken fix")
            await self._reject_digits(state, turn, current, fixed)
        yes_no = self._entity_for(u, "yes_no")
        if yes_no is not None and isinstance(yes_no.value, bool):
            turn.note(f"confirmation of {slot} answered {'yes' if yes_no.value else 'no'}")
            await self._confirmed_slot(state, turn, yes_no.value)

    async def _confirmed_slot(self, state: DialogState, turn: _Turn, yes: bool) -> None:
        if yes:
            state.last_filled = self._slot_of(self._waiting_step(state))
            await self._advance_from_waiting(state, turn)
        w = state.waiting
        assert w is not None
        step = self._waiting_step(state)
        slot = self._slot_of(step)
        rejected = state.slots.pop(slot, None)
        if self._digit_bounds(step) is not None and isinstance(rejected, str):
            await self._reject_digits(state, turn, rejected)
        turn.note(f"slot {slot} rejected by the caller; asking again")
        self._wait(state, "ask", w.flow, w.index)
        await self._emit_prompt(state, turn, step, "prompt")

    async def _answer_confirm_intent(self, state: DialogState, u: Understanding, turn: _Turn) -> None:
        yes_no = self._entity_for(u, "yes_no")
        if yes_no is not None and isinstance(yes_no.value, bool):
            turn.note(f"intent confirmation answered {'yes' if yes_no.value else 'no'}")
            await self._confirmed_intent(state, turn, yes_no.value)
        w = state.waiting
        assert w is not None and w.intent is not None
        if u.intent in (None, w.intent) or u.confidence < self.bundle.settings.confirm_below:
            ahead = self._values_ahead(state, self.bundle.intent_flow[w.intent], 0, u)
            filled = [slot for step, slot, _ in ahead if isinstance(step, AskStep)]
            if filled:
                turn.note(f"intent confirmation answered yes by giving {', '.join(filled)}")
                await self._confirmed_intent(state, turn, True, also=u)
        if u.intent in self.bundle.intent_flow and u.confidence >= self.bundle.settings.confirm_below:
            turn.note(f"new request instead of a yes/no: intent {u.intent} ({u.confidence:.2f})")
            self._wait(state, "menu", w.flow, w.index)
            await self._start_intent_flow(state, turn, u.intent, u, digression=False)

    async def _confirmed_intent(
        self, state: DialogState, turn: _Turn, yes: bool, also: Understanding | None = None
    ) -> None:
        w = state.waiting
        assert w is not None and w.intent is not None
        intent, request = w.intent, w.request
        self._wait(state, "menu", w.flow, w.index)
        if yes:  # values said with the request ("redeliver parcel 123…") or as the yes fill the flow's slots
            await self._start_intent_flow(state, turn, intent, request, digression=False, also=also)
        turn.note("the caller did not want that; asking again")
        await self._prompt_again(state, turn, "reprompt")

    async def _confirm_intent(self, state: DialogState, turn: _Turn, intent: str, u: Understanding) -> None:
        w = state.waiting
        assert w is not None
        turn.note(f"intent {intent} below confirm_below {self.bundle.settings.confirm_below}: confirming")
        self._wait(state, "confirm_intent", w.flow, w.index, intent=intent, request=u)
        text = render(
            self._text(state, self.bundle.settings.confirm_intent_prompt),
            {"label": self.bundle.intent_label(intent)},
        )
        self._say(state, turn, text, remember=True)
        self._listen(state, turn, self._yes_no_expectation(state))
        raise _Done

    async def _try_correction(self, state: DialogState, u: Understanding, turn: _Turn, slot: str) -> None:
        """ "No, I said 457": the caller corrects the slot filled (or confirmed) in their last turn.

        Only a value in the corrected part counts ("no thanks" corrects nothing); yes/no and free-text
        slots are never corrected this way."""
        if not self.bundle.handlers["correction"].enabled:
            return
        finder = self._find_correction or _default_find_correction()
        corrected = finder(u.text)
        if not corrected or not corrected.strip():
            return
        type_name = self._type_of_slot(slot)
        type_def = self.bundle.slot_type_defs.get(type_name or "")
        if type_def is None or type_def.kind in ("yes_no", "text") or type_name == self._expected_type(state):
            # "no thanks" is an answer, not a correction; a value of the awaited type answers the question
            return
        entity = self._entity_for(u, type_name)
        if (
            entity is None
            or entity.value == state.slots.get(slot)
            or not self._valid_type(type_name, entity.value)
            or (entity.start >= 0 and entity.start < u.text.rfind(corrected.strip()))
        ):
            return
        turn.note(f"correction: slot {slot} {state.slots.get(slot)!r} → {entity.value!r}")
        state.slots[slot] = entity.value
        state.last_filled = slot
        say = self.bundle.handlers["correction"].say
        if say:
            self._say(state, turn, self._render(state, say))
        await self._prompt_again(state, turn, "prompt")

    async def _correct(self, state: DialogState, turn: _Turn, slot: str, value: Any, how: str) -> None:
        """A new value given while its confirmation was asked: replace and confirm again."""
        turn.note(f"correction by {how}: slot {slot} {state.slots.get(slot)!r} → {value!r}")
        state.slots[slot] = value
        state.last_filled = slot
        say = self.bundle.handlers["correction"].say
        if say and self.bundle.handlers["correction"].enabled:
            self._say(state, turn, self._render(state, say))
        step = self._waiting_step(state)
        assert isinstance(step, AskStep)
        self._emit_confirm_slot(state, turn, step)
        raise _Done

    # ------------------------------------------------------------------------------------------
    # Handlers
    # ------------------------------------------------------------------------------------------

    async def _global_intent(self, state: DialogState, turn: _Turn, intent: str) -> None:
        handler = self.bundle.handlers[intent]
        if intent == "goodbye":
            turn.note("caller said goodbye")
            if handler.say:
                self._say(state, turn, self._render(state, handler.say))
            self._end(state, turn, "caller_goodbye")
        if intent == "repeat":
            turn.note("repeating the last prompt")
            turn.actions.extend(state.last_prompt)
            if state.last_listen is not None:
                turn.actions.append(state.last_listen)
            raise _Done
        turn.note("help requested")
        if handler.say:
            self._say(state, turn, self._render(state, handler.say))
        await self._prompt_again(state, turn, "prompt")

    async def _out_of_scope(self, state: DialogState, turn: _Turn) -> None:
        handler = self.bundle.handlers["out_of_scope"]
        if not handler.enabled:
            await self._no_match(state, turn, "out of scope")
        state.out_of_scope += 1
        limit = handler.max or 2
        turn.note(f"out of scope {state.out_of_scope}/{limit}")
        if state.out_of_scope >= limit:
            self._handler_handoff(state, turn, "out_of_scope", "out-of-scope limit reached")
        if handler.say:
            self._say(state, turn, self._render(state, handler.say))
        await self._prompt_again(state, turn, "reprompt")

    async def _no_match(self, state: DialogState, turn: _Turn, why: str) -> None:
        state.no_match += 1
        await self._missed(state, turn, "no_match", state.no_match, f": {why}")

    async def _missed(self, state: DialogState, turn: _Turn, kind: str, count: int, why: str) -> None:
        """The ``count``-th silence (``kind`` "no_input") or unusable answer ("no_match") to the question
        waited on: a survey is skipped after the second; past the step's limit its ``on_<kind>`` target
        or the ``<kind>`` handler's handoff; otherwise the question is asked again."""
        step = self._waiting_step(state)
        limit = self._limit(step, f"max_{kind}")
        label = kind.replace("_", "-")
        turn.note(f"{label} {count}/{limit}{why}")
        if isinstance(step, SurveyStep) and count > 1:
            turn.note("survey skipped" + (" after silence" if kind == "no_input" else ""))
            await self._advance_from_waiting(state, turn)
        target = getattr(step, f"on_{kind}", None)
        if count > limit and (target or self.bundle.handlers[kind].enabled):
            if target:
                turn.note(f"{label} limit → {target}")
                state.waiting = None
                self._jump(state, turn, target)
                await self._run(state, turn)
            self._handler_handoff(state, turn, kind, f"{label} {count}/{limit} → handoff")
        await self._prompt_again(state, turn, "no_input" if kind == "no_input" else "reprompt")

    def _handler_handoff(self, state: DialogState, turn: _Turn, name: str, why: str) -> None:
        handler: HandlerDef = self.bundle.handlers[name]
        turn.note(f"handler {name}: {why}")
        if handler.say:
            self._say(state, turn, self._render(state, handler.say))
        spec = handler.handoff or HandoffSpec(reason=name)
        self._handoff(state, turn, spec)

    def _flow_error(self, state: DialogState, turn: _Turn, exc: BaseException) -> None:
        turn.note(f"flow error: {type(exc).__name__}: {exc} → apology and handoff")
        handler = self.bundle.handlers["flow_error"]
        turn.actions[:] = [a for a in turn.actions if isinstance(a, Say)]
        try:
            text = self._render(state, handler.say) if handler.say else ""
        except Exception:  # noqa: BLE001 - the apology itself must not fail
            text = "Sorry, something went wrong. Let me transfer you."
        if text:
            turn.actions.append(Say(text, language=state.language))
        spec = handler.handoff or HandoffSpec()
        turn.actions.append(
            Handoff(
                reason="flow_error",
                queue=spec.queue,
                skill=spec.skill,
                priority=spec.priority if isinstance(spec.priority, int) else 0,
            )
        )
        state.ended = True
        state.waiting = None

    # ------------------------------------------------------------------------------------------
    # Running steps
    # ------------------------------------------------------------------------------------------

    async def _run(self, state: DialogState, turn: _Turn) -> None:
        """Execute steps until one waits for the caller, hands off or ends. Always raises _Done."""
        for _ in range(MAX_STEPS_PER_TURN):
            if not state.stack:
                self._end(state, turn, "completed", "the start flow finished")
            frame = state.stack[-1]
            flow = self.bundle.flows[frame.flow]
            if frame.index >= len(flow.steps):
                self._pop(state, turn)
                continue
            await self._exec(state, turn, frame, flow.steps[frame.index])
        raise FlowRuntimeError(f"{MAX_STEPS_PER_TURN} steps without waiting for the caller (a goto loop?)")

    def _pop(self, state: DialogState, turn: _Turn) -> None:
        frame = state.stack.pop()
        if not state.stack:
            turn.note(f"flow {frame.flow} finished")
            return
        turn.note(f"flow {frame.flow} finished; back to flow {state.stack[-1].flow}")
        if frame.digression:
            text = self._text(state, self.bundle.settings.resume_prompt)
            if text:
                self._say(state, turn, text)
        if frame.then:
            turn.note(f"goto {frame.then} after sub-flow {frame.flow}")
            self._jump(state, turn, frame.then)

    async def _exec(self, state: DialogState, turn: _Turn, frame: Frame, step: AnyStep) -> None:
        kind = step_kind(step)
        where = f"{frame.flow}.{step.id or frame.index}"
        if kind == "say":
            self._say(state, turn, self._render(state, step.say), step.interruptible)  # type: ignore[union-attr]
        elif kind == "ask":
            assert isinstance(step, AskStep)
            if step.reset:
                state.slots.pop(step.ask, None)
            heard, turn.heard_digits = turn.heard_digits, None
            if state.slots.get(step.ask) is not None:
                turn.note(f"{where}: slot {step.ask} already filled ({state.slots[step.ask]!r}), not asking")
            else:
                self._wait(state, "ask", frame.flow, frame.index)
                await self._heard_with_request(state, turn, step, heard)
                await self._emit_prompt(state, turn, step, "prompt")
        elif kind in ("menu", "collect_digits", "survey"):
            wait_kind = {"menu": "menu", "collect_digits": "collect", "survey": "survey"}[kind]
            heard, turn.heard_digits = turn.heard_digits, None
            self._wait(state, wait_kind, frame.flow, frame.index)  # type: ignore[arg-type]
            await self._heard_with_request(state, turn, step, heard)
            await self._emit_prompt(state, turn, step, "prompt")
        elif kind == "branch":
            scope = self._scope(state)
            for case in step.branch:  # type: ignore[union-attr]
                if case.else_ is not None:
                    turn.note(f"{where}: no condition held → {case.else_}")
                    self._jump(state, turn, case.else_)
                    return
                if evaluate(case.if_, scope):  # type: ignore[arg-type]
                    turn.note(f"{where}: {case.if_!r} is true → {case.goto}")
                    self._jump(state, turn, case.goto)  # type: ignore[arg-type]
                    return
            turn.note(f"{where}: no condition held; next step")
        elif kind == "call":
            if await self._call(state, turn, frame, step, where):
                return
        elif kind == "set":
            scope = self._scope(state)
            for key, value in step.set.items():  # type: ignore[union-attr]
                namespace, _, name = key.partition(".")
                result = evaluate(value, scope) if isinstance(value, str) else value
                if namespace == "slots" and result is None:
                    state.slots.pop(name, None)  # cleared: its ask asks again
                    turn.note(f"{where}: cleared {key}")
                else:
                    (state.slots if namespace == "slots" else state.vars)[name] = result
                    turn.note(f"{where}: set {key} = {result!r}")
                scope = self._scope(state)
        elif kind == "flow":
            frame.index += 1
            turn.note(f"{where}: sub-flow {step.flow}")  # type: ignore[union-attr]
            state.stack.append(Frame(step.flow, then=step.goto))  # type: ignore[union-attr]
            return
        elif kind == "handoff":
            if step.say is not None:  # type: ignore[union-attr]
                self._say(state, turn, self._render(state, step.say), step.interruptible)  # type: ignore[union-attr]
            turn.note(f"{where}: handoff")
            self._handoff(state, turn, step.handoff)  # type: ignore[union-attr]
        elif kind == "end":
            end = step.end  # type: ignore[union-attr]
            if end.say is not None:
                self._say(state, turn, self._render(state, end.say), step.interruptible)  # type: ignore[union-attr]
            self._end(state, turn, end.reason, f"{where}: end")
        elif kind == "goto":
            turn.note(f"{where}: goto {step.goto}")  # type: ignore[union-attr]
            self._jump(state, turn, step.goto)  # type: ignore[union-attr]
            return
        if state.waiting is not None:
            raise _Done
        frame.index += 1
        if getattr(step, "goto", None):
            self._jump(state, turn, step.goto)  # type: ignore[union-attr]

    async def _call(self, state: DialogState, turn: _Turn, frame: Frame, step: Any, where: str) -> bool:
        """Run a call step. True when it jumped (fallback path or goto)."""
        spec = step.call
        context = {
            "call_id": state.call_id,
            "caller_id": state.caller_id,
            "flow": frame.flow,
            "slots": dict(state.slots),
            "vars": dict(state.vars),
            "params": {
                k: self._render(state, v) if isinstance(v, str) else v for k, v in spec.params.items()
            },
        }
        request = ActionRequest(
            kind="webhook" if spec.webhook else "function",
            target=self._render(state, spec.webhook) if spec.webhook else spec.function,
            method=spec.method,
            timeout_s=spec.timeout_s,
            context=context,
            headers={k: self._render(state, v) for k, v in spec.headers.items()},
        )
        # a GET or HEAD webhook only reads; anything else (a POST, a Python function) may change something
        turn.side_effects |= not (spec.webhook and spec.method.upper() in ("GET", "HEAD"))
        outcome = await self.actions.run(request, self.bundle.backend)
        turn.note(f"{where}: {outcome.detail} ({outcome.status})")
        state.result = outcome.data
        if step.save_as:
            state.vars[step.save_as] = outcome.data
        if outcome.status == "ok":
            return False
        target = (step.on_fail or step.on_error) if outcome.status == "fail" else step.on_error
        if target is None:
            raise FlowRuntimeError(
                f"{where}: {outcome.detail} and the step has no "
                f"{'on_fail/on_error' if outcome.status == 'fail' else 'on_error'} path"
            )
        turn.note(f"{where}: fallback → {target}")
        self._jump(state, turn, target)
        return True

    def _jump(self, state: DialogState, turn: _Turn, target: str) -> None:
        frame = state.stack[-1]
        try:
            flow, index = self.bundle.resolve_target(target, frame.flow)
        except KeyError:
            raise FlowRuntimeError(f"unknown goto target {target!r} in flow {frame.flow}") from None
        if flow == frame.flow:
            frame.index = index
            return
        for depth in range(len(state.stack) - 1, -1, -1):
            if state.stack[depth].flow == flow:
                del state.stack[depth + 1 :]
                state.stack[depth].index = index
                return
        state.stack[-1] = Frame(flow, index)

    async def _start_intent_flow(
        self,
        state: DialogState,
        turn: _Turn,
        intent: str,
        u: Understanding | None,
        digression: bool,
        also: Understanding | None = None,
    ) -> None:
        """Run the flow an intent starts, as a sub-flow of the menu or as a digression. Raises _Done."""
        flow_name = self.bundle.intent_flow[intent]
        w = state.waiting
        assert w is not None
        state.waiting = None
        target = self.bundle.flows[flow_name]
        if digression and not target.resume:
            turn.note(f"flow {flow_name} does not resume the interrupted flow")
            state.stack = [Frame(flow_name)]
        elif digression:
            state.stack.append(Frame(flow_name, digression=True))
        else:  # from a menu: the flow continues after it (or at the menu's goto) when this one returns
            state.stack[-1].index = w.index + 1
            menu = self.bundle.flows[w.flow].steps[w.index]
            state.stack.append(Frame(flow_name, then=getattr(menu, "goto", None)))
        for said in (u, also):
            if said is not None:
                filled = self._prefill(state, turn, flow_name, said)
                digits = said.entity("digits")
                if digits is not None and digits.value not in [state.slots[slot] for slot in filled]:
                    turn.heard_digits = digits.value
        await self._run(state, turn)

    async def _heard_with_request(
        self, state: DialogState, turn: _Turn, step: AnyStep, heard: str | None
    ) -> None:
        """The flow's first question is a digits question, and the request came with a digit string one or
        two digits off its length ("track 5,55,512,345": nine digits of ten): read back at once instead of
        asking afresh. (A number of another length, "my card ending 4421", is for another question.)"""
        bounds = self._digit_bounds(step)
        if (
            isinstance(heard, str)
            and bounds is not None
            and not self._fits(step, heard)
            and bounds[0] - 2 <= len(heard) <= bounds[1] + 2
        ):
            why = f"{len(heard)} digits said with the request, not {self._expected_count(step)}"
            await self._read_back(state, turn, heard, why)

    def _prefill(
        self, state: DialogState, turn: _Turn, flow_name: str, u: Understanding, start: int = 0
    ) -> list[str]:
        """Values said together with the request ("where is order 123456") fill the slots of the flow
        (from step ``start``) and of the sub-flows its ``flow:`` steps run. Yes/no questions are not
        answered in advance (the "yes" of "yes, and my card was stolen" answered the question before).
        Returns the slots filled."""
        filled = []
        for step, slot, value in self._values_ahead(state, flow_name, start, u):
            state.slots[slot] = value
            filled.append(slot)
            turn.note(f"slot {slot} filled from the request ({value!r})")
        return filled

    def _values_ahead(
        self, state: DialogState, flow_name: str, start: int, u: Understanding, seen: set[str] | None = None
    ) -> list[tuple[AnyStep, str, Any]]:
        """(step, slot, value) for each ask from step ``start`` of a flow on (into the sub-flows its ``flow:``
        steps run) whose slot is empty and whose value ``u`` holds; yes/no and ``reset`` asks excepted."""
        seen = seen if seen is not None else set()
        seen.add(flow_name)
        found: list[tuple[AnyStep, str, Any]] = []
        for step in self.bundle.flows[flow_name].steps[start:]:
            sub = getattr(step, "flow", None)
            if step_kind(step) == "flow" and sub not in seen:
                found += self._values_ahead(state, sub, 0, u, seen)
            elif isinstance(step, (AskStep, CollectDigitsStep)) and not (
                isinstance(step, AskStep) and step.reset
            ):
                slot = self._slot_of(step)
                type_def = self.bundle.slot_type_defs.get(self.bundle.slot_type_of(step))
                if type_def is not None and type_def.kind == "yes_no":
                    continue
                entity = self._entity_for(u, self.bundle.slot_type_of(step))
                if (
                    entity is not None
                    and slot not in state.slots
                    and slot not in {s for _, s, _ in found}
                    and self._valid(step, entity.value)
                ):
                    found.append((step, slot, entity.value))
        return found

    def _yes_with_value(self, state: DialogState, step: AnyStep, u: Understanding, turn: _Turn) -> bool:
        """A yes/no question answered with what the flow asks next. With a yes ("yes, they're too small")
        the values fill those asks; without a yes or no ("Do you have your order number?" "1234567"), a
        value that is not a word of a list (a number, a date, ...) is a yes and fills its ask. Whether the
        answer is a yes without a yes/no word."""
        w = state.waiting
        assert w is not None
        type_def = self.bundle.slot_type_defs.get(self.bundle.slot_type_of(step))
        if not isinstance(step, AskStep) or step.confirm or type_def is None or type_def.kind != "yes_no":
            return False
        answer = self._entity_for(u, self.bundle.slot_type_of(step))
        ahead = [(ask, self.bundle.slot_type_defs.get(self.bundle.slot_type_of(ask)))
                 for ask, _, _ in self._values_ahead(state, w.flow, w.index + 1, u)
                 if isinstance(ask, AskStep)]  # (a collect_digits step always asks)
        if answer is not None:
            if answer.value is True and ahead:
                self._prefill(state, turn, w.flow, u, w.index + 1)
            return False
        if not any(kind is not None and kind.kind not in ("list", "text") for _, kind in ahead):
            return False  # "I changed my mind" is a reason for a return, and no yes to starting one
        return bool(self._prefill(state, turn, w.flow, u, w.index + 1))

    def _intent_for_value(self, state: DialogState, step: MenuStep, u: Understanding) -> str | None:
        """At a menu, a number that one of the menu's flows asks for (a tracking number said instead of a
        request): the first such flow's intent, to confirm ("Did you want to track a parcel?")."""
        allowed = step.menu.intents or list(self.bundle.intent_flow)
        for intent in dict.fromkeys([*step.menu.dtmf.values(), *allowed]):
            if intent not in allowed or intent not in self.bundle.intent_flow:
                continue
            for ask, _, _ in self._values_ahead(state, self.bundle.intent_flow[intent], 0, u):
                type_def = self.bundle.slot_type_defs.get(self.bundle.slot_type_of(ask))
                if isinstance(ask, AskStep) and type_def is not None and type_def.kind in ("digits", "phone"):
                    return intent
        return None

    # ------------------------------------------------------------------------------------------
    # Digit strings: read back, fixed in part, completed by keypad
    # ------------------------------------------------------------------------------------------

    def _digit_bounds(self, step: AnyStep) -> tuple[int, int] | None:
        """(min, max) digits of a digits question (a ``kind: digits`` slot or a collect_digits step)."""
        type_def = self.bundle.slot_type_defs.get(self.bundle.slot_type_of(step))
        digits_kind = type_def is not None and type_def.kind == "digits"
        if isinstance(step, CollectDigitsStep):
            lo, hi = step.min_digits, step.max_digits
            if digits_kind and type_def is not None:
                lo, hi = max(lo, type_def.min_length or 1), min(hi, type_def.max_length or hi)
            return lo, hi
        if isinstance(step, AskStep) and digits_kind and type_def is not None:
            return type_def.min_length or 1, type_def.max_length or 64
        return None

    def _fits(self, step: AnyStep, digits: str) -> bool:
        bounds = self._digit_bounds(step)
        return bounds is not None and digits.isdigit() and bounds[0] <= len(digits) <= bounds[1]

    def _expected_count(self, step: AnyStep) -> str:
        bounds = self._digit_bounds(step)
        assert bounds is not None
        return str(bounds[0]) if bounds[0] == bounds[1] else f"{bounds[0]} to {bounds[1]}"

    async def _digits_answer(self, state: DialogState, u: Understanding, turn: _Turn) -> None:
        """A spoken answer to a digits question: filled when it has the expected length; else what was
        heard is read back. After a read-back the answer may fix a part of it ("the last one is eight",
        "it ends in 42", "add a 9 at the end"), say the rest (appended while not above the maximum) or say
        it all again.
        Returns (to the rest of the cascade) when the answer holds no digits, or when a wrong-length
        answer comes with another flow's request."""
        step = self._waiting_step(state)
        slot = self._slot_of(step)
        heard = state.digits_heard
        bounds = self._digit_bounds(step)
        assert bounds is not None

        def fits(digits: str) -> bool:
            return self._fits(step, digits)

        entity = self._entity_for(u, self.bundle.slot_type_of(step))
        said = None
        if entity is not None and isinstance(entity.value, str) and entity.value.isdigit():
            said = entity.value
        edit = find_digit_edit(u.text) if heard else None
        if heard and edit is not None:
            candidate = apply_digit_edit(heard, edit, fits)
            how = f"a fix ({edit.kind} {edit.digits!r}) of the {len(heard)} digits heard"
            if candidate is None:
                await self._read_back(state, turn, heard, f"the fix ({edit.kind} {edit.digits!r}) names a "
                                      f"digit the {len(heard)} heard do not have")
        elif said is None or (not fits(said) and self._digression_intent(state, u) is not None):
            return
        elif fits(said):
            candidate, how = said, f"speech ({entity.text or said!r})"  # type: ignore[union-attr]
        elif heard and len(heard + said) <= bounds[1]:
            candidate, how = heard + said, f"the rest said after the {len(heard)} digits heard"
        else:
            candidate, how = said, "speech"
        if fits(candidate):
            await self._fill(state, turn, candidate, f"slot {slot} filled by {how}")
        await self._read_back(state, turn, candidate, f"{len(candidate)} digits heard, not "
                              f"{self._expected_count(step)}")

    async def _digits_keyed(self, state: DialogState, turn: _Turn, keys: str) -> None:
        """Keys pressed for a digits question. Keys of the expected length replace what was said; keys that
        complete the digits heard (said, then read back) are appended to them. Returns when the keys alone
        fit (the usual DTMF fill follows)."""
        step = self._waiting_step(state)
        bounds = self._digit_bounds(step)
        assert bounds is not None
        keys = keys.rstrip("#")
        heard = state.digits_heard
        if not keys.isdigit() or self._fits(step, keys):
            return
        if heard and self._fits(step, heard + keys):
            why = f"slot {self._slot_of(step)} completed by DTMF after the {len(heard)} digits said"
            await self._fill(state, turn, heard + keys, why)
        candidate = heard + keys if heard and len(heard + keys) <= bounds[1] else keys
        why = f"{len(candidate)} digits, not {self._expected_count(step)}"
        await self._read_back(state, turn, candidate, why)

    async def _read_back(self, state: DialogState, turn: _Turn, heard: str, why: str) -> NoReturn:
        """A no-match that says what was heard, in groups, and how to fix it. Raises _Done."""
        step = self._waiting_step(state)
        state.digits_heard = heard
        state.no_match += 1
        limit = self._limit(step, "max_no_match")
        if state.no_match > limit:
            await self._missed(state, turn, "no_match", state.no_match, f": {why}")
        turn.note(f"no-match {state.no_match}/{limit}: {why}; read back for the caller to fix")
        settings = self.bundle.settings
        count = f"{len(heard)} digit" + ("" if len(heard) == 1 else "s")
        scope = {"heard": heard, "count": count, "expected": self._expected_count(step)}
        text = settings.digits_read_back if getattr(step, "read_back", True) else settings.digits_count_back
        self._say(state, turn, render(self._text(state, text), scope), remember=True)
        self._say(state, turn, self._text(state, settings.digits_repair_prompt), remember=True)
        self._say(state, turn, self._text(state, settings.dtmf_offer), remember=True)
        self._listen(state, turn, self._expectation(state, step))
        raise _Done

    async def _reject_digits(
        self, state: DialogState, turn: _Turn, value: str, fixed: str | None = None
    ) -> NoReturn:
        """A digit string the caller said is wrong at its confirmation: kept, for the caller to fix a part
        ("no, the last one is eight") or say again; ``fixed``: a fix that left the wrong length, read
        back. Raises _Done."""
        w = state.waiting
        assert w is not None
        step = self._waiting_step(state)
        state.slots.pop(self._slot_of(step), None)
        self._wait(state, "ask" if isinstance(step, AskStep) else "collect", w.flow, w.index)
        if fixed is not None:
            await self._read_back(state, turn, fixed, f"the fix left {len(fixed)} digits, not "
                                  f"{self._expected_count(step)}")
        state.digits_heard = value
        turn.note(f"{self._slot_of(step)} {value!r} rejected by the caller; asking again, or for the part")
        settings = self.bundle.settings
        prompt = self._render(state, step.prompt)  # type: ignore[union-attr]
        self._say(state, turn, prompt, step.interruptible, remember=True)  # type: ignore[union-attr]
        self._say(state, turn, self._text(state, settings.digits_rejected_prompt), remember=True)
        if not any(word in prompt.lower() for word in _KEYPAD_WORDS):
            self._say(state, turn, self._text(state, settings.dtmf_offer), remember=True)
        self._listen(state, turn, self._expectation(state, step))
        raise _Done

    # ------------------------------------------------------------------------------------------
    # Output
    # ------------------------------------------------------------------------------------------

    def _wait(
        self,
        state: DialogState,
        kind: WaitKind,
        flow: str,
        index: int,
        intent: str | None = None,
        request: Understanding | None = None,
    ) -> None:
        w = state.waiting
        if w is None or (w.flow, w.index) != (flow, index):
            state.no_input = state.no_match = 0
            state.digits_heard = None
        state.waiting = Waiting(kind, flow, index, intent, request)

    async def _emit_prompt(self, state: DialogState, turn: _Turn, step: AnyStep, which: str) -> None:
        """Speak the waiting step's prompt (``prompt``, ``reprompt`` or ``no_input``) and listen."""
        source = step.menu if isinstance(step, MenuStep) else step
        prompt = source.prompt  # type: ignore[union-attr]
        reprompt = getattr(source, "reprompt", None) or prompt
        text = {
            "prompt": prompt,
            "reprompt": reprompt,
            "no_input": getattr(source, "no_input_prompt", None) or reprompt,
        }[which]
        spoken = self._render(state, text)
        self._say(state, turn, spoken, getattr(step, "interruptible", True), remember=True)
        if which != "prompt" and self._digit_bounds(step) is not None and not any(
            word in spoken.lower() for word in _KEYPAD_WORDS
        ):  # after a miss: the keypad, said once unless the reprompt says it already
            self._say(state, turn, self._text(state, self.bundle.settings.dtmf_offer), remember=True)
        self._listen(state, turn, self._expectation(state, step))

    async def _prompt_again(self, state: DialogState, turn: _Turn, which: str) -> None:
        """Ask the waiting question again. Raises _Done."""
        w = state.waiting
        assert w is not None
        step = self._waiting_step(state)
        if w.kind == "confirm_slot":
            assert isinstance(step, AskStep)
            self._say(
                state, turn, self._text(state, self.bundle.settings.yes_no_reprompt) or "", remember=True
            )
            self._emit_confirm_slot(state, turn, step)
        elif w.kind == "confirm_intent":
            self._say(
                state, turn, self._text(state, self.bundle.settings.yes_no_reprompt) or "", remember=True
            )
            self._listen(state, turn, self._yes_no_expectation(state))
        else:
            await self._emit_prompt(state, turn, step, which)
        raise _Done

    def _emit_confirm_slot(self, state: DialogState, turn: _Turn, step: AskStep) -> None:
        slot = step.ask
        if isinstance(step.confirm, (str, dict)):
            text = self._render(state, step.confirm)
        else:
            kind = self.bundle.slot_type_defs.get(self.bundle.slot_type_of(step))
            tag = _READ_BACK_TAG.get(kind.kind if kind else "")
            value = format_value(state.slots[slot])
            spoken = "{" + tag + ":" + value + "}" if tag else value
            text = f"I have {spoken}. Is that right?"
        self._say(state, turn, text, step.interruptible, remember=True)
        self._listen(state, turn, self._yes_no_expectation(state))

    def _say(
        self, state: DialogState, turn: _Turn, text: str, interruptible: bool = True, remember: bool = False
    ) -> None:
        if not text:
            return
        say = Say(text, interruptible=interruptible, language=state.language)
        turn.actions.append(say)
        if remember:
            pending = []
            for action in reversed(turn.actions):
                if not isinstance(action, Say):
                    break
                pending.append(action)
            state.last_prompt = tuple(reversed(pending))

    def _listen(self, state: DialogState, turn: _Turn, expect: Expectation) -> None:
        listen = Listen(expect)
        turn.actions.append(listen)
        state.last_listen = listen

    def _handoff(self, state: DialogState, turn: _Turn, spec: HandoffSpec) -> None:
        priority = spec.priority
        if isinstance(priority, str):
            value = evaluate(priority, self._scope(state))
            priority = _as_int(value)
            if priority is None:
                raise FlowRuntimeError(f"handoff priority {spec.priority!r} gave {value!r}, not a number")
        queue = self._render(state, spec.queue)
        skill = self._render(state, spec.skill) if spec.skill else None
        turn.note(
            f"handoff to queue {queue}"
            + (f" (skill {skill})" if skill else "")
            + f", priority {priority}, reason {spec.reason}"
        )
        turn.actions.append(Handoff(reason=spec.reason, queue=queue, skill=skill, priority=priority))
        state.ended = True
        state.waiting = None
        raise _Done

    def _end(self, state: DialogState, turn: _Turn, reason: str, why: str = "") -> None:
        turn.note((why + ": " if why else "") + f"end call ({reason})")
        turn.actions.append(EndCall(reason))
        state.ended = True
        state.waiting = None
        raise _Done

    # ------------------------------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------------------------------

    def _expectation(self, state: DialogState, step: AnyStep) -> Expectation:
        settings = self.bundle.settings
        lang = state.language
        if isinstance(step, MenuStep):
            intents = step.menu.intents or list(self.bundle.intent_flow)
            phrases = tuple(self.bundle.intent_label(i) for i in intents)
            max_digits = 1 if step.menu.dtmf else 0
            choice = MENU_CHOICE_TYPE if step.menu.dtmf else None  # "two" (or "to") said for key 2
            return Expectation(
                RecognitionHints(phrases, choice, lang), settings.no_input_timeout_s, max_digits, 1, "", 3.0
            )
        type_name = self.bundle.slot_type_of(step)
        type_def = self.bundle.slot_type_defs.get(type_name)
        phrases: tuple[str, ...] = ()
        if type_def is not None and type_def.kind == "list":
            phrases = tuple(type_def.values) + tuple(s for syn in type_def.values.values() for s in syn)
        elif type_def is not None and type_def.kind == "yes_no":
            phrases = ("yes", "no")
        digit_count = None
        if isinstance(step, CollectDigitsStep):
            digit_count = (step.min_digits, step.max_digits)
        elif type_def is not None and type_def.kind == "digits" and type_def.max_length:
            digit_count = (type_def.min_length or 1, type_def.max_length)
        if state.digits_heard is not None and digit_count is not None:
            # a fix to what was read back: its words pass the digits grammar, and it is short
            phrases, digit_count = phrases + REPAIR_WORDS, None
        kind = type_def.kind if type_def is not None else None
        if type_def is not None and kind == "list" and {"yes", "no"} <= type_def.values.keys():
            kind = "yes_no"  # "Anything else?" is a yes/no question: "Yeah." is an answer, not a backchannel
        hints = RecognitionHints(phrases, type_name, lang, kind, digit_count)
        repairing = state.digits_heard is not None
        if isinstance(step, CollectDigitsStep):
            return Expectation(
                hints,
                settings.no_input_timeout_s,
                step.max_digits,
                1 if repairing else step.min_digits,
                step.terminator,
                step.inter_digit_s,
            )
        if isinstance(step, SurveyStep):
            return Expectation(hints, settings.no_input_timeout_s, 1, 1, "", 3.0)
        assert isinstance(step, AskStep)
        if not step.dtmf and self._digit_bounds(step) is None:  # a digits question always takes keys
            return Expectation(hints, settings.no_input_timeout_s)
        dtmf = step.dtmf if not isinstance(step.dtmf, bool) else None
        if (type_def is not None and type_def.kind == "yes_no") or (dtmf and dtmf.options):
            max_digits = 1
        else:
            max_digits = (dtmf.max_digits if dtmf and dtmf.max_digits else None) or (
                type_def.max_length if type_def and type_def.max_length else 16
            )
        return Expectation(
            hints,
            settings.no_input_timeout_s,
            max_digits,
            1 if repairing
            else max(dtmf.min_digits if dtmf else 1, type_def.min_length or 1 if type_def else 1),
            dtmf.terminator if dtmf else "#",
            dtmf.inter_digit_s if dtmf else 3.0,
        )

    def _yes_no_expectation(self, state: DialogState) -> Expectation:
        return Expectation(
            RecognitionHints(("yes", "no"), "yes_no", state.language),
            self.bundle.settings.no_input_timeout_s,
            max_digits=1,
            terminator="",
        )

    def _waiting_step(self, state: DialogState) -> AnyStep:
        w = state.waiting
        assert w is not None
        return self.bundle.flows[w.flow].steps[w.index]

    def _expected_type(self, state: DialogState) -> str | None:
        w = state.waiting
        if w is None or w.kind == "menu":
            return None
        if w.kind in ("confirm_slot", "confirm_intent"):
            return "yes_no"
        return self.bundle.slot_type_of(self._waiting_step(state))

    @staticmethod
    def _slot_of(step: AnyStep) -> str:
        return (
            getattr(step, "ask", None) or getattr(step, "collect_digits", None) or getattr(step, "survey", "")
        )

    def _type_of_slot(self, slot: str) -> str | None:
        for flow in self.bundle.flows.values():
            for step in flow.steps:
                if isinstance(step, (AskStep, CollectDigitsStep, SurveyStep)) and self._slot_of(step) == slot:
                    return self.bundle.slot_type_of(step)
        return None

    def _entity_for(self, u: Understanding, type_name: str | None) -> Entity | None:
        if type_name is None:
            return None
        if type_name == "text":
            return Entity("text", u.text, u.text) if u.text.strip() else None
        entity = u.entity(type_name)
        if entity is None:
            kind = self.bundle.slot_type_defs.get(type_name)
            # a built-in kind's entity fills a slot type of that kind ("yes_no" for a custom yes/no type)
            if kind is not None and kind.kind != type_name:
                entity = u.entity(kind.kind)
        return entity

    def _valid(self, step: AnyStep, value: Any) -> bool:
        if isinstance(value, str) and self._digit_bounds(step) is not None:
            return self._fits(step, value)
        return self._valid_type(self.bundle.slot_type_of(step), value)

    def _valid_type(self, type_name: str | None, value: Any) -> bool:
        """Whether a value fits its slot type's length bounds (digits and phone kinds)."""
        type_def = self.bundle.slot_type_defs.get(type_name or "")
        if type_def is None or not isinstance(value, str) or type_def.kind not in ("digits", "phone"):
            return True
        return (type_def.min_length or 0) <= len(value) <= (type_def.max_length or 10**6)

    def _digits_value(self, state: DialogState, step: AnyStep, digits: str) -> Any:
        """DTMF as a value of the waiting step's slot type, or None when it is not one."""
        digits = digits.rstrip("#")
        if not digits or not digits.isdigit():
            return None
        type_def = self.bundle.slot_type_defs.get(self.bundle.slot_type_of(step))
        kind = type_def.kind if type_def else "digits"
        if isinstance(step, SurveyStep):
            return int(digits)
        if isinstance(step, CollectDigitsStep):
            if not step.min_digits <= len(digits) <= step.max_digits:
                return None
            return digits if self._valid(step, digits) else None
        if isinstance(step, AskStep) and not isinstance(step.dtmf, bool) and step.dtmf.options:
            return step.dtmf.options.get(digits)
        if kind == "yes_no":
            return {"1": True, "2": False}.get(digits)
        if kind == "number":
            return int(digits)
        if kind in ("digits", "phone"):
            return digits if self._valid(step, digits) else None
        if isinstance(step, AskStep) and step.dtmf:
            return digits
        return None

    def _limit(self, step: AnyStep, attr: str) -> int:
        own = getattr(step.menu, attr) if isinstance(step, MenuStep) else getattr(step, attr, None)
        return own if own is not None else getattr(self.bundle.settings, attr)

    def _text(self, state: DialogState, text: Text | None) -> str:
        return self.bundle.text(text, state.language) or ""

    def _render(self, state: DialogState, text: Text) -> str:
        return render(self._text(state, text), self._scope(state))

    def _scope(self, state: DialogState) -> dict[str, Any]:
        call = {
            "call_id": state.call_id,
            "caller_id": state.caller_id,
            "language": state.language,
            **state.call_vars,
        }
        return {
            "slots": state.slots,
            "vars": state.vars,
            "result": state.result,
            "call": call,
            "intent": state.last_intent,
            "confidence": state.last_confidence,
        }


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
