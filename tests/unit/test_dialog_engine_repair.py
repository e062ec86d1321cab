"""Answers that converge and are never thrown away: the read-back and repair of a digit string (fixed in
part, completed or replaced by keypad), a yes given as the next answer, menu options said by their key,
a number said at the menu, short answers at a survey."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dialogs import bundle_of, said
from voicebot.dialog.actions import ActionRunner
from voicebot.dialog.bundle import MENU_CHOICE_TYPE, SURVEY_TYPE
from voicebot.dialog.engine import DialogEngine
from voicebot.dialog.loader import load_bundle
from voicebot.dialog.prompts import REPAIR_WORDS
from voicebot.nlu.normalize import find_correction
from voicebot.types import (
    CallStart,
    DigitsInput,
    EndCall,
    Entity,
    Handoff,
    Listen,
    NoInput,
    Say,
    Understanding,
)

BUNDLE = """\
intents:
  balance:
    label: check your balance
    examples: [balance, my balance, how much money, account balance, check balance]
  card:
    label: block a card
    examples: [lost card, stolen card, my card was stolen, I lost my card, block my card]
  pin:
    label: change your PIN
    examples: [change my pin, new pin, pin change, reset my pin, forgot my pin]
slot_types:
  account: {kind: digits, min_length: 8, max_length: 8}
  card_number: {kind: digits, min_length: 4, max_length: 4}
flows:
  main:
    steps:
      - id: menu
        menu:
          prompt: "How can I help?"
          reprompt: "Say balance or lost card, or press 1 for balance, 2 for a card, 0 for an agent."
          dtmf: {"1": balance, "2": card, "3": pin, "0": agent}
      - survey: score
        prompt: "One to five?"
      - end: "Bye."
  balance:
    intent: balance
    steps:
      - id: account
        ask: account
        prompt: "Your account number?"
        reprompt: "Please say your eight digit account number."
        confirm: true
        max_no_match: 2
      - say: "Balance of {digits:slots.account}: ten dollars."
  card:
    intent: card
    steps:
      - id: have
        ask: have_card
        type: yes_no
        prompt: "Do you have the card number?"
      - id: number
        ask: card_number
        prompt: "The last four digits of the card?"
      - say: "Card {digits:slots.card_number} blocked."
  pin:
    intent: pin
    steps:
      - id: pin
        collect_digits: new_pin
        prompt: "Key in the new four digit PIN."
        min_digits: 4
        max_digits: 4
      - say: "PIN {digits:slots.new_pin} set."
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return bundle_of(BUNDLE, tmp_path_factory.mktemp("flows"), "repair")


def listen(result) -> Listen:
    action = result.actions[-1]
    assert isinstance(action, Listen)
    return action


def u(text: str, intent: str | None = None, confidence: float = 0.1, **entities) -> Understanding:
    return Understanding(text, intent, confidence, tuple(Entity(k, v, text) for k, v in entities.items()),
                         correction=find_correction(text))


async def started(bundle) -> tuple[DialogEngine, object]:
    engine = DialogEngine(bundle, ActionRunner())
    state = engine.start("call-1")
    await engine.step(state, CallStart())
    return engine, state


async def at_account(bundle):
    engine, state = await started(bundle)
    await engine.step(state, u("balance", "balance", 0.9))
    return engine, state


# The read-back ------------------------------------------------------------------------------------


async def test_wrong_length_is_read_back_in_groups_with_the_keypad_offered(bundle):
    engine, state = await at_account(bundle)
    r = await engine.step(state, u("one two three four, five six seven", account="1234567"))
    assert "I heard {digits:1234567}. That's 7 digits, and I need 8." in said(r)
    assert "the last digit is eight" in said(r) and "type it on your keypad" in said(r)
    assert "no-match 1/2: 7 digits heard, not 8; read back for the caller to fix" in r.decisions
    expect = listen(r).expect
    assert expect.max_digits == 8 and expect.min_digits == 1  # keys at any moment, a short fix is complete
    assert expect.hints.digit_count is None and set(REPAIR_WORDS) <= set(expect.hints.phrases)
    assert expect.hints.whole_count == (8, 8) and expect.hints.ruled_out == ()  # said again: 8 digits


