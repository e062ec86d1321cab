"""Dialog engine paths over dialogs/example.yaml (and small bundles for faults), with typed inputs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from dialogs import bundle_of, correction, example_bundle, said
from voicebot.dialog.actions import ActionRegistry, ActionRunner
from voicebot.dialog.engine import DialogEngine
from voicebot.dialog.loader import load_bundle
from voicebot.dialog.runner import HOLD_NO_INPUT_S
from voicebot.nlu.normalize import find_correction
from voicebot.types import (
    CallStart,
    DigitsInput,
    Emotion,
    EndCall,
    Entity,
    Handoff,
    Listen,
    NoInput,
    Say,
    Understanding,
)

ROOT = Path(__file__).resolve().parents[2]
ORDERS = {
    "123456": (200, {"status": "shipped", "date": "2026-03-23"}),
    "654321": (200, {"status": "delivered", "date": "2026-03-02"}),
}


@pytest.fixture(scope="module")
def bundle():
    return example_bundle()


def backend(fail: bool = False) -> httpx.AsyncClient:
    def handle(request: httpx.Request) -> httpx.Response:
        if fail:
            raise httpx.ConnectError("down", request=request)
        number = request.url.path.rsplit("/", 1)[-1]
        status, body = ORDERS.get(number, (404, {"error": "unknown_order"}))
        return httpx.Response(status, json=body)

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


def engine_for(bundle, fail: bool = False, registry: ActionRegistry | None = None) -> DialogEngine:
    return DialogEngine(bundle, ActionRunner(registry, client=backend(fail)))


def u(text: str, intent: str | None = None, confidence: float = 0.9, **entities) -> Understanding:
    ents = tuple(Entity(k, v, text) for k, v in entities.items())
    return Understanding(text, intent, confidence, ents, correction=correction(text))


YES = u("yes", None, 0.2, yes_no=True)
NO = u("no", None, 0.2, yes_no=False)


async def started(engine: DialogEngine, **kw):
    state = engine.start("call-1", kw.get("caller_id", "+15550111"), kw.get("variables", {}))
    result = await engine.step(state, CallStart())
    return state, result


async def test_start_greets_then_listens_with_menu_hints(bundle):
    engine = engine_for(bundle)
    state, r = await started(engine)
    assert [type(a) for a in r.actions] == [Say, Say, Listen]
    assert r.actions[0].interruptible is False  # the greeting is marked not interruptible
    listen = r.actions[-1]
    assert listen.expect.max_digits == 1 and "check an order" in listen.expect.hints.phrases
    keys = [p for p in listen.expect.hints.phrases if p in ("zero", "one", "two", "three")]
    assert keys == ["one", "two", "zero"]  # the menu's keys as words, 0 (the agent) last
    assert r.state_name == "main.menu"
    assert r.decisions[0] == "call started: flow main"


async def test_language_from_call_variables(bundle):
    engine = engine_for(bundle)
    _, r = await started(engine, variables={"language": "es"})
    assert r.actions[0].text == "Gracias por llamar a Example Co." and r.actions[0].language == "es"


async def test_order_happy_path_with_dtmf_and_confirmation(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine)
    r = await engine.step(state, u("where is my order", "order_status", 0.91))
    assert "order number" in said(r)
    assert "intent order_status (0.91) matched flow order_status" in r.decisions
    listen = r.actions[-1]
    assert listen.expect.hints.slot_type == "order_number" and listen.expect.max_digits == 6
    # recognition and the end of turn see what kind of value it is, and its length
    assert listen.expect.hints.kind == "digits" and listen.expect.min_digits == 6
    assert listen.expect.hints.digit_count == (6, 6)
    assert listen.expect.terminator == "#"
    r = await engine.step(state, DigitsInput("123456", terminated=True))
    assert said(r) == "That's {digits:123456}. Is that right?"
    assert "slot order_number filled by DTMF" in r.decisions
    assert (
        r.actions[-1].expect.hints.slot_type == "yes_no" and r.state_name == "order_status.get_order:confirm"
    )
    assert not r.side_effects
    r = await engine.step(state, YES)
    assert not r.side_effects  # the lookup is a GET webhook: it only reads
    assert "on its way" in said(r) and "{date:2026-03-23}" in said(r)
    assert "anything else" in said(r).lower()
    assert state.vars["orders_checked"] == 1 and state.vars["order"]["status"] == "shipped"
    assert r.state_name == "main.anything_else"
    r = await engine.step(state, NO)
    assert "scale of one to five" in said(r)
    r = await engine.step(state, DigitsInput("4"))
    assert isinstance(r.actions[-1], EndCall) and state.slots["satisfaction"] == 4
    assert state.ended and r.state_name == "ended"


async def test_value_said_with_the_request_prefills_the_slot(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine)
    r = await engine.step(state, u("where is order 123456", "order_status", order_number="123456"))
    assert "slot order_number filled from the request ('123456')" in r.decisions
    assert r.state_name == "order_status.get_order:confirm" or "on its way" in said(r)


async def test_reprompt_then_no_match_limit_goes_to_handler(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine)
    await engine.step(state, u("where is my order", "order_status"))
    for n in range(3):  # max_no_match: 3 on this step
        r = await engine.step(state, u("blah", None, 0.1))
        assert "six digit order number from your confirmation email" in said(r)
        assert f"no-match {n + 1}/3" in r.decisions[-1]
    r = await engine.step(state, DigitsInput("12"))  # too short for order_number
    handoff = r.actions[-1]
    assert isinstance(handoff, Handoff) and handoff.reason == "no_match"


async def test_no_input_reprompts_then_hands_off(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine)
    await engine.step(state, u("where is my order", "order_status"))
    r = await engine.step(state, NoInput(6))
    assert "Are you still there?" in said(r) and "no-input 1/2" in r.decisions
    r = await engine.step(state, NoInput(6))
    assert "Are you still there?" in said(r)
    r = await engine.step(state, NoInput(6))
    assert isinstance(r.actions[-1], Handoff) and r.actions[-1].reason == "no_input"
    assert any("no-input 3/2 → handoff" in d for d in r.decisions)


async def test_confirmation_no_asks_again(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine)
    await engine.step(state, u("where is my order", "order_status"))
    await engine.step(state, DigitsInput("123457"))
    r = await engine.step(state, NO)
    assert "order_number" not in state.slots
    assert said(r).startswith("What's your six digit order number")
    r = await engine.step(state, DigitsInput("123456"))
    r = await engine.step(state, DigitsInput("1"))
    assert "on its way" in said(r)


async def test_correction_at_the_confirmation(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine)
    await engine.step(state, u("where is my order", "order_status"))
    await engine.step(state, DigitsInput("123457"))
    r = await engine.step(state, u("no, I said 123456", None, 0.2, order_number="123456", yes_no=False))
    assert state.slots["order_number"] == "123456"
    assert "changed it" in said(r) and "{digits:123456}" in said(r)
    assert any(d.startswith("correction by speech") for d in r.decisions)


async def test_correction_of_an_earlier_slot(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine)
    await engine.step(state, u("call me back", "request_callback"))
    await engine.step(state, DigitsInput("1234", terminated=True))
    await engine.step(state, u("tomorrow", None, 0.1, callback_day="2026-11-26"))
    r = await engine.step(state, u("no I said the 27th", None, 0.1, callback_day="2026-11-27"))
    assert state.slots["day"] == "2026-11-27"
    assert "changed it" in said(r) and "what time" in said(r).lower()


async def test_digression_and_return(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine)
    await engine.step(state, u("where is my order", "order_status"))
    r = await engine.step(state, u("when do you close", "opening_hours", 0.8))
    text = said(r)
    assert "nine to six" in text and "back to where we were" in text and "order number" in text
    assert r.state_name == "order_status.get_order"
    assert any(d.startswith("digression: intent opening_hours") for d in r.decisions)


async def test_no_digression_from_a_flow_that_forbids_it(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine)
    r = await engine.step(state, u("call me back", "request_callback"))
    assert r.state_name == "verify.pin"
    r = await engine.step(state, u("when are you open", "opening_hours", 0.9))
    assert "nine to six" not in said(r) and r.state_name == "verify.pin"


async def test_low_confidence_intent_is_confirmed(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine)
    r = await engine.step(state, u("uh my thing", "order_status", 0.4))
    assert said(r) == "Did you want to check an order?" and r.state_name == "main.menu:confirm"
    r = await engine.step(state, NO)
    assert "You can say things like" in said(r)
    r = await engine.step(state, u("uh my thing", "order_status", 0.4))
    r = await engine.step(state, YES)
    assert "order number" in said(r)


async def test_a_guess_far_from_every_example_is_confirmed_whatever_its_confidence(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine)
    guess = replace(u("I've got to plunder", "order_status", 0.9), far_from_examples=True)
    r = await engine.step(state, guess)
    assert said(r) == "Did you want to check an order?" and r.state_name == "main.menu:confirm"
    r = await engine.step(state, YES)
    assert "order number" in said(r)


async def test_global_agent_help_repeat_goodbye(bundle):
    engine = engine_for(bundle)
    state, first = await started(engine)
    r = await engine.step(state, u("what can I say", "help"))
    assert said(r).startswith("I can check an order") and "How can I help" in said(r)
    help_text = said(r)
    r = await engine.step(state, u("say again", "repeat"))
    assert said(r) == help_text and isinstance(r.actions[-1], Listen)  # the bot's last turn, again
    r = await engine.step(state, u("agent please", "agent"))
    assert isinstance(r.actions[-1], Handoff) and r.actions[-1].reason == "caller_request"
    assert r.actions[-1].queue == "example"
    state, _ = await started(engine)
    r = await engine.step(state, u("bye", "goodbye"))
    assert isinstance(r.actions[-1], EndCall) and r.actions[-1].reason == "caller_goodbye"


async def test_nothing_more_said_at_a_menu_ends_the_call_politely(bundle):
    """"Nope, that's everything, thanks" at a menu (out of scope to the classifier) is a goodbye, not "I can't
    help with that"; a complaint that starts the same way is not."""
    engine = engine_for(bundle)
    state, _ = await started(engine)
    r = await engine.step(state, u("Nope, that's everything, thanks.", None, 0.0))
    assert isinstance(r.actions[-1], EndCall) and r.actions[-1].reason == "caller_goodbye"
    state, _ = await started(engine)
    r = await engine.step(state, u("that's all wrong", None, 0.0))
    assert not state.ended and not isinstance(r.actions[-1], EndCall)


