"""The callback offer as docs/flows.md writes it (queue_wait, a branch, a yes/no question, request_callback or
request_ticket, else the handoff), run by the real dialog engine; the flow functions are fakes here (the real
ones, over AMI and the database: tests/integration/test_callbacks.py)."""

from __future__ import annotations

from typing import Any

import pytest

from dialogs import bundle_of, said
from voicebot.dialog.actions import ActionRunner, default_registry
from voicebot.dialog.engine import DialogEngine
from voicebot.types import CallStart, EndCall, Entity, Handoff, Understanding

FLOW = """
name: callbacks
routing:
  skills: {block_card: cards}
  queues:
    cards: {hours: {mon-sun: "00:00-24:00"}, overflow: general, max_wait_s: 300}
flows:
  main:
    steps:
      - call: {function: queue_wait, params: {queue: cards, priority: 1}}
        save_as: wait
        on_error: to_agent
      - branch:
          - if: "vars.wait.offer_callback"
            goto: offer
          - else: to_agent
      - id: offer
        ask: callback
        type: yes_no
        prompt: "The wait is about {vars.wait.minutes} minutes. Would you like us to call you back instead?"
      - branch:
          - if: "slots.callback"
            goto: call_back
          - else: ticket
      - id: call_back
        call: {function: request_callback, params: {queue: cards, priority: 1}}
        save_as: callback
      - end:
          say: "We will call you back when it is your turn. Your reference is {vars.callback.reference}."
      - id: ticket
        ask: want_ticket
        type: yes_no
        prompt: "Shall I open a ticket instead, so a colleague gets back to you?"
      - branch:
          - if: "slots.want_ticket"
            goto: open_ticket
          - else: to_agent
      - id: open_ticket
        call: {function: request_ticket, params: {queue: cards}}
        save_as: ticket
      - end:
          say: "Your ticket is {vars.ticket.reference}. Goodbye."
      - id: to_agent
        handoff: {queue: cards, skill: cards, priority: 1, reason: caller_request}
        say: "I'm putting you through."
"""

YES = Understanding("yes", None, 0.2, (Entity("yes_no", True, "yes"),))
NO = Understanding("no", None, 0.2, (Entity("yes_no", False, "no"),))


class FakeDesk:
    """Canned answers of the three flow functions, and what they were asked."""

    def __init__(self, wait_s: int) -> None:
        self.wait_s = wait_s
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def registry(self):  # noqa: ANN201
        registry = default_registry()
        for name in ("queue_wait", "request_callback", "request_ticket"):
            registry.register(name)(self._answer(name))
        return registry

    def _answer(self, name: str):  # noqa: ANN202
        async def answer(context: dict[str, Any]) -> dict[str, Any]:
            self.calls.append((name, dict(context["params"])))
            if name == "queue_wait":
                return {"queue": "cards", "open": True, "overflowed": False, "wait_s": self.wait_s,
                        "minutes": -(-self.wait_s // 60), "offer_callback": self.wait_s > 300}
            return {"reference": "AB1234", "queued": True}
        return answer


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory):
    return bundle_of(FLOW, tmp_path_factory.mktemp("flows"), "callbacks")


async def start(bundle, desk: FakeDesk):  # noqa: ANN001, ANN201
    engine = DialogEngine(bundle, ActionRunner(desk.registry()))
    state = engine.start("call-1", "+15550111", {})
    return engine, state, await engine.step(state, CallStart())


async def test_a_long_wait_offers_a_callback_and_yes_keeps_the_place(bundle) -> None:  # noqa: ANN001
    desk = FakeDesk(wait_s=540)
    engine, state, r = await start(bundle, desk)
    assert said(r) == "The wait is about 9 minutes. Would you like us to call you back instead?"
    r = await engine.step(state, YES)
    assert "Your reference is AB1234" in said(r)
    assert any(isinstance(a, EndCall) for a in r.actions)
    assert not any(isinstance(a, Handoff) for a in r.actions)
    assert [name for name, _ in desk.calls] == ["queue_wait", "request_callback"]
    assert desk.calls[1][1] == {"queue": "cards", "priority": 1}


async def test_no_callback_then_a_ticket_or_the_queue(bundle) -> None:  # noqa: ANN001
    desk = FakeDesk(wait_s=540)
    engine, state, _ = await start(bundle, desk)
    r = await engine.step(state, NO)
    assert said(r) == "Shall I open a ticket instead, so a colleague gets back to you?"
    r = await engine.step(state, YES)
    assert "Your ticket is AB1234" in said(r) and [n for n, _ in desk.calls][-1] == "request_ticket"

    engine, state, _ = await start(bundle, FakeDesk(wait_s=540))
    await engine.step(state, NO)
    r = await engine.step(state, NO)
    [handoff] = [a for a in r.actions if isinstance(a, Handoff)]
    assert (handoff.queue, handoff.priority, handoff.reason) == ("cards", 1, "caller_request")


async def test_a_short_wait_goes_straight_to_the_queue(bundle) -> None:  # noqa: ANN001
    desk = FakeDesk(wait_s=120)
    _, _, r = await start(bundle, desk)
    [handoff] = [a for a in r.actions if isinstance(a, Handoff)]
    assert handoff.queue == "cards" and said(r) == "I'm putting you through."
    assert [name for name, _ in desk.calls] == ["queue_wait"]


async def test_without_the_queue_state_the_caller_goes_to_the_queue(bundle) -> None:  # noqa: ANN001
    engine = DialogEngine(bundle, ActionRunner(default_registry()))  # AMI off: no queue_wait registered
    state = engine.start("call-1", "+15550111", {})
    r = await engine.step(state, CallStart())
    [handoff] = [a for a in r.actions if isinstance(a, Handoff)]
    assert (handoff.queue, handoff.reason) == ("cards", "caller_request")