@pytest.mark.parametrize(("fix", "entities", "value"), [
    ("add an eight at the end", {"account": "8"}, "12345678"),
    ("eight", {"account": "8"}, "12345678"),  # the rest said
    ("it ends in seven eight", {"account": "78"}, "12345678"),  # sharing the 7 already heard
    ("one two three four five six seven nine", {"account": "12345679"}, "12345679"),  # said again
])
async def test_one_repair_turn_converges(bundle, fix, entities, value):
    engine, state = await at_account(bundle)
    await engine.step(state, u("one two three four, five six seven", account="1234567"))
    r = await engine.step(state, u(fix, **entities))
    assert state.slots["account"] == value and "Is that right?" in said(r)
    assert r.state_name == "balance.account:confirm" and state.digits_heard is None
    hints = listen(r).expect.hints  # a yes/no question about an 8-digit number, which may be said again
    assert (hints.kind, hints.digit_count) == ("yes_no", (8, 8))


async def test_keys_complete_or_replace_what_was_said(bundle):
    engine, state = await at_account(bundle)
    await engine.step(state, u("one two three four, five six seven", account="1234567"))
    r = await engine.step(state, DigitsInput("8"))
    assert state.slots["account"] == "12345678"
    assert "slot account completed by DTMF after the 7 digits said" in r.decisions
    engine, state = await at_account(bundle)
    await engine.step(state, u("one two three four, five six seven", account="1234567"))
    await engine.step(state, DigitsInput("87654321", terminated=True))
    assert state.slots["account"] == "87654321"


async def test_a_second_wrong_answer_is_read_back_then_the_limit_hands_off(bundle):
    engine, state = await at_account(bundle)
    await engine.step(state, u("one two three", account="123"))
    r = await engine.step(state, u("four five", account="45"))  # the rest, still short: read back together
    assert "{digits:12345}" in said(r) and "That's 5 digits" in said(r)
    r = await engine.step(state, u("one", account="1"))
    assert isinstance(r.actions[-1], Handoff) and r.actions[-1].reason == "no_match"


async def test_a_fix_naming_a_missing_digit_reads_back_again(bundle):
    engine, state = await at_account(bundle)
    await engine.step(state, u("one two three", account="123"))
    r = await engine.step(state, u("the fifth digit is nine", account="9"))
    assert "{digits:123}" in said(r) and "account" not in state.slots


# Said to be wrong at the confirmation -------------------------------------------------------------


async def test_no_at_the_confirmation_keeps_the_digits_for_a_fix(bundle):
    engine, state = await at_account(bundle)
    await engine.step(state, DigitsInput("12345678"))
    r = await engine.step(state, u("no", yes_no=False))
    assert said(r).startswith("Your account number?") and "just say that part" in said(r)
    assert "account" not in state.slots and state.digits_heard == "12345678"
    r = await engine.step(state, u("the third digit is five", account="5"))
    assert state.slots["account"] == "12545678" and "{digits:12545678}" in said(r)


async def test_a_number_said_to_be_wrong_is_not_taken_again_when_heard_again(bundle):
    engine, state = await at_account(bundle)
    await engine.step(state, u("one two three four five six seven eight", account="12345678"))
    r = await engine.step(state, u("no", yes_no=False))
    expect = next(a for a in r.actions if isinstance(a, Listen)).expect
    assert expect.hints.ruled_out == ("12345678",) and expect.hints.whole_count == (8, 8)
    r = await engine.step(state, u("one two three four five six seven eight", account="12345678"))
    assert "account" not in state.slots and said(r).startswith("I heard {digits:12345678} again.")
    assert "You can also type it on your keypad" in said(r)
    assert any("heard again the digits the caller said were wrong" in d for d in r.decisions)
    r = await engine.step(state, u("the third digit is five", account="5"))  # a fix of it still works
    assert state.slots["account"] == "12545678" and r.state_name == "balance.account:confirm"
    r = await engine.step(state, u("no", yes_no=False))  # wrong again: both ruled out
    expect = next(a for a in r.actions if isinstance(a, Listen)).expect
    assert expect.hints.ruled_out == ("12345678", "12545678")
    r = await engine.step(state, u("one two three four five six seven nine", account="12345679"))
    assert state.slots["account"] == "12345679" and r.state_name == "balance.account:confirm"
    await engine.step(state, u("yes", yes_no=True))
    assert state.digits_ruled_out == ()  # the next step starts afresh