async def test_hold_waits_at_the_same_question_without_hanging_up(bundle):
    """"Hang on, let me find it" (read as goodbye by the classifier): the bot says it will wait and listens to
    the same question, longer; the call does not end."""
    engine = engine_for(bundle)
    state, first = await started(engine)
    hang_on = replace(u("hang on a second", "goodbye", 0.9), wait_request=True)
    r = await engine.step(state, hang_on)
    listen = r.actions[-1]
    assert said(r) == "Sure, take your time." and not state.ended and isinstance(listen, Listen)
    assert listen.expect.hints == first.actions[-1].expect.hints
    assert listen.expect.no_input_s == HOLD_NO_INPUT_S > first.actions[-1].expect.no_input_s
    r = await engine.step(state, u("say again", "repeat"))
    assert "How can I help" in said(r)  # the question, not the wait
    state.last_listen = None  # (a dialog that has listened to nothing yet) the question is asked again
    r = await engine.step(state, hang_on)
    assert "How can I help" in said(r) and isinstance(r.actions[-1], Listen)


async def test_menu_dtmf_options(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine)
    r = await engine.step(state, DigitsInput("1"))
    assert "order number" in said(r)
    state, _ = await started(engine)
    r = await engine.step(state, DigitsInput("0"))
    assert isinstance(r.actions[-1], Handoff)
    state, _ = await started(engine)
    r = await engine.step(state, DigitsInput("7"))
    assert "You can say things like" in said(r)


