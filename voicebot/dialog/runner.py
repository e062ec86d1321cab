"""Applying an input's moves: answers filled or confirmed, corrections, digit strings read back, requests
started, handlers; then the flow's steps run (``steps.py``) until one waits for the caller.

Every function that ends the turn returns once the turn's output is complete: the engine is then waiting
(``state.waiting``) or the call ended (``state.ended``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, assert_never

from voicebot.dialog.actions import ActionRunner
from voicebot.dialog.bundle import Bundle
from voicebot.dialog.moves import (
    AskEarlierAgain,
    ConfirmIntent,
    CorrectConfirmed,
    CorrectEarlier,
    DeclineAgent,
    Digress,
    FillSlot,
    Frustrated,
    GlobalIntent,
    HandlerHandoff,
    Heard,
    IntentConfirmed,
    Keyed,
    Move,
    NoMatch,
    OfferAgent,
    OutOfScope,
    ReadBack,
    RejectDigits,
    Silence,
    SlotConfirmed,
    StartFlow,
    WaitAsked,
)
from voicebot.dialog.prompts import Prompts
from voicebot.dialog.questions import Questions, ValueAhead, as_int, slot_of
from voicebot.dialog.schema import AskStep, HandoffSpec, SurveyStep
from voicebot.dialog.state import DialogState, Frame, TurnOutput, Waiting
from voicebot.dialog.steps import StepRunner
from voicebot.types import CallStart, DialogInput, Handoff, Say, Understanding

AGENT_OFFER = "Do you want me to put you through to a colleague?"
# Said after the menu's options when the out-of-scope limit is reached at a menu, before any handoff.
PERSON_OFFER = "Or say agent to talk to a person."
# After "hang on, let me find my card": how long the question waits before its no-input prompt.
HOLD_NO_INPUT_S = 20.0


class Runner:
    """Applies the moves of one bundle's calls; all per-call data is in the DialogState."""

    def __init__(self, bundle: Bundle, actions: ActionRunner, questions: Questions, prompts: Prompts) -> None:
        self.bundle = bundle
        self.q = questions
        self.prompts = prompts
        self.steps = StepRunner(bundle, actions, questions, prompts)

    # -- the call's start -----------------------------------------------------------------------------

    async def start_call(self, state: DialogState, out: TurnOutput, event: DialogInput) -> None:
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
        out.note(f"call started: flow {start}")
        state.stack = [Frame(start)]
        await self._run(state, out)

    # -- moves --------------------------------------------------------------------------------------

    async def apply(self, state: DialogState, out: TurnOutput, moves: Sequence[Move]) -> None:
        """Apply an input's moves in order: bookkeeping first, the decisive one last ends the turn."""
        for move in moves:
            await self._apply(state, out, move)

    async def _apply(self, state: DialogState, out: TurnOutput, move: Move) -> None:
        match move:
            case Heard(u):
                state.last_intent, state.last_confidence = u.intent, u.confidence
                heard = f"intent {u.intent}" if u.intent else "out of scope"
                heard += f" ({u.confidence:.2f})" + (", asks for a person" if u.human_request else "")
                entities = ", ".join(f"{e.type}={e.value!r}" for e in u.entities)
                out.note(f"heard {u.text!r}: {heard}" + (f"; entities {entities}" if entities else ""))
            case Frustrated(label, score, counts):
                state.frustration += counts
                limit = self.bundle.handlers["frustration"].count or 2
                after_miss = ", after a miss: counted twice" if counts > 1 else ""
                out.note(f"caller sounds {label} ({score:.2f}){after_miss}, {state.frustration}/{limit}")
            case Keyed(digits, terminated):
                out.note(f"DTMF {digits!r}" + (" (terminated)" if terminated else ""))
            case Silence(why):
                if why:
                    out.note(why)
                state.no_input += 1
                await self._missed(state, out, "no_input", state.no_input, "")
            case HandlerHandoff(handler, why):
                self._handler_handoff(state, out, handler, why)
            case OfferAgent(why):
                self._offer_agent(state, out, why)
            case DeclineAgent(why):
                out.note(why + "; asking again")
                state.waiting = state.waiting.before if state.waiting is not None else None
                self.prompts.ask_again(state, out, "prompt")
            case FillSlot():
                await self._fill(state, out, move)
            case SlotConfirmed(yes, why):
                out.note(why)
                await self._slot_confirmed(state, out, yes)
            case CorrectConfirmed(slot, value, how, fix):
                if fix:
                    out.note(fix)
                self._correct_confirmed(state, out, slot, value, how)
            case RejectDigits(value, fixed, fix):
                out.note(fix)
                await self._reject_digits(state, out, value, fixed)
            case IntentConfirmed(yes, why, also):
                out.note(why)
                await self._intent_confirmed(state, out, yes, also)
            case CorrectEarlier(slot, value):
                self._correct_earlier(state, out, slot, value)
            case AskEarlierAgain(slot, index, why):
                out.note(why)
                self._ask_earlier_again(state, out, slot, index)
            case ReadBack(digits, why):
                await self._read_back(state, out, digits, why)
            case StartFlow(intent, u, why):
                out.note(why)
                await self._start_intent_flow(state, out, intent, u, digression=False)
            case ConfirmIntent(intent, u, why):
                if why:
                    out.note(why)
                self._confirm_intent(state, out, intent, u)
            case Digress(intent, u, kept):
                if kept is not None:  # "yes, and my card was stolen": keep the answer, then serve the request
                    self._prefill(state, out, kept.ahead)
                    state.slots[slot_of(self.q.waiting_step(state))] = kept.value
                    state.last_filled = slot_of(self.q.waiting_step(state))
                    out.note(kept.why)
                await self._digress(state, out, intent, u)
            case GlobalIntent(intent):
                self._global_intent(state, out, intent)
            case WaitAsked():
                self._hold(state, out)
            case OutOfScope():
                await self._out_of_scope(state, out)
            case NoMatch(why):
                out.unusable = True
                await self._no_match(state, out, why)
            case _:
                assert_never(move)

    # -- answers to what was asked --------------------------------------------------------------------

    async def _fill(self, state: DialogState, out: TurnOutput, fill: FillSlot) -> None:
        """Store the answer to the waiting step and move on (or confirm first)."""
        self._prefill(state, out, fill.ahead)
        w = state.waiting
        assert w is not None
        step = self.q.waiting_step(state)
        value = fill.value
        if isinstance(step, SurveyStep):
            score = as_int(value)
            if score is None or not 1 <= score <= 5:
                if state.no_match >= 1:
                    out.note(f"survey answer {value!r} is not 1-5 again; survey skipped")
                    return await self._advance_from_waiting(state, out)
                return await self._no_match(state, out, f"survey answer {value!r} is not 1-5")
            value = score
        slot = slot_of(step)
        state.slots[slot] = value
        state.last_filled = slot
        state.digits_heard = None
        out.note(fill.why)
        if isinstance(step, AskStep) and (step.confirm or fill.inferred):
            self.steps.wait(state, "confirm_slot", w.flow, w.index)
            return self.prompts.confirm_slot(state, out, step)
        await self._advance_from_waiting(state, out)

    async def _advance_from_waiting(self, state: DialogState, out: TurnOutput) -> None:
        w = state.waiting
        assert w is not None
        step = self.bundle.flows[w.flow].steps[w.index]
        state.waiting = None
        state.stack[-1].index = w.index + 1
        if getattr(step, "goto", None):
            self.steps.jump(state, step.goto)  # type: ignore[union-attr]
        await self._run(state, out)

    async def _slot_confirmed(self, state: DialogState, out: TurnOutput, yes: bool) -> None:
        if yes:
            state.last_filled = slot_of(self.q.waiting_step(state))
            return await self._advance_from_waiting(state, out)
        w = state.waiting
        assert w is not None
        step = self.q.waiting_step(state)
        slot = slot_of(step)
        rejected = state.slots.pop(slot, None)
        if self.q.digit_bounds(step) is not None and isinstance(rejected, str):
            return await self._reject_digits(state, out, rejected)
        out.note(f"slot {slot} rejected by the caller; asking again")
        self.steps.wait(state, "ask", w.flow, w.index)
        # a list value rejected: the caller's words did not work, the reprompt says the options
        listed = isinstance(step, AskStep) and step.reprompt and self.q.kind_of(step) == "list"
        self.prompts.ask(state, out, step, "reprompt" if listed else "prompt")

    def _correct_confirmed(
        self, state: DialogState, out: TurnOutput, slot: str, value: Any, how: str
    ) -> None:
        """A new value given while its confirmation was asked: replace and confirm again."""
        out.note(f"correction by {how}: slot {slot} {state.slots.get(slot)!r} → {value!r}")
        state.slots[slot] = value
        state.last_filled = slot
        say = self.bundle.handlers["correction"].say
        if say and self.bundle.handlers["correction"].enabled:
            self.prompts.say(state, out, self.prompts.render(state, say))
        step = self.q.waiting_step(state)
        assert isinstance(step, AskStep)
        self.prompts.confirm_slot(state, out, step)

    def _correct_earlier(self, state: DialogState, out: TurnOutput, slot: str, value: Any) -> None:
        """ "No, I said 457": the slot filled in the caller's previous turn is replaced; the waiting question
        is asked again."""
        out.note(f"correction: slot {slot} {state.slots.get(slot)!r} → {value!r}")
        state.slots[slot] = value
        state.last_filled = slot
        say = self.bundle.handlers["correction"].say
        if say:
            self.prompts.say(state, out, self.prompts.render(state, say))
        self.prompts.ask_again(state, out, "prompt")

    def _ask_earlier_again(self, state: DialogState, out: TurnOutput, slot: str, index: int) -> None:
        """The corrected slot emptied and its question asked again, with its reprompt (which names what may be
        said); once answered, the flow goes on from there to the question it left."""
        w = state.waiting
        assert w is not None
        state.slots.pop(slot, None)
        state.stack[-1].index = index
        self.steps.wait(state, "ask", w.flow, index)
        self.prompts.say(state, out, self.prompts.text(state, self.bundle.settings.correction_unclear))
        self.prompts.ask(state, out, self.q.waiting_step(state), "reprompt")

    async def _intent_confirmed(
        self, state: DialogState, out: TurnOutput, yes: bool, also: Understanding | None = None
    ) -> None:
        w = state.waiting
        assert w is not None and w.intent is not None
        intent, request = w.intent, w.request
        self.steps.wait(state, "menu", w.flow, w.index)
        if yes:  # values said with the request ("redeliver parcel 123…") or as the yes fill the flow's slots
            return await self._start_intent_flow(state, out, intent, request, digression=False, also=also)
        out.note("the caller did not want that; asking again")
        self.prompts.ask_again(state, out, "reprompt")

    def _confirm_intent(self, state: DialogState, out: TurnOutput, intent: str, u: Understanding) -> None:
        w = state.waiting
        assert w is not None
        out.note(f"intent {intent} below confirm_below {self.bundle.settings.confirm_below}: confirming")
        self.steps.wait(state, "confirm_intent", w.flow, w.index, intent=intent, request=u)
        self.prompts.confirm_intent(state, out, intent)

    # -- digit strings: read back, fixed in part, completed by keypad ---------------------------------

    async def _read_back(self, state: DialogState, out: TurnOutput, heard: str, why: str) -> None:
        """A no-match that says what was heard, in groups, and how to fix it."""
        step = self.q.waiting_step(state)
        state.digits_heard = heard
        state.no_match += 1
        limit = self.q.limit(step, "max_no_match")
        if state.no_match > limit:
            return await self._missed(state, out, "no_match", state.no_match, f": {why}")
        out.note(f"no-match {state.no_match}/{limit}: {why}; read back for the caller to fix")
        self.prompts.read_back(state, out, step, heard)

    async def _reject_digits(
        self, state: DialogState, out: TurnOutput, value: str, fixed: str | None = None
    ) -> None:
        """A digit string the caller said is wrong at its confirmation: kept, for the caller to fix a part
        ("no, the last one is eight") or say again; ``fixed``: a fix that left the wrong length, read
        back."""
        w = state.waiting
        assert w is not None
        step = self.q.waiting_step(state)
        state.slots.pop(slot_of(step), None)
        self.steps.wait(state, "ask" if isinstance(step, AskStep) else "collect", w.flow, w.index)
        if fixed is not None:
            why = f"the fix left {len(fixed)} digits, not {self.q.expected_count(step)}"
            return await self._read_back(state, out, fixed, why)
        state.digits_heard = value
        if value not in state.digits_ruled_out:  # heard otherwise if said again (RecognitionHints.ruled_out)
            state.digits_ruled_out += (value,)
        out.note(f"{slot_of(step)} {value!r} rejected by the caller; asking again, or for the part")
        self.prompts.digits_rejected(state, out, step)

    # -- handlers -----------------------------------------------------------------------------------

    def _global_intent(self, state: DialogState, out: TurnOutput, intent: str) -> None:
        handler = self.bundle.handlers[intent]
        if intent == "goodbye":
            out.note("caller said goodbye")
            if handler.say:
                self.prompts.say(state, out, self.prompts.render(state, handler.say))
            return self.steps.end(state, out, "caller_goodbye")
        if intent == "repeat":
            out.note("repeating the last prompt")
            out.actions.extend(state.last_prompt)
            if state.last_listen is not None:
                out.actions.append(state.last_listen)
            return
        out.note("help requested")
        if handler.say:
            self.prompts.say(state, out, self.prompts.render(state, handler.say))
        self.prompts.ask_again(state, out, "prompt")

    def _hold(self, state: DialogState, out: TurnOutput) -> None:
        """ "Hang on, let me find it": the hold handler's words, and the same question listened to again with
        time to find what it asks for; no miss is counted."""
        out.note("the caller asked the bot to wait")
        handler = self.bundle.handlers["hold"]
        if handler.say:
            self.prompts.say(state, out, self.prompts.render(state, handler.say))
        if state.last_listen is None:  # nothing asked yet: the question the dialog waits at
            self.prompts.ask_again(state, out, "prompt")
            return
        expect = state.last_listen.expect
        self.prompts.listen(state, out, replace(expect, no_input_s=max(expect.no_input_s, HOLD_NO_INPUT_S)))

    async def _out_of_scope(self, state: DialogState, out: TurnOutput) -> None:
        handler = self.bundle.handlers["out_of_scope"]
        if not handler.enabled:
            return await self._no_match(state, out, "out of scope")
        state.out_of_scope += 1
        limit = handler.max or 2
        out.note(f"out of scope {state.out_of_scope}/{limit}")
        offer = state.out_of_scope >= limit and not state.options_offered
        if state.out_of_scope >= limit and not offer:
            return self._handler_handoff(state, out, "out_of_scope", "out-of-scope limit reached")
        if handler.say:
            self.prompts.say(state, out, self.prompts.render(state, handler.say))
        if offer:  # (only a menu hears out of scope) a miss may be a request misheard: a person offered first
            out.note("out-of-scope limit: the options and a person offered; the next one hands off")
            state.options_offered = True
        self.prompts.ask_again(state, out, "reprompt", PERSON_OFFER if offer else "")

    async def _no_match(self, state: DialogState, out: TurnOutput, why: str) -> None:
        state.no_match += 1
        await self._missed(state, out, "no_match", state.no_match, f": {why}")

    async def _missed(self, state: DialogState, out: TurnOutput, kind: str, count: int, why: str) -> None:
        """The ``count``-th silence (``kind`` "no_input") or unusable answer ("no_match") to the question
        waited on: a survey is skipped after the second; past the step's limit its ``on_<kind>`` target
        or the ``<kind>`` handler's handoff; otherwise the question is asked again."""
        step = self.q.waiting_step(state)
        limit = self.q.limit(step, f"max_{kind}")
        label = kind.replace("_", "-")
        out.note(f"{label} {count}/{limit}{why}")
        if isinstance(step, SurveyStep) and count > 1:
            out.note("survey skipped" + (" after silence" if kind == "no_input" else ""))
            return await self._advance_from_waiting(state, out)
        target = getattr(step, f"on_{kind}", None)
        if count > limit and (target or self.bundle.handlers[kind].enabled):
            if target:
                out.note(f"{label} limit → {target}")
                state.waiting = None
                self.steps.jump(state, target)
                return await self._run(state, out)
            return self._handler_handoff(state, out, kind, f"{label} {count}/{limit} → handoff")
        self.prompts.ask_again(state, out, "no_input" if kind == "no_input" else "reprompt")

    def _offer_agent(self, state: DialogState, out: TurnOutput, why: str) -> None:
        """The ``agent`` handler's ``confirm``: offer a person once, keeping the question it interrupts."""
        w = state.waiting
        assert w is not None
        confirm = self.bundle.handlers["agent"].confirm
        out.note(f"{why}: offering a person first")
        state.agent_offered = True
        state.waiting = Waiting("offer_agent", w.flow, w.index, before=w)
        text = self.prompts.render(state, confirm) if isinstance(confirm, (str, dict)) else AGENT_OFFER
        self.prompts.say(state, out, text, remember=True)
        self.prompts.listen(state, out, self.prompts.yes_no_expectation(state))

    def _handler_handoff(self, state: DialogState, out: TurnOutput, name: str, why: str) -> None:
        handler = self.bundle.handlers[name]
        out.note(f"handler {name}: {why}")
        if handler.say:
            self.prompts.say(state, out, self.prompts.render(state, handler.say))
        self.steps.handoff(state, out, handler.handoff or HandoffSpec(reason=name))

    def flow_error(self, state: DialogState, out: TurnOutput, exc: BaseException) -> None:
        """A fault in the flow: what was said stays, then the ``flow_error`` apology and a handoff."""
        out.note(f"flow error: {type(exc).__name__}: {exc} → apology and handoff")
        handler = self.bundle.handlers["flow_error"]
        out.actions[:] = [a for a in out.actions if isinstance(a, Say)]
        try:
            text = self.prompts.render(state, handler.say) if handler.say else ""
        except Exception:  # noqa: BLE001 - the apology itself must not fail
            text = "Sorry, something went wrong. Let me transfer you."
        if text:
            out.actions.append(Say(text, language=state.language))
        spec = handler.handoff or HandoffSpec()
        out.actions.append(
            Handoff(
                reason="flow_error",
                queue=spec.queue,
                skill=spec.skill,
                priority=spec.priority if isinstance(spec.priority, int) else 0,
            )
        )
        state.ended = True
        state.waiting = None

    # -- flows started by a request -------------------------------------------------------------------

    async def _run(self, state: DialogState, out: TurnOutput) -> None:
        """Run the steps until one waits; the digits said with the request may be read back there."""
        due = await self.steps.run(state, out)
        if due is not None:
            await self._read_back(state, out, due.digits, due.why)

    async def _digress(self, state: DialogState, out: TurnOutput, intent: str, u: Understanding) -> None:
        """Serve another flow's request mid-way; the waiting step runs again afterwards."""
        out.note(
            f"digression: intent {intent} ({u.confidence:.2f}) → flow {self.bundle.intent_flow[intent]} "
            f"while waiting at {self.steps.state_name(state)}"
        )
        await self._start_intent_flow(state, out, intent, u, digression=True)

    async def _start_intent_flow(
        self,
        state: DialogState,
        out: TurnOutput,
        intent: str,
        u: Understanding | None,
        digression: bool,
        also: Understanding | None = None,
    ) -> None:
        """Run the flow an intent starts, as a sub-flow of the menu or as a digression."""
        flow_name = self.bundle.intent_flow[intent]
        w = state.waiting
        assert w is not None
        state.waiting = None
        target = self.bundle.flows[flow_name]
        if digression and not target.resume:
            out.note(f"flow {flow_name} does not resume the interrupted flow")
            state.stack = [Frame(flow_name)]
        elif digression:
            state.stack.append(Frame(flow_name, digression=True))
        else:  # from a menu: the flow continues after it (or at the menu's goto) when this one returns
            state.stack[-1].index = w.index + 1
            menu = self.bundle.flows[w.flow].steps[w.index]
            state.stack.append(Frame(flow_name, then=getattr(menu, "goto", None)))
        for said in (u, also):
            if said is not None:
                filled = self._prefill(state, out, self.q.values_ahead(state, flow_name, 0, said))
                digits = said.entity("digits")
                if digits is not None and digits.value not in [state.slots[slot] for slot in filled]:
                    out.heard_digits = digits.value
        await self._run(state, out)

    def _prefill(self, state: DialogState, out: TurnOutput, values: Sequence[ValueAhead]) -> list[str]:
        """Values said together with the request ("where is order 123456") fill the slots of the asks
        ahead (``Questions.values_ahead``). Returns the slots filled."""
        for _, slot, value in values:
            state.slots[slot] = value
            out.note(f"slot {slot} filled from the request ({value!r})")
        return [slot for _, slot, _ in values]