async def test_a_secret_said_to_be_wrong_and_heard_again_is_not_read_out(tmp_path):
    secret = bundle_of(BUNDLE.replace("        confirm: true\n", "        confirm: true\n        read_back: false\n", 1),
                       tmp_path, "secret")
    engine, state = await at_account(secret)
    await engine.step(state, u("one two three four five six seven eight", account="12345678"))
    await engine.step(state, u("no", yes_no=False))
    r = await engine.step(state, u("one two three four five six seven eight", account="12345678"))
    assert "account" not in state.slots and "12345678" not in said(r) and "digits:" not in said(r)
    assert said(r).startswith("Your account number?") and "just say that part" in said(r)


async def test_keys_the_caller_typed_are_taken_even_when_said_to_be_wrong_before(bundle):
    engine, state = await at_account(bundle)
    await engine.step(state, DigitsInput("12345678"))
    await engine.step(state, u("no", yes_no=False))
    r = await engine.step(state, DigitsInput("12345678"))
    assert state.slots["account"] == "12345678" and r.state_name == "balance.account:confirm"


async def test_a_fix_at_the_confirmation_is_confirmed_again(bundle):
    engine, state = await at_account(bundle)
    await engine.step(state, DigitsInput("12345678"))
    r = await engine.step(state, u("no, the last one is nine", account="19", yes_no=False))
    assert state.slots["account"] == "12345679" and r.state_name == "balance.account:confirm"
    assert "correction by a spoken fix: slot account '12345678' → '12345679'" in r.decisions


# The keypad offer and a collect_digits step ---------------------------------------------------------


async def test_the_keypad_is_offered_after_one_miss(bundle):
    engine, state = await at_account(bundle)
    r = await engine.step(state, u("I don't know"))
    assert said(r) == "Please say your eight digit account number. | You can also type it on your keypad."


async def test_collect_digits_checks_its_length_for_speech_too(bundle):
    engine, state = await started(bundle)
    await engine.step(state, DigitsInput("3"))
    r = await engine.step(state, u("four four two", digits="442"))
    assert "new_pin" not in state.slots and "{digits:442}" in said(r)
    r = await engine.step(state, DigitsInput("1"))
    assert "PIN {digits:4421} set." in said(r)


# Answers never thrown away --------------------------------------------------------------------------


async def test_a_value_for_the_flow_answers_the_intent_confirmation(bundle):
    engine, state = await started(bundle)
    r = await engine.step(state, u("money", "balance", 0.4))
    assert "Did you want to check your balance?" in said(r)
    r = await engine.step(state, u("one two three four five six seven eight", account="12345678"))
    assert "intent confirmation answered yes by giving account" in r.decisions
    assert "Balance of {digits:12345678}" in said(r)  # a value said with the request is not confirmed


async def test_a_yes_no_question_answered_with_the_next_value(bundle):
    engine, state = await started(bundle)
    await engine.step(state, u("lost card", "card", 0.9))
    r = await engine.step(state, u("it's four four two one", card_number="4421", digits="4421"))
    assert state.slots["have_card"] is True and state.slots["card_number"] == "4421"
    assert "Card {digits:4421} blocked." in said(r)


async def test_a_menu_option_said_by_its_key(bundle):
    engine, state = await started(bundle)
    assert listen(await engine.step(state, NoInput())).expect.hints.slot_type == MENU_CHOICE_TYPE
    r = await engine.step(state, u("to", **{MENU_CHOICE_TYPE: 2}))
    assert "Do you have the card number?" in said(r) and "'to' said 2 chose intent card" in r.decisions


async def test_a_number_after_an_out_of_scope_is_understood_not_handed_off(bundle):
    engine, state = await started(bundle)
    r = await engine.step(state, u("tell me a joke"))
    assert "out of scope 1/2" in r.decisions
    r = await engine.step(state, u("one two three four five six seven eight", account="12345678",
                                   digits="12345678"))
    assert not state.ended and "Did you want to check your balance?" in said(r)
    r = await engine.step(state, u("yes", yes_no=True))
    assert "Balance of {digits:12345678}" in said(r)


async def test_a_number_that_is_no_option_is_a_no_match_after_an_out_of_scope(bundle):
    engine, state = await started(bundle)
    await engine.step(state, u("tell me a joke"))
    r = await engine.step(state, u("seven", number=7))
    assert not state.ended and said(r).startswith("Say balance or lost card")


async def test_bye_at_the_survey_is_a_five(bundle):
    engine, state = await started(bundle)
    await engine.step(state, DigitsInput("1"))
    await engine.step(state, DigitsInput("12345678"))
    r = await engine.step(state, DigitsInput("1"))
    assert listen(r).expect.hints.slot_type == SURVEY_TYPE
    r = await engine.step(state, u("Bye.", "goodbye", 0.9, **{SURVEY_TYPE: 5}))
    assert state.slots["score"] == 5 and isinstance(r.actions[-1], EndCall)
    assert r.actions[-1].reason == "completed"