async def test_out_of_scope_at_the_limit_offers_the_options_and_a_person_then_hands_off(bundle):
    """The second miss at the menu (it may be a request misheard) offers the options or a person; only a third
    out-of-scope request hands off."""
    engine = engine_for(bundle)
    state, _ = await started(engine)
    r = await engine.step(state, u("tell me a joke", None, 0.2))
    assert "can't help with that" in said(r) and not state.ended and "talk to a person" not in said(r)
    r = await engine.step(state, u("weather", None, 0.2))
    assert not state.ended and isinstance(r.actions[-1], Listen)
    assert "can't help with that" in said(r) and said(r).endswith("Or say agent to talk to a person.")
    r = await engine.step(state, u("who won the game", None, 0.2))
    assert isinstance(r.actions[-1], Handoff) and r.actions[-1].reason == "out_of_scope"


async def test_a_request_after_the_options_and_a_person_were_offered_is_served(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine)
    await engine.step(state, u("tell me a joke", None, 0.2))
    await engine.step(state, u("weather", None, 0.2))
    r = await engine.step(state, u("agent", "agent", 0.9))
    assert isinstance(r.actions[-1], Handoff) and r.actions[-1].reason != "out_of_scope"


async def test_frustration_hands_off_with_priority(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine)
    angry = Emotion("angry", 0.95, -0.9)
    r = await engine.step(state, Understanding("this is ridiculous", None, 0.2, emotion=angry))
    assert not state.ended
    r = await engine.step(state, Understanding("useless machine", None, 0.2, emotion=angry))
    handoff = r.actions[-1]
    assert isinstance(handoff, Handoff) and handoff.reason == "frustration" and handoff.priority == 5


