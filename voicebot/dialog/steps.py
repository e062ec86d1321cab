"""Running a flow's steps until one waits for the caller, hands off or ends.

Steps are dispatched on the schema's typed step classes; each says how the run goes on
(:class:`StepOutcome`). A fault in a flow raises :class:`FlowRuntimeError`, which the engine turns into
the ``flow_error`` apology and handoff.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from voicebot.dialog.actions import ActionRequest, ActionRunner
from voicebot.dialog.bundle import Bundle
from voicebot.dialog.conditions import FlowRuntimeError, evaluate
from voicebot.dialog.prompts import Prompts
from voicebot.dialog.questions import Questions, as_int
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
from voicebot.types import EndCall, Handoff, Understanding

MAX_STEPS_PER_TURN = 200


class StepOutcome(enum.Enum):
    """What running one step did to the run."""

    NEXT = "next"  # go on with the following step (or the step's goto)
    JUMPED = "jumped"  # the position is set already (a goto, a branch, a sub-flow, a fallback path)
    STOPPED = "stopped"  # the engine waits for the caller, or the call ended


@dataclass(frozen=True, slots=True)
class ReadBackDue:
    """The run stopped at a digits question whose digits, said with the request, are to be read back."""

    digits: str
    why: str


class StepRunner:
    """Runs one bundle's steps over a call's flow stack."""

    def __init__(self, bundle: Bundle, actions: ActionRunner, questions: Questions, prompts: Prompts) -> None:
        self.bundle = bundle
        self.actions = actions
        self.q = questions
        self.prompts = prompts

    async def run(self, state: DialogState, out: TurnOutput) -> ReadBackDue | None:
        """Execute steps until one waits for the caller, hands off or ends. A :class:`ReadBackDue` when the
        question it waits at is to read back the digits said with the request instead of its prompt."""
        for _ in range(MAX_STEPS_PER_TURN):
            if not state.stack:
                self.end(state, out, "completed", "the start flow finished")
                return None
            frame = state.stack[-1]
            flow = self.bundle.flows[frame.flow]
            if frame.index >= len(flow.steps):
                self._pop(state, out)
                continue
            step = flow.steps[frame.index]
            outcome = await self._exec(state, out, frame, step)
            if isinstance(outcome, ReadBackDue):
                return outcome
            if outcome is StepOutcome.STOPPED:
                return None
            if outcome is StepOutcome.NEXT:
                frame.index += 1
                if getattr(step, "goto", None):
                    self.jump(state, step.goto)  # type: ignore[union-attr]
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
            self.jump(state, frame.then)

    async def _exec(
        self, state: DialogState, out: TurnOutput, frame: Frame, step: AnyStep
    ) -> StepOutcome | ReadBackDue:
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
                    return self._ask(state, out, frame, step, "ask", heard)
            case MenuStep() | CollectDigitsStep() | SurveyStep():
                heard, out.heard_digits = out.heard_digits, None
                kind: WaitKind = (
                    "menu" if isinstance(step, MenuStep) else "collect" if isinstance(step, CollectDigitsStep)
                    else "survey"
                )
                return self._ask(state, out, frame, step, kind, heard)
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
                self.handoff(state, out, step.handoff)
                return StepOutcome.STOPPED
            case EndStep():
                end = step.end
                assert not isinstance(end, (str, dict, bool))  # the schema makes every form an EndSpec
                if end.say is not None:
                    self.prompts.say(state, out, self.prompts.render(state, end.say), step.interruptible)
                self.end(state, out, end.reason, f"{where}: end")
                return StepOutcome.STOPPED
            case GotoStep():
                out.note(f"{where}: goto {step.goto}")
                self.jump(state, step.goto)
                return StepOutcome.JUMPED
        return StepOutcome.NEXT

    def _ask(
        self,
        state: DialogState,
        out: TurnOutput,
        frame: Frame,
        step: AnyStep,
        kind: WaitKind,
        heard: str | None,
    ) -> StepOutcome | ReadBackDue:
        """Wait at a question and ask it; when the request came with a digit string one or two digits off
        the length of this digits question ("track 5,55,512,345": nine digits of ten), it is read back
        instead. (A number of another length, "my card ending 4421", is for another question.)"""
        self.wait(state, kind, frame.flow, frame.index)
        bounds = self.q.digit_bounds(step)
        if (
            isinstance(heard, str)
            and bounds is not None
            and not self.q.fits(step, heard)
            and bounds[0] - 2 <= len(heard) <= bounds[1] + 2
        ):
            why = f"{len(heard)} digits said with the request, not {self.q.expected_count(step)}"
            return ReadBackDue(heard, why)
        self.prompts.ask(state, out, step, "prompt")
        return StepOutcome.STOPPED

    def _branch(self, state: DialogState, out: TurnOutput, step: BranchStep, where: str) -> StepOutcome:
        scope = state.scope()
        for case in step.branch:
            if case.else_ is not None:
                out.note(f"{where}: no condition held → {case.else_}")
                self.jump(state, case.else_)
                return StepOutcome.JUMPED
            assert case.if_ is not None and case.goto is not None
            if evaluate(case.if_, scope):
                out.note(f"{where}: {case.if_!r} is true → {case.goto}")
                self.jump(state, case.goto)
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
            step=where,
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
        self.jump(state, target)
        return StepOutcome.JUMPED

    def jump(self, state: DialogState, target: str) -> None:
        """Go to a goto target: a step of this flow, a step of another, or another flow from its start."""
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

    def wait(
        self,
        state: DialogState,
        kind: WaitKind,
        flow: str,
        index: int,
        intent: str | None = None,
        request: Understanding | None = None,
    ) -> None:
        """Wait at a step for ``kind`` of answer; the miss counters start again at a new step."""
        w = state.waiting
        if w is None or (w.flow, w.index) != (flow, index):
            state.no_input = state.no_match = 0
            state.digits_heard = None
            state.digits_ruled_out = ()
        state.waiting = Waiting(kind, flow, index, intent, request)

    def handoff(self, state: DialogState, out: TurnOutput, spec: HandoffSpec) -> None:
        """Hand the call to a queue (its priority may be an expression); the dialog ends."""
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

    def end(self, state: DialogState, out: TurnOutput, reason: str, why: str = "") -> None:
        """End the call with ``reason``."""
        out.note((why + ": " if why else "") + f"end call ({reason})")
        out.actions.append(EndCall(reason))
        state.ended = True
        state.waiting = None

    def state_name(self, state: DialogState) -> str:
        """``flow.step_id`` (or ``flow.N``) the engine waits at, ``:confirm`` at a confirmation,
        ``:offer_agent`` at the offer of a person; ``idle``, ``ended``."""
        if state.ended:
            return "ended"
        w = state.waiting
        if w is None:
            return "idle"
        step = self.bundle.flows[w.flow].steps[w.index]
        name = f"{w.flow}.{step.id or w.index}"
        suffix = {"confirm_slot": ":confirm", "confirm_intent": ":confirm", "offer_agent": ":offer_agent"}
        return name + suffix.get(w.kind, "")
