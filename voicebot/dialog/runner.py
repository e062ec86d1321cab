"""Applying moves to the flow stack and running steps until one waits for the caller, hands off or ends.

Steps are dispatched on the schema's typed step classes; each step says whether the run goes on
(:class:`StepOutcome`). Every function that ends the turn returns once the turn's output is complete:
the engine is then waiting (``state.waiting``) or the call ended (``state.ended``). A fault in a flow
raises :class:`FlowRuntimeError`, which the engine turns into the ``flow_error`` apology and handoff.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from voicebot.dialog.actions import ActionRequest, ActionRunner
from voicebot.dialog.bundle import Bundle
from voicebot.dialog.conditions import FlowRuntimeError, evaluate
from voicebot.dialog.interpret import (
    ConfirmIntent,
    CorrectConfirmed,
    CorrectEarlier,
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
    OutOfScope,
    ReadBack,
    RejectDigits,
    Silence,
    SlotConfirmed,
    StartFlow,
)
from voicebot.dialog.prompts import Prompts
from voicebot.dialog.questions import Questions, ValueAhead, as_int, slot_of
from voicebot.dialog.schema import (
    AnyStep,
    AskStep,
    BranchStep,
    CallStep,
    CollectDigitsStep,
    EndStep,
    FlowStep,
    GotoStep,
    HandoffSpec,
    HandoffStep,
    MenuStep,
    SayStep,
    SetStep,
    SurveyStep,
)
from voicebot.dialog.state import DialogState, Frame, TurnOutput, Waiting, WaitKind
from voicebot.types import CallStart, DialogInput, EndCall, Handoff, Say, Understanding

MAX_STEPS_PER_TURN = 200


class StepOutcome(enum.Enum):
    """What running one step did to the run."""

    NEXT = "next"  # go on with the following step (or the step's goto)
    JUMPED = "jumped"  # the position is set already (a goto, a branch, a sub-flow, a fallback path)
    STOPPED = "stopped"  # the engine waits for the caller, or the call ended


class Runner:
    """Applies moves and runs one bundle's flows; all per-call data is in the DialogState."""

    def __init__(self, bundle: Bundle, actions: ActionRunner, questions: Questions, prompts: Prompts) -> None:
        self.bundle = bundle
        self.actions = actions
        self.q = questions
        self.prompts = prompts

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
        await self.run(state, out)

    # -- moves --------------------------------------------------------------------------------------

    async def apply(self, state: DialogState, out: TurnOutput, moves: Sequence[Move]) -> None:
        """Apply an input's moves in order; the last one ends the turn."""
        for move in moves:
            await self._apply(state, out, move)

    async def _apply(self, state: DialogState, out: TurnOutput, move: Move) -> None:
        match move:
            case Heard(u):
                state.last_intent, state.last_confidence = u.intent, u.confidence
                heard = f"intent {u.intent}" if u.intent else "out of scope"
                heard += f" ({u.confidence:.2f})"
                entities = ", ".join(f"{e.type}={e.value!r}" for e in u.entities)
                out.note(f"heard {u.text!r}: {heard}" + (f"; entities {entities}" if entities else ""))
            case Frustrated(label, score):
                state.frustration += 1
                limit = self.bundle.handlers["frustration"].count or 2
                out.note(f"caller sounds {label} ({score:.2f}), {state.frustration}/{limit}")
            case Keyed(digits, terminated):
                out.note(f"DTMF {digits!r}" + (" (terminated)" if terminated else ""))
            case Silence(why):
                if why:
                    out.note(why)
                state.no_input += 1
                await self._missed(state, out, "no_input", state.no_input, "")
            case HandlerHandoff(handler, why):
                self._handler_handoff(state, out, handler, why)
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
                await self._correct_earlier(state, out, slot, value)
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
                await self._global_intent(state, out, intent)
            case OutOfScope():
                await self._out_of_scope(state, out)
            case NoMatch(why):
                await self._no_match(state, out, why)

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
        if isinstance(step, AskStep) and step.confirm:
            self._wait(state, "confirm_slot", w.flow, w.index)
            return self.prompts.confirm_slot(state, out, step)
        await self._advance_from_waiting(state, out)

    async def _advance_from_waiting(self, state: DialogState, out: TurnOutput) -> None:
        w = state.waiting
        assert w is not None
        step = self.bundle.flows[w.flow].steps[w.index]
        state.waiting = None
        state.stack[-1].index = w.index + 1
        if getattr(step, "goto", None):
            self._jump(state, out, step.goto)  # type: ignore[union-attr]
        await self.run(state, out)

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
        self._wait(state, "ask", w.flow, w.index)
        self.prompts.ask(state, out, step, "prompt")

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

    async def _correct_earlier(self, state: DialogState, out: TurnOutput, slot: str, value: Any) -> None:
        """ "No, I said 457": the slot filled in the caller's previous turn is replaced; the waiting question
        is asked again."""
        out.note(f"correction: slot {slot} {state.slots.get(slot)!r} → {value!r}")
        state.slots[slot] = value
        state.last_filled = slot
        say = self.bundle.handlers["correction"].say
        if say:
            self.prompts.say(state, out, self.prompts.render(state, say))
        self.prompts.ask_again(state, out, "prompt")

    async def _intent_confirmed(
        self, state: DialogState, out: TurnOutput, yes: bool, also: Understanding | None = None
    ) -> None:
        w = state.waiting
        assert w is not None and w.intent is not None
        intent, request = w.intent, w.request
        self._wait(state, "menu", w.flow, w.index)
        if yes:  # values said with the request ("redeliver parcel 123…") or as the yes fill the flow's slots
            return await self._start_intent_flow(state, out, intent, request, digression=False, also=also)
        out.note("the caller did not want that; asking again")
        self.prompts.ask_again(state, out, "reprompt")

    def _confirm_intent(self, state: DialogState, out: TurnOutput, intent: str, u: Understanding) -> None:
        w = state.waiting
        assert w is not None
        out.note(f"intent {intent} below confirm_below {self.bundle.settings.confirm_below}: confirming")
        self._wait(state, "confirm_intent", w.flow, w.index, intent=intent, request=u)
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
        self._wait(state, "ask" if isinstance(step, AskStep) else "collect", w.flow, w.index)
        if fixed is not None:
            why = f"the fix left {len(fixed)} digits, not {self.q.expected_count(step)}"
            return await self._read_back(state, out, fixed, why)
        state.digits_heard = value
        out.note(f"{slot_of(step)} {value!r} rejected by the caller; asking again, or for the part")
        self.prompts.digits_rejected(state, out, step)

    async def _heard_with_request(
        self, state: DialogState, out: TurnOutput, step: AnyStep, heard: str | None
    ) -> bool:
        """The flow's first question is a digits question, and the request came with a digit string one or
        two digits off its length ("track 5,55,512,345": nine digits of ten): read back at once instead of
        asking afresh (True). (A number of another length, "my card ending 4421", is for another question.)"""
        bounds = self.q.digit_bounds(step)
        if (
            isinstance(heard, str)
            and bounds is not None
            and not self.q.fits(step, heard)
            and bounds[0] - 2 <= len(heard) <= bounds[1] + 2
        ):
            why = f"{len(heard)} digits said with the request, not {self.q.expected_count(step)}"
            await self._read_back(state, out, heard, why)
            return True
        return False

    # -- handlers -----------------------------------------------------------------------------------

    async def _global_intent(self, state: DialogState, out: TurnOutput, intent: str) -> None:
        handler = self.bundle.handlers[intent]
        if intent == "goodbye":
            out.note("caller said goodbye")
            if handler.say:
                self.prompts.say(state, out, self.prompts.render(state, handler.say))
            return self._end(state, out, "caller_goodbye")
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

    async def _out_of_scope(self, state: DialogState, out: TurnOutput) -> None:
        handler = self.bundle.handlers["out_of_scope"]
        if not handler.enabled:
            return await self._no_match(state, out, "out of scope")
        state.out_of_scope += 1
        limit = handler.max or 2
        out.note(f"out of scope {state.out_of_scope}/{limit}")
        if state.out_of_scope >= limit:
            return self._handler_handoff(state, out, "out_of_scope", "out-of-scope limit reached")
        if handler.say:
            self.prompts.say(state, out, self.prompts.render(state, handler.say))
        self.prompts.ask_again(state, out, "reprompt")

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
                self._jump(state, out, target)
                return await self.run(state, out)
            return self._handler_handoff(state, out, kind, f"{label} {count}/{limit} → handoff")
        self.prompts.ask_again(state, out, "no_input" if kind == "no_input" else "reprompt")

    def _handler_handoff(self, state: DialogState, out: TurnOutput, name: str, why: str) -> None:
        handler = self.bundle.handlers[name]
        out.note(f"handler {name}: {why}")
        if handler.say:
            self.prompts.say(state, out, self.prompts.render(state, handler.say))
        self._handoff(state, out, handler.handoff or HandoffSpec(reason=name))

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

    # -- flows and steps ------------------------------------------------------------------------------

    async def run(self, state: DialogState, out: TurnOutput) -> None:
        """Execute steps until one waits for the caller, hands off or ends."""
        for _ in range(MAX_STEPS_PER_TURN):
            if not state.stack:
                return self._end(state, out, "completed", "the start flow finished")
            frame = state.stack[-1]
            flow = self.bundle.flows[frame.flow]
            if frame.index >= len(flow.steps):
                self._pop(state, out)
                continue
            step = flow.steps[frame.index]
            outcome = await self._exec(state, out, frame, step)
            if outcome is StepOutcome.STOPPED:
                return
            if outcome is StepOutcome.NEXT:
                frame.index += 1
                if getattr(step, "goto", None):
                    self._jump(state, out, step.goto)  # type: ignore[union-attr]
        raise FlowRuntimeError(f"{MAX_STEPS_PER_TURN} steps without waiting for the caller (a goto loop?)")

    def _pop(self, state: DialogState, out: TurnOutput) -> None:
        frame = state.stack.pop()
        if not state.stack:
            out.note(f"flow {frame.flow} finished")
            return
        out.note(f"flow {frame.flow} finished; back to flow {state.stack[-1].flow}")
        if frame.digression:
            self.prompts.say(state, out, self.prompts.text(state, self.bundle.settings.resume_prompt))
        if frame.then:
            out.note(f"goto {frame.then} after sub-flow {frame.flow}")
            self._jump(state, out, frame.then)

    async def _exec(self, state: DialogState, out: TurnOutput, frame: Frame, step: AnyStep) -> StepOutcome:
        where = f"{frame.flow}.{step.id or frame.index}"
        match step:
            case SayStep():
                self.prompts.say(state, out, self.prompts.render(state, step.say), step.interruptible)
            case AskStep():
                if step.reset:
                    state.slots.pop(step.ask, None)
                heard, out.heard_digits = out.heard_digits, None
                if state.slots.get(step.ask) is not None:
                    filled = state.slots[step.ask]
                    out.note(f"{where}: slot {step.ask} already filled ({filled!r}), not asking")
                else:
                    return await self._ask(state, out, frame, step, "ask", heard)
            case MenuStep() | CollectDigitsStep() | SurveyStep():
                heard, out.heard_digits = out.heard_digits, None
                kind: WaitKind = (
                    "menu" if isinstance(step, MenuStep) else "collect" if isinstance(step, CollectDigitsStep)
                    else "survey"
                )
                return await self._ask(state, out, frame, step, kind, heard)
            case BranchStep():
                return self._branch(state, out, step, where)
            case CallStep():
                return await self._call(state, out, frame, step, where)
            case SetStep():
                self._set(state, out, step, where)
            case FlowStep():
                frame.index += 1
                out.note(f"{where}: sub-flow {step.flow}")
                state.stack.append(Frame(step.flow, then=step.goto))
                return StepOutcome.JUMPED
            case HandoffStep():
                if step.say is not None:
                    self.prompts.say(state, out, self.prompts.render(state, step.say), step.interruptible)
                out.note(f"{where}: handoff")
                self._handoff(state, out, step.handoff)
                return StepOutcome.STOPPED
            case EndStep():
                end = step.end
                assert not isinstance(end, (str, dict, bool))  # the schema makes every form an EndSpec
                if end.say is not None:
                    self.prompts.say(state, out, self.prompts.render(state, end.say), step.interruptible)
                self._end(state, out, end.reason, f"{where}: end")
                return StepOutcome.STOPPED
            case GotoStep():
                out.note(f"{where}: goto {step.goto}")
                self._jump(state, out, step.goto)
                return StepOutcome.JUMPED
        return StepOutcome.NEXT

    async def _ask(
        self,
        state: DialogState,
        out: TurnOutput,
        frame: Frame,
        step: AnyStep,
        kind: WaitKind,
        heard: str | None,
    ) -> StepOutcome:
        """Wait at a question: the digits said with the request read back, else its prompt."""
        self._wait(state, kind, frame.flow, frame.index)
        if not await self._heard_with_request(state, out, step, heard):
            self.prompts.ask(state, out, step, "prompt")
        return StepOutcome.STOPPED

    def _branch(self, state: DialogState, out: TurnOutput, step: BranchStep, where: str) -> StepOutcome:
        scope = state.scope()
        for case in step.branch:
            if case.else_ is not None:
                out.note(f"{where}: no condition held → {case.else_}")
                self._jump(state, out, case.else_)
                return StepOutcome.JUMPED
            assert case.if_ is not None and case.goto is not None
            if evaluate(case.if_, scope):
                out.note(f"{where}: {case.if_!r} is true → {case.goto}")
                self._jump(state, out, case.goto)
                return StepOutcome.JUMPED
        out.note(f"{where}: no condition held; next step")
        return StepOutcome.NEXT

    def _set(self, state: DialogState, out: TurnOutput, step: SetStep, where: str) -> None:
        scope = state.scope()
        for key, value in step.set.items():
            namespace, _, name = key.partition(".")
            result = evaluate(value, scope) if isinstance(value, str) else value
            if namespace == "slots" and result is None:
                state.slots.pop(name, None)  # cleared: its ask asks again
                out.note(f"{where}: cleared {key}")
            else:
                (state.slots if namespace == "slots" else state.vars)[name] = result
                out.note(f"{where}: set {key} = {result!r}")
            scope = state.scope()

    async def _call(
        self, state: DialogState, out: TurnOutput, frame: Frame, step: CallStep, where: str
    ) -> StepOutcome:
        """Run a call step: on to the next step, or its fallback path."""
        spec = step.call
        render = self.prompts.render
        context = {
            "call_id": state.call_id,
            "caller_id": state.caller_id,
            "flow": frame.flow,
            "slots": dict(state.slots),
            "vars": dict(state.vars),
            "params": {k: render(state, v) if isinstance(v, str) else v for k, v in spec.params.items()},
        }
        request = ActionRequest(
            kind="webhook" if spec.webhook else "function",
            target=render(state, spec.webhook) if spec.webhook else spec.function,  # type: ignore[arg-type]
            method=spec.method,
            timeout_s=spec.timeout_s,
            context=context,
            headers={k: render(state, v) for k, v in spec.headers.items()},
        )
        # a GET or HEAD webhook only reads; anything else (a POST, a Python function) may change something
        out.side_effects |= not (spec.webhook and spec.method.upper() in ("GET", "HEAD"))
        outcome = await self.actions.run(request, self.bundle.backend)
        out.note(f"{where}: {outcome.detail} ({outcome.status})")
        state.result = outcome.data
        if step.save_as:
            state.vars[step.save_as] = outcome.data
        if outcome.status == "ok":
            return StepOutcome.NEXT
        target = (step.on_fail or step.on_error) if outcome.status == "fail" else step.on_error
        if target is None:
            raise FlowRuntimeError(
                f"{where}: {outcome.detail} and the step has no "
                f"{'on_fail/on_error' if outcome.status == 'fail' else 'on_error'} path"
            )
        out.note(f"{where}: fallback → {target}")
        self._jump(state, out, target)
        return StepOutcome.JUMPED

    def _jump(self, state: DialogState, out: TurnOutput, target: str) -> None:
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

    async def _digress(self, state: DialogState, out: TurnOutput, intent: str, u: Understanding) -> None:
        """Serve another flow's request mid-way; the waiting step runs again afterwards."""
        out.note(
            f"digression: intent {intent} ({u.confidence:.2f}) → flow {self.bundle.intent_flow[intent]} "
            f"while waiting at {self.state_name(state)}"
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
        await self.run(state, out)

    def _prefill(self, state: DialogState, out: TurnOutput, values: Sequence[ValueAhead]) -> list[str]:
        """Values said together with the request ("where is order 123456") fill the slots of the asks
        ahead (``Questions.values_ahead``). Returns the slots filled."""
        for _, slot, value in values:
            state.slots[slot] = value
            out.note(f"slot {slot} filled from the request ({value!r})")
        return [slot for _, slot, _ in values]

    # -- output -------------------------------------------------------------------------------------

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

    def _handoff(self, state: DialogState, out: TurnOutput, spec: HandoffSpec) -> None:
        priority = spec.priority
        if isinstance(priority, str):
            value = evaluate(priority, state.scope())
            priority = as_int(value)
            if priority is None:
                raise FlowRuntimeError(f"handoff priority {spec.priority!r} gave {value!r}, not a number")
        queue = self.prompts.render(state, spec.queue)
        skill = self.prompts.render(state, spec.skill) if spec.skill else None
        out.note(
            f"handoff to queue {queue}"
            + (f" (skill {skill})" if skill else "")
            + f", priority {priority}, reason {spec.reason}"
        )
        out.actions.append(Handoff(reason=spec.reason, queue=queue, skill=skill, priority=priority))
        state.ended = True
        state.waiting = None

    def _end(self, state: DialogState, out: TurnOutput, reason: str, why: str = "") -> None:
        out.note((why + ": " if why else "") + f"end call ({reason})")
        out.actions.append(EndCall(reason))
        state.ended = True
        state.waiting = None

    def state_name(self, state: DialogState) -> str:
        """``flow.step_id`` (or ``flow.N``) the engine waits at, ``:confirm`` at a confirmation; ``idle``,
        ``ended``."""
        if state.ended:
            return "ended"
        w = state.waiting
        if w is None:
            return "idle"
        step = self.bundle.flows[w.flow].steps[w.index]
        name = f"{w.flow}.{step.id or w.index}"
        return name + (":confirm" if w.kind in ("confirm_slot", "confirm_intent") else "")