async def test_upset_right_after_a_miss_counts_twice(bundle):
    """A caller who sounds upset once at a question the bot already missed is handed off (two of the limit
    of two); the same words at a first try are one of two."""
    angry = Emotion("frustrated", 0.9, -0.8)
    engine = engine_for(bundle)
    state, _ = await started(engine)
    await engine.step(state, u("where is my order", "order_status"))
    r = await engine.step(state, Understanding("this is so annoying", None, 0.2, emotion=angry))
    assert not state.ended and state.frustration == 1 and isinstance(r.actions[-1], Listen)

    engine = engine_for(bundle)
    state, _ = await started(engine)
    await engine.step(state, u("where is my order", "order_status"))
    await engine.step(state, u("purple monkey dishwasher", None, 0.1))  # no order number: a miss
    assert state.no_match == 1 and state.frustration == 0
    r = await engine.step(state, Understanding("this is so annoying", None, 0.2, emotion=angry))
    handoff = r.actions[-1]
    assert isinstance(handoff, Handoff) and handoff.reason == "frustration"
    assert any("after a miss: counted twice, 2/2" in d for d in r.decisions)


async def test_backend_4xx_takes_on_fail_path(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine)
    await engine.step(state, u("where is my order", "order_status"))
    await engine.step(state, DigitsInput("999999"))
    r = await engine.step(state, YES)
    assert "couldn't find" in said(r)
    assert r.actions[-1] == Handoff(reason="order_not_found", queue="example", skill="orders", priority=0)
    assert state.result["ok"] is False and state.result["status"] == 404


async def test_backend_down_takes_on_error_path(bundle):
    engine = engine_for(bundle, fail=True)
    state, _ = await started(engine)
    await engine.step(state, u("where is my order", "order_status"))
    await engine.step(state, DigitsInput("123456"))
    r = await engine.step(state, YES)
    assert "can't reach" in said(r)
    assert r.actions[-1] == Handoff(reason="backend_unavailable", queue="example", skill="orders", priority=2)
    assert any("fallback → backend_down" in d for d in r.decisions)


async def test_subflow_function_call_and_cross_flow_goto(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine, caller_id="+15550100")
    r = await engine.step(state, u("call me back", "request_callback"))
    assert r.actions[-1].expect.max_digits == 4 and r.actions[-1].expect.min_digits == 4
    r = await engine.step(state, DigitsInput("0000", terminated=True))  # caller id verifies instead
    assert "Which day" in said(r) and state.vars["verified"] is True
    await engine.step(state, u("tomorrow", None, 0.1, callback_day="2026-11-26"))
    await engine.step(state, u("two pm", None, 0.1, callback_time="14:00"))
    r = await engine.step(state, u("five five five", None, 0.1, phone_number="5550100"))
    assert said(r) == "I have {phone:5550100}. Is that right?"
    r = await engine.step(state, YES)
    text = said(r)
    assert "{date:2026-11-26}" in text and "{time:14:00}" in text and "anything else" in text.lower()
    assert len(state.result["reference"]) == 6 and r.state_name == "main.anything_else"
    assert r.side_effects  # a Python function may change something: this step cannot be taken back


async def test_survey_accepts_speech_and_skips_after_bad_answers(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine)
    await engine.step(state, u("when are you open", "opening_hours"))
    r = await engine.step(state, NO)
    hints = r.actions[-1].expect.hints  # the scale's numbers are what the recogniser is told to expect
    assert hints.kind == "number" and hints.phrases == ("one", "two", "three", "four", "five")
    r = await engine.step(state, u("nine", None, 0.1, number=9))
    assert "scale" in said(r) and "survey answer 9 is not 1-5" in r.decisions[-1]
    r = await engine.step(state, u("whatever", None, 0.1))
    assert isinstance(r.actions[-1], EndCall) and "satisfaction" not in state.slots


async def test_list_slot_with_on_no_match_path(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine)
    r = await engine.step(state, u("I want to complain", "complaint"))
    assert "delivery, a product, or our staff" in said(r)
    assert "driver" in r.actions[-1].expect.hints.phrases
    await engine.step(state, u("hmm", None, 0.1))
    r = await engine.step(state, u("hmm", None, 0.1))
    assert r.actions[-1] == Handoff(reason="complaint", queue="example", skill="complaints", priority=3)
    assert any("no-match limit → take_it" in d for d in r.decisions)


