"""Free-text PII (nlu/pii.py): the detectors, the Luhn check, spoken and keyed forms, what must stay in clear,
and the places it is applied (the session's redactor, log lines)."""

from __future__ import annotations

import json

import pytest
import structlog

from voicebot.config import PiiSettings
from voicebot.dialog.sensitive import Redactor
from voicebot.logs import configure_logging, mask_logged_text
from voicebot.nlu.pii import PiiKind, PiiMasker, PiiRules, luhn_ok, mask_label, masker_for

MASKER = PiiMasker()


def kinds(text: str) -> list[str]:
    return [span.kind.value for span in MASKER.find(text)]


@pytest.mark.parametrize(("digits", "ok"), [("4111111111111111", True), ("4111111111111112", False),
                                            ("378282246310005", True), ("6011000990139424", True),
                                            ("79927398713", True), ("79927398710", False)])
def test_luhn(digits: str, ok: bool) -> None:
    assert luhn_ok(digits) is ok


@pytest.mark.parametrize("said", [
    "4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111",
    "four one one one one one one one one one one one one one one one",
    "four one one one, one one one one, one one one one, one one one one",
    "four triple one, one one one one, 1111 1111",
])
def test_a_card_number_spoken_or_keyed_is_masked_but_its_last_four(said: str) -> None:
    masked = MASKER.mask(f"my card is {said} thanks")
    assert masked == "my card is [card ****1111] thanks"


def test_a_long_run_failing_luhn_is_not_a_card_but_still_masked_as_an_account() -> None:
    assert kinds("the number is 4111 1111 1111 1112") == ["account"]


@pytest.mark.parametrize(("text", "kind"), [
    ("my account number is 12345678", "account"), ("account five one six two one oh eight nine", "account"),
    ("my pin is 4321", "pin"), ("pin number four three two one", "pin"), ("9 9 0 1 is my PIN", "pin"),
    ("call me on oh seven seven double oh nine one one two three four", "phone"),
    ("you can reach me at (415) 555-2671", "phone"), ("my number is +44 20 7946 0958", "phone"),
    ("it's 212 555 0143", "phone"),
    ("it is john dot smith at gmail dot com thanks", "email"), ("email me at j.smith@example.org", "email"),
    ("my email is john.spithetgmail.com", "email"),
    ("my date of birth is the fifth of may nineteen eighty", "dob"), ("born 12/03/1985", "dob"),
    ("my ssn is 123-45-6789", "national_id"),
    ("social security number one two three four five six seven eight nine", "national_id"),
    ("my national insurance number is QQ 12 34 56 C", "national_id"),
])
def test_each_kind_in_context(text: str, kind: str) -> None:
    assert kinds(text) == [kind]


@pytest.mark.parametrize("text", [
    "I'd like four or five days to think about it", "it cost $1,250.00 last month", "can you come at 3:30",
    "I ordered 12 boxes", "my order number is 88812345", "the tracking number is 1Z999AA10123456784",
    "it was twenty twenty four", "deliver it on the fifth of may", "twelve thousand three hundred dollars",
    "order 4412 has not arrived", "my balance should be 4,382.17", "call me tomorrow at 9", "1 2 3 4 5",
    "I'm calling about ticket 100234", "seven thirty in the morning", "",
])
def test_numbers_that_are_not_personal_data_stay_in_clear(text: str) -> None:
    assert MASKER.mask(text) == text


def test_several_spans_in_one_line_and_masking_twice_changes_nothing() -> None:
    text = "card 4111 1111 1111 1111, mail tom dot baker at gmail dot com, phone 415-555-0132"
    once = MASKER.mask(text)
    assert once == "card [card ****1111], mail [email], phone [phone]"
    assert MASKER.mask(once) == once


def test_a_half_heard_address_is_masked_whole_and_a_website_is_not() -> None:
    assert MASKER.mask("My email is maria.garcia at yahoo.co.uk.") == "My email is [email]."
    # an address the recogniser glued together, at the end of a sentence (it was kept in clear)
    assert MASKER.mask("and my email is john.smithicgmail.com.") == "and my email is [email]."
    assert MASKER.mask("you can find it on www.example.com") == "you can find it on www.example.com"
    # "at" glued to the name and the domain apart: the name part goes with it (it stayed in clear)
    assert MASKER.mask("Hi, my email is john.smitha example.com.") == "Hi, my email is [email]."
    assert MASKER.mask("my email is john smith example.com") == "my email is [email]"
    assert MASKER.mask("I sent an email to support.com yesterday") == "I sent an email to [email] yesterday"