async def test_a_fix_that_changes_nothing_is_a_yes(bundle):
    engine, state = await at_account(bundle)
    await engine.step(state, DigitsInput("12345678"))
    r = await engine.step(state, u("yes, it ends in seven eight", account="78", yes_no=True))
    assert "Balance of {digits:12345678}" in said(r)


async def test_the_read_back_is_spoken_digit_by_digit_in_groups(bundle):
    from voicebot.speech.say_as import normalize

    engine, state = await at_account(bundle)
    r = await engine.step(state, u("one two three four, five six seven", account="1234567"))
    spoken = normalize(next(a.text for a in r.actions if isinstance(a, Say)))
    assert spoken == "I heard one two three, four five six seven. That's seven digits, and I need eight."


async def test_a_yes_no_list_is_heard_as_a_yes_no_question(tmp_path):
    path = tmp_path / "more.yaml"
    path.write_text("""\
slot_types:
  more:
    kind: list
    values: {"yes": ["yes", one more thing], "no": ["no", nothing else]}
flows:
  main:
    steps:
      - ask: more
        prompt: "Anything else?"
      - end: "Bye."
""")
    b, problems = load_bundle(path)
    assert b is not None, problems
    engine, state = await started(b)
    hints = state.last_listen.expect.hints
    assert hints.kind == "yes_no" and hints.slot_type == "more"


async def test_a_yes_with_the_next_value_keeps_it(bundle):
    engine, state = await started(bundle)
    await engine.step(state, u("lost card", "card", 0.9))
    r = await engine.step(state, u("yes, it's four four two one", yes_no=True, card_number="4421"))
    assert "Card {digits:4421} blocked." in said(r)


async def test_a_list_word_alone_is_no_yes(tmp_path):
    path = tmp_path / "ret.yaml"
    path.write_text("""\
slot_types:
  reason:
    kind: list
    values: {changed_mind: [changed my mind], too_small: [too small]}
flows:
  main:
    steps:
      - ask: go
        type: yes_no
        prompt: "Shall I start the return?"
      - ask: reason
        prompt: "Why?"
      - end: "Done."
""")
    b, problems = load_bundle(path)
    assert b is not None, problems
    engine, state = await started(b)
    r = await engine.step(state, u("I changed my mind", reason="changed_mind"))
    assert "go" not in state.slots and "reason" not in state.slots and "Shall I start the return?" in said(r)
    r = await engine.step(state, u("yes, it's too small", yes_no=True, reason="too_small"))
    assert state.slots == {"go": True, "reason": "too_small"} and "Done." in said(r)


async def test_a_short_number_said_with_the_request_is_read_back_at_once(bundle):
    engine, state = await started(bundle)
    r = await engine.step(state, u("my balance for 1234567", "balance", 0.9, digits="1234567"))
    assert said(r).startswith("I heard {digits:1234567}. That's 7 digits, and I need 8.")
    r = await engine.step(state, u("eight", account="8"))
    assert state.slots["account"] == "12345678"


async def test_a_fitting_number_with_the_request_is_not_read_back_at_the_next_question(bundle):
    engine, state = await started(bundle)
    r = await engine.step(state, u("my balance for 12345678", "balance", 0.9, digits="12345678",
                                   account="12345678"))
    assert "Balance of {digits:12345678}" in said(r) and "I heard" not in said(r)


async def test_a_number_of_another_length_with_the_request_is_not_read_back(bundle):
    engine, state = await started(bundle)
    r = await engine.step(state, u("my balance, card ending 4421", "balance", 0.9, digits="4421"))
    assert said(r) == "Your account number?"


async def test_words_not_heard_clearly_are_no_out_of_scope_request(bundle):
    engine, state = await started(bundle)
    await engine.step(state, u("tell me a joke"))
    garbled = Understanding("do do do", None, 0.1, transcript_confidence=0.3)
    r = await engine.step(state, garbled)
    assert not state.ended and said(r).startswith("Say balance or lost card")
    assert "no-match 1/2: nothing usable in the answer" in r.decisions