BROKEN = """\
intents:
  check:
    examples: [a b, c d, e f, g h, i j]
flows:
  main:
    steps:
      - menu: {prompt: "Hi"}
  check:
    intent: check
    steps:
      - call: {function: explode}
        save_as: r
      - say: "Value {result.missing}"
"""


async def test_runtime_fault_becomes_apology_and_flow_error_handoff(tmp_path):
    bundle = bundle_of(BROKEN, tmp_path, "broken")
    registry = ActionRegistry()
    registry.register("explode")(lambda ctx: {"ok": True})
    engine = DialogEngine(bundle, ActionRunner(registry))
    state, _ = await started(engine)
    r = await engine.step(state, u("a b", "check"))  # the template reads a missing result field
    assert [type(a) for a in r.actions] == [Say, Handoff]
    assert "something went wrong" in said(r)
    assert r.actions[-1].reason == "flow_error" and state.ended
    assert any(d.startswith("flow error: FlowRuntimeError") for d in r.decisions)


async def test_failing_function_without_fallback_is_a_flow_error(tmp_path):
    bundle = bundle_of(BROKEN, tmp_path, "broken")
    registry = ActionRegistry()

    @registry.register("explode")
    def explode(ctx):
        raise RuntimeError("boom")

    engine = DialogEngine(bundle, ActionRunner(registry))
    state, _ = await started(engine)
    r = await engine.step(state, u("a b", "check"))
    assert r.actions[-1].reason == "flow_error"
    assert any("raised RuntimeError: boom" in d for d in r.decisions)


async def test_engine_bug_never_raises(bundle, monkeypatch):
    engine = engine_for(bundle)
    state, _ = await started(engine)

    async def broken(*args, **kwargs):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(engine._runner, "apply", broken)  # a bug while the moves are applied
    r = await engine.step(state, u("hello", None))
    assert r.actions[-1].reason == "flow_error" and r.state_name == "ended"
    r = await engine.step(state, u("hello again", None))
    assert r.actions == () and r.decisions == ("the call already ended; input ignored",)


async def test_same_inputs_give_same_outputs(bundle):
    async def run():
        engine = engine_for(bundle)
        state, first = await started(engine)
        results = [first]
        for event in (
            u("where is my order", "order_status"),
            DigitsInput("123456"),
            YES,
            NO,
            DigitsInput("5"),
        ):
            results.append(await engine.step(state, event))
        return [(r.actions, r.decisions, r.state_name) for r in results]

    assert await run() == await run()


DISABLED = """\
intents:
  check:
    examples: [a b, c d, e f, g h, i j]
handlers:
  no_match: {enabled: false}
  out_of_scope: {enabled: false}
  agent: {enabled: false}
flows:
  main:
    steps:
      - menu: {prompt: "Hi", reprompt: "Say check"}
  check:
    intent: check
    steps:
      - end: "Done"
"""


async def test_disabled_handlers_reprompt_without_limit_and_are_not_trained(tmp_path):
    bundle = bundle_of(DISABLED, tmp_path, "d")
    assert "agent" not in bundle.intents and "help" in bundle.intents
    engine = DialogEngine(bundle, ActionRunner())
    state, _ = await started(engine)
    for _ in range(6):
        r = await engine.step(state, u("weather", None, 0.1))
        assert said(r) == "Say check" and not state.ended
    r = await engine.step(state, u("agent", "agent", 0.99))  # a stray intent the classifier was not taught
    assert said(r) == "Say check"


async def test_values_of_the_wrong_length_neither_fill_nor_correct(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine)
    await engine.step(state, u("where is my order", "order_status"))
    r = await engine.step(state, u("one two", None, 0.1, digits="12"))  # built-in digits, too short
    assert "order_number" not in state.slots and "no-match 1/3" in r.decisions[-1]
    await engine.step(state, DigitsInput("123456"))
    r = await engine.step(state, u("1", None, 0.2, digits="1"))
    assert state.slots["order_number"] == "123456" and "Please say yes or no" in said(r)