def test_a_spoken_address_whose_at_was_lost_is_masked_without_an_email_word() -> None:
    # heard in a CI call for "my email is john dot smith at gmail dot com": "email" as "name", "at" glued on
    assert MASKER.mask("Hi, my name is john dot smitha gmail dot com.") == "Hi, my name is [email]."
    assert MASKER.mask("it is john smith gmail dot com") == "it is [email]"
    assert MASKER.mask("write to jsmith hotmail dot co dot uk please") == "write to [email] please"
    assert MASKER.mask("my email is mary underscore jones yahoo dot com") == "my email is [email]"
    for text in ("I use gmail dot com", "I bought it on amazon dot com", "check www dot bbc dot co dot uk",
                 "the file is report dot final version dot pdf"):
        assert MASKER.mask(text) == text


def test_a_spoken_address_as_the_recogniser_punctuates_and_splits_it_is_masked_with_its_name() -> None:
    assert MASKER.mask("Hi, my email is John. Smith at Gmail. com.") == "Hi, my email is [email]."
    assert MASKER.mask("my email is john dot smith at g mail dot com") == "my email is [email]"
    assert MASKER.mask("Hi, my email is john smith at gmail dot com.") == "Hi, my email is [email]."


def test_a_spoken_address_before_a_written_one_and_at_a_sentence_end() -> None:
    text = "heard 'my email is john.smith at gmail.com.': entities email='john.smith@gmail.com'"
    assert MASKER.mask(text) == "heard 'my email is [email].': entities email='[email]'"


def test_a_spoken_time_inside_a_longer_run_does_not_hide_it() -> None:
    """ "eight oh two" reads as 8:02, but inside eight digits it is part of an account number."""
    assert kinds("the account is three nine eight oh two one nine four") == ["account"]


def test_configured_kinds_and_national_id_patterns() -> None:
    only_email = PiiMasker(PiiRules(kinds=frozenset({PiiKind.EMAIL})))
    assert only_email.mask("4111 1111 1111 1111 or a@b.com") == "4111 1111 1111 1111 or [email]"
    custom = PiiMasker(PiiRules(national_id_patterns=(r"\b\d{3}\.\d{3}\.\d{3}-\d{2}\b",)))  # a Brazilian CPF
    assert custom.mask("CPF 123.456.789-09") == "CPF [national id]"
    assert masker_for(PiiSettings(mask=False)) is None
    assert masker_for(PiiSettings(kinds=["pin"])).rules.kinds == frozenset({PiiKind.PIN})


def test_labels() -> None:
    [span] = MASKER.find("5555 5555 5555 4444")
    assert mask_label(span) == "[card ****4444]" and span.value == "5555555555554444"


def test_the_redactor_masks_slots_first_then_free_text() -> None:
    redactor = Redactor({"account_number": 4}, MASKER.mask)
    redactor.learn({"account_number": "12345678"})
    assert redactor.text("That's 12345678, and your card 4111111111111111?") == \
        "That's ****5678, and your card [card ****1111]?"
    assert redactor.slots({"account_number": "12345678", "email": "x.y@example.com", "count": 3}) == \
        {"account_number": "****5678", "email": "[email]", "count": 3}
    assert Redactor({}).text("4111111111111111") == "4111111111111111"  # without a masker: slots only
    # numbers the NLU read as numbers are masked too (a card read as an int), small ones and flags are not
    assert redactor.data({"number": 4111111111111111, "count": 12, "ok": True}) == \
        {"number": "[card ****1111]", "count": 12, "ok": True}


def test_log_lines_are_masked_but_ids_are_not(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    mask_logged_text(MASKER.mask)
    try:
        structlog.get_logger("t").info("caller said", text="my card is 4111 1111 1111 1111",
                                       call_id="12345678-1234-1234-1234-123456789012")
        line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    finally:
        configure_logging("INFO")
    assert line["text"] == "my card is [card ****1111]"
    assert line["call_id"] == "12345678-1234-1234-1234-123456789012"


def test_fragments_of_a_masked_number_are_hidden_in_the_rest_of_the_turn() -> None:
    """The NLU reads entities from the caller's words and the decision quotes them: what masking took out of the
    words must not stand in them ("55555" of a spoken card number), while other numbers of the turn stay."""
    redactor = Redactor({}, MASKER.mask)
    said = "the number was 5555 5555 5555 4444 and I need 2 new cards"
    assert "5555" not in redactor.text(said)
    scrub = redactor.fragments_of(said)
    assert scrub({"number": 555, "digits": "55555", "count": 2, "intent": "card_lost"}) == \
        {"number": "****", "digits": "****", "count": 2, "intent": "card_lost"}
    assert scrub("entities number=555, digits='55555', count=2") == "entities number=****, digits='****', count=2"
    plain = redactor.fragments_of("I need 2 new cards for 300 dollars")  # nothing masked: nothing hidden
    assert plain({"number": 300}) == {"number": 300}