async def test_a_pin_is_not_read_out(tmp_path):
    path = tmp_path / "pin.yaml"
    path.write_text("""\
flows:
  main:
    steps:
      - collect_digits: pin
        prompt: "Your PIN?"
        min_digits: 4
        max_digits: 4
        read_back: false
      - end: "Done."
""")
    b, problems = load_bundle(path)
    assert b is not None, problems
    engine, state = await started(b)
    r = await engine.step(state, u("four five six", digits="456"))
    assert said(r).startswith("That's 3 digits, and I need 4.") and "456" not in said(r)
    r = await engine.step(state, DigitsInput("7"))
    assert state.slots["pin"] == "4567"


# Numbers keyed where one key is asked for (call/dtmf.py makes them one entry) ------------------------


async def test_a_number_keyed_at_the_intent_confirmation_is_a_yes_with_the_value(bundle):
    engine, state = await started(bundle)
    await engine.step(state, u("money", "balance", 0.4))
    r = await engine.step(state, DigitsInput("12345678", terminated=True))
    assert "intent confirmation answered yes by keying 8 digits" in r.decisions
    assert "Balance of {digits:12345678}" in said(r)


async def test_a_number_keyed_after_a_one_key_answer_drops_that_key_when_it_does_not_fit(bundle):
    """"1" for yes to the previous question, then the account typed at once and read at this question."""
    engine, state = await started(bundle)
    await engine.step(state, u("money", "balance", 0.4))
    r = await engine.step(state, DigitsInput("112345678"))
    assert "Balance of {digits:12345678}" in said(r)


async def test_a_number_keyed_at_the_menu_confirms_the_request_that_asks_for_it(bundle):
    engine, state = await started(bundle)
    r = await engine.step(state, DigitsInput("12345678", terminated=True))
    assert "Did you want to check your balance?" in said(r)
    r = await engine.step(state, DigitsInput("1"))
    assert "Balance of {digits:12345678}" in said(r)


async def test_a_number_keyed_at_a_yes_no_question_is_a_yes_with_the_next_value(bundle):
    engine, state = await started(bundle)
    await engine.step(state, u("lost card", "card", 0.9))
    r = await engine.step(state, DigitsInput("4421", terminated=True))
    assert state.slots["have_card"] is True and "Card {digits:4421} blocked." in said(r)


async def test_a_keyed_number_that_fills_nothing_is_still_a_no_match(bundle):
    engine, state = await started(bundle)
    await engine.step(state, u("money", "balance", 0.4))
    r = await engine.step(state, DigitsInput("123"))
    assert not state.ended and "is not 1 (yes) or 2 (no)" in " ".join(r.decisions)


async def test_a_doubtful_request_said_with_its_number_starts_its_flow(bundle):
    """"I want my balance for account 12345678" at 0.4: the number the flow asks for makes it that request."""
    engine, state = await started(bundle)
    r = await engine.step(state, u("balance for account one two three four five six seven eight", "balance", 0.4,
                                   account="12345678", digits="12345678"))
    assert "said with a number flow balance asks for" in " ".join(r.decisions)
    assert "Did you want" not in said(r) and state.slots["account"] == "12345678"


async def test_a_guess_far_from_every_example_starts_its_flow_only_when_the_number_names_it(bundle):
    """Words far from every example are no evidence: an account number only balance asks for still names the
    flow; four digits, which card and pin both take, name none, so the guess is confirmed (number kept)."""
    engine, state = await started(bundle)
    far = replace(u("the money thing one two three four five six seven eight", "balance", 0.35,
                    digits="12345678"), far_from_examples=True)
    r = await engine.step(state, far)
    assert "said with a number flow balance asks for" in " ".join(r.decisions)
    assert "Did you want" not in said(r)
    engine, state = await started(bundle)
    far = replace(u("the plastic thing four four two one", "card", 0.35, digits="4421"),
                  far_from_examples=True)
    r = await engine.step(state, far)
    assert "Did you want to" in said(r) and state.waiting.kind == "confirm_intent"
    r = await engine.step(state, u("yes", None, 0.0, yes_no=True))
    assert state.slots["card_number"] == "4421"  # the number said with the guess, kept
    r = await engine.step(state, u("yes", None, 0.0, yes_no=True))
    assert "Card {digits:4421} blocked." in said(r)


async def test_a_doubtful_request_with_a_short_number_is_confirmed(bundle):
    engine, state = await started(bundle)
    r = await engine.step(state, u("my balance 12", "balance", 0.4, digits="12"))
    assert "Did you want to check your balance?" in said(r)  # two digits are no account number