async def test_no_thanks_after_a_yes_no_answer_is_not_a_correction(bundle):
    engine = DialogEngine(bundle, ActionRunner(client=backend()))
    state, _ = await started(engine)
    await engine.step(state, u("when are you open", "opening_hours"))
    r = await engine.step(state, YES)  # anything else? yes -> back to the menu
    assert r.state_name == "main.menu" and state.last_filled == "more"
    no_thanks = u("no thanks", None, 0.2, yes_no=False)
    r = await engine.step(state, replace(no_thanks, correction=find_correction(no_thanks.text)))  # the NLU's
    assert state.slots["more"] is True and not any(d.startswith("correction") for d in r.decisions)


async def test_dtmf_options_choose_a_list_value(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine)
    r = await engine.step(state, u("I want to complain", "complaint"))
    assert r.actions[-1].expect.max_digits == 1
    r = await engine.step(state, DigitsInput("2"))
    assert state.slots["topic"] == "product" and r.actions[-1].reason == "complaint"


async def test_empty_transcript_is_no_input_and_no_digression_into_a_running_flow(bundle):
    engine = engine_for(bundle)
    state, _ = await started(engine)
    r = await engine.step(state, u("", None, 0.0))
    assert "empty transcript: treated as no-input" in r.decisions and state.out_of_scope == 0
    await engine.step(state, u("where is my order", "order_status"))
    r = await engine.step(state, u("where is my order", "order_status", 0.95))
    assert not any(d.startswith("digression") for d in r.decisions)
    assert [f.flow for f in state.stack] == ["main", "order_status"]


async def test_a_get_webhook_has_no_side_effects(tmp_path):
    """A step whose backend calls only read (GET) may be taken back when the caller continues speaking."""
    flow = tmp_path / "lookup.yaml"
    flow.write_text("""\
intents:
  hours: {examples: [opening hours, when are you open, what time do you open, are you open today, hours]}
flows:
  main:
    steps:
      - id: menu
        menu: {prompt: "How can I help?"}
  hours:
    intent: hours
    steps:
      - call: {webhook: "http://backend/orders/123456", method: GET}
        save_as: order
      - say: "Status {vars.order.status}."
""")
    lookup, problems = load_bundle(flow)
    assert lookup is not None, problems
    engine = engine_for(lookup)
    state, _ = await started(engine)
    r = await engine.step(state, u("when are you open", "hours", 0.9))
    assert "Status shipped." in said(r) and not r.side_effects


COMPLAINT = """\
name: council
intents:
  complaint:
    examples: [I want to complain, make a complaint, file a complaint, I have a complaint, report a problem]
slot_types:
  category:
    kind: list
    values:
      roads: [roads, potholes]
      noise: [noise, loud music]
  details: {kind: text}
flows:
  main:
    steps:
      - menu: {prompt: "How can I help?"}
  complaint:
    intent: complaint
    steps:
      - ask: category
        prompt: "What is it about?"
        reprompt: "Please say roads or noise."
      - say: "Thanks."
      - ask: details
        prompt: "What happened, and where?"
      - end: "Logged: {slots.category}, {slots.details}."
"""


async def test_a_correction_with_no_value_heard_asks_the_corrected_question_again(tmp_path):
    """ "No, I said pop hold on." at the next (free-text) question: the category is asked again, not the
    words taken for the description; once answered, the flow goes on to the description."""
    engine = DialogEngine(bundle_of(COMPLAINT, tmp_path, "council"), ActionRunner(None))
    state = engine.start("call-1", "+15550111")
    await engine.step(state, CallStart())
    await engine.step(state, u("I want to complain", "complaint"))
    r = await engine.step(state, u("it's about noise", category="noise"))
    assert "What happened" in said(r)
    r = await engine.step(state, u("No, I said pop hold on."))
    assert "didn't catch" in said(r) and "Please say roads or noise." in said(r)
    assert "slot category" in " ".join(r.decisions) and "category" not in state.slots
    assert "details" not in state.slots
    r = await engine.step(state, u("potholes", category="roads"))
    assert said(r) == "Thanks. | What happened, and where?"
    r = await engine.step(state, u("a big hole outside number four", details="a big hole outside number four"))
    assert "Logged: roads, a big hole outside number four." in said(r)


async def test_a_free_text_answer_that_is_no_correction_stands(tmp_path):
    engine = DialogEngine(bundle_of(COMPLAINT, tmp_path, "council"), ActionRunner(None))
    state = engine.start("call-1", "+15550111")
    await engine.step(state, CallStart())
    await engine.step(state, u("I want to complain", "complaint"))
    await engine.step(state, u("it's about noise", category="noise"))
    r = await engine.step(state, u("No one sleeps, the bar plays music all night", details="the bar"))
    assert "Logged: noise, the bar." in said(r)
