"""Engine fixes found by the demo flows: late corrections, goto after a sub-flow, clearing a slot,
values said with the request reaching sub-flows, an answer given together with a new request, and
DTMF keys mapped to list values."""

from __future__ import annotations

import pytest

from dialogs import bundle_of, said
from voicebot.dialog.actions import ActionRunner
from voicebot.dialog.engine import DialogEngine
from voicebot.dialog.loader import load_bundle
from voicebot.dialog.schema import AskStep, json_schema
from voicebot.dialog.validate import check_bundle
from voicebot.nlu.normalize import find_correction
from voicebot.types import CallStart, DigitsInput, Entity, Understanding

BUNDLE = """\
intents:
  balance:
    examples: [balance, my balance, how much money, account balance, check balance]
  lost_card:
    examples: [lost card, stolen card, my card was stolen, I lost my card, block my card]
  complaint:
    examples: [complaint, complain, a complaint, make a complaint, not happy]
slot_types:
  account: {kind: digits, min_length: 8, max_length: 8}
  card_kind:
    kind: list
    values:
      debit: [debit]
      credit: [credit]
  more:
    kind: list
    values:
      "yes": ["yes"]
      "no": ["no", no thanks]
  category:
    kind: list
    values:
      roads: [roads, pothole]
      noise: [noise, loud]
  details: {kind: text}
flows:
  main:
    steps:
      - id: menu
        menu: {prompt: "How can I help?", dtmf: {"1": balance, "2": lost_card}}
      - id: more
        ask: more
        prompt: "Anything else?"
        reset: true
      - branch:
          - if: "slots.more == 'yes'"
            goto: menu
      - end: "Bye."
  verify:
    digressions: false
    steps:
      - id: account
        ask: account
        prompt: "Account number?"
        dtmf: {max_digits: 8}
        confirm: true
      - id: check
        branch:
          - if: "slots.account == '12345678'"
            goto: ok
      - say: "Not found."
      - set: {slots.account: none, vars.tries: "(vars.tries or 0) + 1"}
      - goto: account
      - id: ok
        say: "Verified {digits:slots.account}."
  balance:
    intent: balance
    steps:
      - branch:
          - if: "vars.served"
            goto: again
      - flow: verify
        goto: read
      - id: again
        say: "Again."
      - id: read
        say: "Your balance is ten dollars."
  lost_card:
    intent: lost_card
    steps:
      - flow: verify
      - id: which
        ask: card_kind
        prompt: "Debit or credit?"
        dtmf: {"1": debit, "2": credit}
      - id: sure
        ask: block_ok
        type: yes_no
        prompt: "Shall I block it?"
        reset: true
      - branch:
          - if: "slots.block_ok"
            goto: blocked
      - say: "Left as it is."
        goto: done
      - id: blocked
        say: "Blocked your {slots.card_kind} card."
      - id: done
        set: {vars.served: true}
  complaint:
    intent: complaint
    steps:
      - ask: category
        prompt: "What about?"
      - ask: details
        prompt: "Tell me what happened."
      - say: "Filed {slots.category}: {slots.details}"
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return bundle_of(BUNDLE, tmp_path_factory.mktemp("flows"), "fixes")


def u(text: str, intent: str | None = None, confidence: float = 0.9, **entities) -> Understanding:
    """An utterance; an entity value given as (value, start) carries its offset in the text."""
    ents = []
    for name, value in entities.items():
        value, start = value if isinstance(value, tuple) else (value, -1)
        ents.append(Entity(name, value, text, start=start))
    return Understanding(text, intent, confidence, tuple(ents), correction=find_correction(text))


async def started(bundle) -> tuple[DialogEngine, object]:
    engine = DialogEngine(bundle, ActionRunner())
    state = engine.start("call-1")
    await engine.step(state, CallStart())
    return engine, state


async def verified(engine, state) -> None:
    await engine.step(state, DigitsInput("12345678"))
    await engine.step(state, DigitsInput("1"))


# 1 -------------------------------------------------------------------------------------------------


async def test_correction_of_the_slot_just_filled(bundle):
    engine, state = await started(bundle)
    await engine.step(state, u("lost card", "lost_card"))
    await verified(engine, state)
    await engine.step(state, u("debit", None, 0.1, card_kind="debit"))
    text = "no, I said credit"
    r = await engine.step(state, u(text, None, 0.1, card_kind=("credit", text.index("credit")), yes_no=False))
    assert state.slots["card_kind"] == "credit" and "block_ok" not in state.slots
    assert "Shall I block it?" in said(r) and r.state_name == "lost_card.sure"
    assert any(d.startswith("correction: slot card_kind 'debit' → 'credit'") for d in r.decisions)


async def test_no_thanks_later_is_an_answer_not_a_correction(bundle):
    engine, state = await started(bundle)
    await engine.step(state, u("lost card", "lost_card"))
    await verified(engine, state)
    await engine.step(state, u("debit", None, 0.1, card_kind="debit"))
    r = await engine.step(state, u("no thanks", None, 0.1, yes_no=False, more="no"))
    assert state.slots["block_ok"] is False and "Left as it is" in said(r)
    r = await engine.step(state, u("no, no thanks", None, 0.1, yes_no=False, more=("no", 4)))
    assert not any(d.startswith("correction") for d in r.decisions) and r.state_name == "ended"


async def test_only_the_value_after_the_no_corrects(bundle):
    engine, state = await started(bundle)
    await engine.step(state, u("lost card", "lost_card"))
    await verified(engine, state)
    await engine.step(state, u("debit", None, 0.1, card_kind="debit"))
    # "credit" is before the corrected part ("that's fine"): not a correction of card_kind
    text = "credit, no, that's fine"
    r = await engine.step(state, u(text, None, 0.1, card_kind=("credit", 0), yes_no=False))
    assert state.slots["card_kind"] == "debit" and not any(d.startswith("correction") for d in r.decisions)


async def test_an_older_slot_is_not_corrected(bundle):
    engine, state = await started(bundle)
    await engine.step(state, u("complaint", "complaint"))
    await engine.step(state, u("roads", None, 0.1, category="roads"))
    await engine.step(state, u("the road is loud", None, 0.1, category="noise", details="the road is loud"))
    assert state.slots["details"] == "the road is loud" and state.slots["category"] == "roads"
    r = await engine.step(state, u("no, I said noise", None, 0.1, category=("noise", 10), more=("no", 0)))
    # anything else? the complaint's category is two answers back: "no ..." answers this question
    assert state.slots["category"] == "roads" and not any(d.startswith("correction") for d in r.decisions)


async def test_free_text_is_never_corrected_and_correction_at_free_text_step(bundle):
    engine, state = await started(bundle)
    await engine.step(state, u("complaint", "complaint"))
    await engine.step(state, u("noise", None, 0.1, category="noise"))
    text = "no, I said roads"
    r = await engine.step(state, u(text, None, 0.1, category=("roads", text.index("roads"))))
    assert state.slots["category"] == "roads" and "details" not in state.slots
    assert "Tell me what happened." in said(r)


async def test_a_confirmed_number_the_backend_rejects_is_cleared_and_asked_again(bundle):
    engine, state = await started(bundle)
    await engine.step(state, u("lost card", "lost_card"))
    await engine.step(state, DigitsInput("12345679"))
    r = await engine.step(state, DigitsInput("1"))
    assert "Not found" in said(r)  # the check ran with the wrong number; the slot was cleared (item 3)
    assert "account" not in state.slots and r.state_name == "verify.account"


# 2 -------------------------------------------------------------------------------------------------


async def test_goto_on_a_flow_step_is_followed_after_the_sub_flow(bundle):
    engine, state = await started(bundle)
    await engine.step(state, u("balance", "balance"))
    await engine.step(state, DigitsInput("12345678"))
    r = await engine.step(state, DigitsInput("1"))
    assert "Verified {digits:12345678}" in said(r) and "ten dollars" in said(r)
    assert "Again" not in said(r)
    assert "goto read after sub-flow verify" in r.decisions


# 3 -------------------------------------------------------------------------------------------------


async def test_set_none_clears_a_slot_so_its_ask_asks_again(bundle):
    engine, state = await started(bundle)
    await engine.step(state, u("balance", "balance"))
    await engine.step(state, DigitsInput("11111111"))
    r = await engine.step(state, DigitsInput("1"))
    assert "Not found" in said(r) and said(r).endswith("Account number?")
    assert "account" not in state.slots and state.vars["tries"] == 1
    assert any("cleared slots.account" in d for d in r.decisions)
    await engine.step(state, DigitsInput("12345678"))
    r = await engine.step(state, DigitsInput("1"))
    assert "ten dollars" in said(r)


# 4 -------------------------------------------------------------------------------------------------


async def test_value_said_with_the_request_fills_a_sub_flow_slot(bundle):
    engine, state = await started(bundle)
    text = "my balance on account 12345678"
    r = await engine.step(state, u(text, "balance", account="12345678"))
    assert state.slots["account"] == "12345678" and "ten dollars" in said(r)
    assert "slot account filled from the request ('12345678')" in r.decisions


async def test_sub_flow_prefill_checks_the_type(bundle):
    engine, state = await started(bundle)
    r = await engine.step(state, u("my balance on account 1234", "balance", account="1234"))
    assert "account" not in state.slots and said(r) == "Account number?"


# 5 -------------------------------------------------------------------------------------------------


async def test_yes_and_a_new_request_keeps_both(bundle):
    engine, state = await started(bundle)
    await engine.step(state, u("balance", "balance"))
    r = await engine.step(state, u("12345678", None, 0.1, account="12345678"))
    r = await engine.step(state, u("yes", None, 0.1, yes_no=True))
    assert said(r).endswith("Anything else?")
    r = await engine.step(state, u("yes, and my card was stolen", "lost_card", 0.8, yes_no=True, more="yes"))
    assert state.slots["more"] == "yes" and said(r).endswith("Verified {digits:12345678}. | Debit or credit?")
    assert [f.flow for f in state.stack] == ["main", "lost_card"] and state.stack[-1].digression
    await engine.step(state, DigitsInput("2"))
    r = await engine.step(state, u("yes", None, 0.1, yes_no=True))
    assert "Blocked your credit card" in said(r) and said(r).endswith("Anything else?")
    assert r.state_name == "main.more"


async def test_answer_with_its_own_flow_intent_is_just_an_answer(bundle):
    engine, state = await started(bundle)
    await engine.step(state, u("lost card", "lost_card"))
    await verified(engine, state)
    await engine.step(state, u("debit", None, 0.1, card_kind="debit"))
    r = await engine.step(state, u("yes block my card", "lost_card", 0.9, yes_no=True))
    assert "Blocked your debit card" in said(r)


async def test_confirmed_values_are_not_taken_with_a_request(bundle):
    engine, state = await started(bundle)
    await engine.step(state, u("lost card", "lost_card"))
    # verify forbids digressions: the number is simply taken and confirmed
    r = await engine.step(state, u("12345678 and my balance", "balance", 0.9, account="12345678"))
    assert r.state_name == "verify.account:confirm"


# 6 -------------------------------------------------------------------------------------------------


def test_dtmf_key_map_is_short_for_options(bundle):
    step = bundle.flows["lost_card"].steps[1]
    assert isinstance(step, AskStep) and step.dtmf.options == {"1": "debit", "2": "credit"}
    assert not [p for p in check_bundle(bundle) if "DTMF" in p.message]
    dtmf = json_schema()["$defs"]["AskStep"]["properties"]["dtmf"]["anyOf"]
    assert {"pattern": "^[0-9]$"} in [s.get("propertyNames") for s in dtmf]


async def test_dtmf_key_chooses_a_list_value(bundle):
    engine, state = await started(bundle)
    await engine.step(state, u("lost card", "lost_card"))
    await verified(engine, state)
    r = await engine.step(state, DigitsInput("9"))
    assert "card_kind" not in state.slots and said(r) == "Debit or credit?"
    r = await engine.step(state, DigitsInput("2"))
    assert state.slots["card_kind"] == "credit" and said(r) == "Shall I block it?"


async def test_dtmf_key_map_with_a_bad_key_is_reported(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BUNDLE.replace('dtmf: {"1": debit, "2": credit}', 'dtmf: {"1": debit, "*": cash}'))
    b, problems = load_bundle(path)
    messages = [p.message for p in problems]
    assert b is None
    assert any("DTMF option key '*'" in m for m in messages)
    assert any("'cash' is not a value of list type 'card_kind'" in m for m in messages)


async def test_values_said_with_a_request_that_needed_confirming_are_kept(bundle):
    engine, state = await started(bundle)
    r = await engine.step(state, u("balance for 12345678", "balance", 0.4, account="12345678"))
    assert r.state_name == "main.menu:confirm" and "account" not in state.slots
    r = await engine.step(state, u("yes", None, 0.1, yes_no=True))
    assert state.slots["account"] == "12345678" and "ten dollars" in said(r)


MENU_GOTO = """\
intents:
  hours:
    examples: [hours, opening hours, when are you open, what time do you open, closing time]
