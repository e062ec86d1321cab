"""A request for a person (``Understanding.human_request``) at every kind of question, and the ``agent``
handler's offer (``confirm``), over dialogs/example.yaml with typed inputs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from dialogs import bundle_of, said
from voicebot.dialog.actions import ActionRunner
from voicebot.dialog.engine import DialogEngine
from voicebot.types import CallStart, DigitsInput, Entity, Handoff, Listen, NoInput, Understanding

ROOT = Path(__file__).resolve().parents[2]
AGENT_HANDLER = '''  agent:
    say: "Sure, I'll put you through to someone."
'''


def load(tmp_path: Path, offer: str | None = None):
    text = (ROOT / "dialogs" / "example.yaml").read_text()
    if offer is not None:
        assert AGENT_HANDLER in text
        text = text.replace(AGENT_HANDLER, AGENT_HANDLER + f"    confirm: {offer}\n")
    return bundle_of(text, tmp_path, "example")


def engine_for(bundle) -> DialogEngine:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "shipped", "date": "2026-03-23"})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    return DialogEngine(bundle, ActionRunner(None, client=client))


def person(text: str, intent: str | None = None, confidence: float = 0.3, **entities) -> Understanding:
    """An utterance asking for a person that the classifier did not take for ``agent`` with confidence."""
    ents = tuple(Entity(k, v, text) for k, v in entities.items())
    return Understanding(text, intent, confidence, ents, human_request=True)


def plain(text: str, intent: str | None = None, confidence: float = 0.9, **entities) -> Understanding:
    return Understanding(text, intent, confidence, tuple(Entity(k, v, text) for k, v in entities.items()))


async def at_order_number(engine: DialogEngine):
    state = engine.start("call-1", "+15550111")
    await engine.step(state, CallStart())
    r = await engine.step(state, plain("where is my order", "order_status"))
    assert r.state_name == "order_status.get_order"
    return state


@pytest.mark.parametrize("where", ["menu", "digits", "confirmation", "anything else", "survey"])
async def test_a_request_for_a_person_hands_off_at_every_kind_of_question(tmp_path, where: str) -> None:
    engine = engine_for(load(tmp_path))
    state = engine.start("call-1", "+15550111")
    await engine.step(state, CallStart())
    if where != "menu":
        await engine.step(state, plain("where is my order", "order_status"))
    if where in ("confirmation", "anything else", "survey"):
        r = await engine.step(state, plain("1 2 3 4 5 6", digits="123456"))
        assert r.state_name == "order_status.get_order:confirm"
    if where in ("anything else", "survey"):
        r = await engine.step(state, plain("yes", yes_no=True))
        assert r.state_name == "main.anything_else"
    if where == "survey":
        r = await engine.step(state, plain("no", yes_no=False))
        assert r.state_name == "main.feedback"
    # "no" said with it, or a low "goodbye": the request wins over the answer
    r = await engine.step(state, person("No! Get me a real person.", "goodbye", 0.4, yes_no=False))
    assert isinstance(r.actions[-1], Handoff) and r.actions[-1].reason == "caller_request"
    assert "put you through" in said(r) and "caller asked for a person" in " ".join(r.decisions)


async def test_the_offer_of_a_person_no_asks_again_then_a_second_request_hands_off(tmp_path) -> None:
    engine = engine_for(load(tmp_path, "true"))
    state = await at_order_number(engine)
    r = await engine.step(state, person("just put me through"))
    assert said(r) == "Do you want me to put you through to a colleague?"
    assert r.state_name == "order_status.get_order:offer_agent" and isinstance(r.actions[-1], Listen)
    r = await engine.step(state, plain("no, I'll carry on", yes_no=False))
    assert r.state_name == "order_status.get_order" and "order number" in said(r)
    r = await engine.step(state, plain("operator", "agent", 0.9))  # offered once: now at once
    assert isinstance(r.actions[-1], Handoff) and r.actions[-1].reason == "caller_request"


@pytest.mark.parametrize("answer", [plain("yes please", yes_no=True), person("a person, I said"), NoInput(),
                                    plain("uh what", None, 0.1), DigitsInput("1")])
async def test_the_offer_of_a_person_yes_or_anything_unclear_hands_off(tmp_path, answer) -> None:
    engine = engine_for(load(tmp_path, '"Shall I get you one of the team?"'))
    state = await at_order_number(engine)
    r = await engine.step(state, person("can I talk to someone"))
    assert said(r) == "Shall I get you one of the team?"
    r = await engine.step(state, answer)
    assert isinstance(r.actions[-1], Handoff) and r.actions[-1].reason == "caller_request"


async def test_the_offer_declined_by_key_two_goes_back_to_a_confirmation(tmp_path) -> None:
    engine = engine_for(load(tmp_path, "true"))
    state = await at_order_number(engine)
    await engine.step(state, plain("1 2 3 4 5 6", digits="123456"))
    r = await engine.step(state, person("operator"))
    assert r.state_name == "order_status.get_order:offer_agent"
    r = await engine.step(state, DigitsInput("2"))
    assert r.state_name == "order_status.get_order:confirm" and "Is that right" in said(r)


async def test_no_request_no_handoff(tmp_path) -> None:
    engine = engine_for(load(tmp_path))
    state = await at_order_number(engine)
    r = await engine.step(state, plain("no I don't need an agent", None, 0.2))
    assert not any(isinstance(a, Handoff) for a in r.actions) and r.state_name == "order_status.get_order"


async def test_a_request_for_a_person_after_a_digression_hands_off(tmp_path) -> None:
    engine = engine_for(load(tmp_path))
    state = await at_order_number(engine)
    r = await engine.step(state, plain("what time do you open", "opening_hours"))
    assert "digression" in " ".join(r.decisions) and r.state_name == "order_status.get_order"
    r = await engine.step(state, person("I'd rather talk to someone about it"))
    assert isinstance(r.actions[-1], Handoff) and r.actions[-1].reason == "caller_request"