flows:
  main:
    steps:
      - branch:
          - if: "vars.again"
            goto: again
      - menu: {prompt: "How can I help?"}
        goto: bye
      - id: again
        say: "Not said after the menu."
      - id: bye
        end: "Bye."
  hours:
    intent: hours
    steps:
      - say: "Nine to five."
"""


async def test_goto_on_a_menu_is_followed_after_the_chosen_flow(tmp_path):
    engine, state = await started(bundle_of(MENU_GOTO, tmp_path, "menu_goto"))
    r = await engine.step(state, u("when are you open", "hours"))
    assert said(r) == "Nine to five. | Bye." and state.ended


async def test_the_yes_of_an_answer_does_not_answer_the_next_flow_in_advance(tmp_path):
    path = tmp_path / "no_reset.yaml"
    asked = '        type: yes_no\n        prompt: "Shall I block it?"\n'
    path.write_text(BUNDLE.replace(asked + "        reset: true\n", asked))
    b, problems = load_bundle(path)
    assert b is not None and not b.flows["lost_card"].steps[2].reset, problems
    engine, state = await started(b)
    await engine.step(state, u("balance", "balance"))
    await verified(engine, state)
    r = await engine.step(state, u("yes, and my card was stolen", "lost_card", 0.8, yes_no=True, more="yes"))
    assert "block_ok" not in state.slots
    r = await engine.step(state, DigitsInput("1"))
    assert said(r) == "Shall I block it?"
