"""Slot extraction for every SlotTypeSpec kind (no model)."""

from __future__ import annotations

from datetime import date

import pytest

from voicebot.nlu.entities import SlotTypeSpec, extract

TODAY = date(2026, 11, 25)


def value(text: str, spec: SlotTypeSpec):
    entity = extract(text, spec, today=TODAY)
    return None if entity is None else entity.value


def test_entity_carries_the_slot_type_name_and_span() -> None:
    text = "my account number is four five six seven eight nine"
    entity = extract(text, SlotTypeSpec("account_number", "digits", min_length=6, max_length=6))
    assert entity is not None
    assert (entity.type, entity.value) == ("account_number", "456789")
    assert text[entity.start:entity.end] == entity.text == "four five six seven eight nine"


@pytest.mark.parametrize(("text", "expected"), [
    ("four five six seven", "4567"),
    ("it's 1234 5678", "12345678"),  # said in groups
    ("double seven three one", "7731"),
    ("one two", None),  # too short
    ("one two three four five six seven eight nine", None),  # too long
])
def test_digits_with_length_bounds(text: str, expected: str | None) -> None:
    spec = SlotTypeSpec("pin", "digits", min_length=4, max_length=8)
    assert value(text, spec) == expected


def test_number() -> None:
    spec = SlotTypeSpec("count", "number")
    assert value("I need twenty three of them", spec) == 23
    assert value("one hundred and five", spec) == 105
    assert value("none at all", spec) is None


def test_money_is_a_two_decimal_string() -> None:
    spec = SlotTypeSpec("amount", "money")
    assert value("transfer fifty dollars please", spec) == "50.00"
    assert value("$12.5", spec) == "12.50"
    assert value("fifty bucks", spec) == "50.00"


def test_date_is_iso() -> None:
    spec = SlotTypeSpec("delivery_date", "date")
    assert value("the twenty third of March", spec) == "2027-03-23"
    assert value("tomorrow please", spec) == "2026-11-26"
    assert value("whenever", spec) is None


def test_time_is_hh_mm() -> None:
    spec = SlotTypeSpec("slot_time", "time")
    assert value("half past two", spec) == "14:30"
    assert value("at 9:15 am", spec) == "09:15"


def test_phone() -> None:
    spec = SlotTypeSpec("callback", "phone", min_length=10)
    assert value("call me on five five five one two three four five six seven", spec) == "5551234567"
    assert value("five five five one two three four", spec) is None  # 7 digits < min_length


def test_email() -> None:
    spec = SlotTypeSpec("email", "email")
    assert value("it's john dot smith at example dot com", spec) == "john.smith@example.com"


@pytest.mark.parametrize(("text", "expected"), [
    ("yeah", True), ("yep that's right", True), ("nope", False), ("no it isn't", False), ("maybe", None),
])
def test_yes_no(text: str, expected: bool | None) -> None:
    assert value(text, SlotTypeSpec("confirm", "yes_no")) is expected


def test_regex_on_written_and_spoken_codes() -> None:
    spec = SlotTypeSpec("order_id", "regex", pattern=r"\b[A-Z]{2}\d{3}\b")
    assert value("my order is AB123", spec) == "AB123"
    assert value("A B one two three", spec) == "AB123"
    assert value("x y double four five", spec) == "XY445"
    assert value("I don't know it", spec) is None


@pytest.mark.parametrize(("text", "part"), [
    ("around three o'clock", "afternoon"), ("any time before twelve", "morning"),
    ("after 5 please", "evening"), ("between two and four", "afternoon"), ("9 am", "morning")])
def test_a_time_said_is_the_part_of_the_day_it_falls_in_where_the_list_is_asked(text: str, part: str) -> None:
    spec = SlotTypeSpec("window", "list",
                        values={"morning": ("early",), "afternoon": (), "evening": ("late",)})
    assert extract(text, spec, today=TODAY, expected=True).value == part
    assert extract(text, spec, today=TODAY) is None  # not taken ahead of the question


def test_list_maps_synonyms_to_the_canonical_value() -> None:
    spec = SlotTypeSpec("account_type", "list",
                        values={"checking": ("current", "current account", "everyday"), "savings": ("saving",)})
    assert value("from my current account", spec) == "checking"
    assert value("the savings one", spec) == "savings"
    assert value("my Checking", spec) == "checking"
    assert value("the business account", spec) is None


def test_list_prefers_the_longest_phrase() -> None:
    spec = SlotTypeSpec("card", "list", values={"credit": ("card",), "credit_gold": ("gold card",)})
    assert value("my gold card", spec) == "credit_gold"


WINDOW = SlotTypeSpec("window", "list", values={"morning": ("in the morning",), "afternoon": ("after lunch",),
                                                 "changed_mind": ("changed my mind", "don't want it")})


@pytest.mark.parametrize(("heard", "canonical"), [
    ("And after noon, please.", "afternoon"),  # word boundaries moved
    ("The dont want it, please.", "changed_mind"),  # the apostrophe lost
    ("Change my mind.", "changed_mind"),  # one letter off a long value
    ("in the mourning", "morning"),
])
def test_a_list_value_heard_apart_is_taken_where_the_list_is_asked(heard: str, canonical: str) -> None:
    assert value(heard, WINDOW) is None  # not as an unasked entity
    entity = extract(heard, WINDOW, expected=True)
    assert entity is not None and entity.value == canonical and entity.confidence < 1.0


def test_a_short_list_value_is_not_taken_one_letter_off_inside_a_sentence() -> None:
    spec = SlotTypeSpec("area", "list", values={"parks": ("park",), "roads": ("pothole",)})
    assert extract("there are marks on the wall", spec, expected=True) is None
    assert extract("par ks", spec, expected=True).value == "parks"  # type: ignore[union-attr]


CARD = SlotTypeSpec("card_kind", "list", values={"debit": ("debit card", "bank card"), "credit": ("credit card",),
                                                  "all": ("both", "all", "both of them")})


@pytest.mark.parametrize(("heard", "canonical"), [
    ("Debbie.", "debit"), ("Boat.", "all"), ("Credits.", "credit"), ("Debby card.", "debit"),
    ("Yes.", None), ("Pardon?", None), ("I'm not sure which.", None),
])
def test_a_short_answer_sounding_like_one_value_is_taken_where_the_list_is_asked(heard: str,
                                                                                  canonical: str | None) -> None:
    assert value(heard, CARD) is None  # not as an unasked entity
    entity = extract(heard, CARD, expected=True)
    assert (entity.value if entity else None) == canonical
    assert entity is None or entity.confidence < 1.0


def test_a_short_answer_as_near_two_values_is_not_taken() -> None:
    spec = SlotTypeSpec("window", "list", values={"morning": (), "evening": ()})
    assert extract("Moaning.", spec, expected=True).value == "morning"  # type: ignore[union-attr]
    assert extract("Mening.", spec, expected=True) is None  # as near "morning" as "evening"


def test_text_takes_the_whole_utterance() -> None:
    assert value("  my parcel was left in the rain ", SlotTypeSpec("description", "text")) == \
        "my parcel was left in the rain"
    assert value("   ", SlotTypeSpec("description", "text")) is None


def test_digits_written_as_a_grouped_number_by_asr():
    from voicebot.nlu.entities import SlotTypeSpec, extract

    spec = SlotTypeSpec(name="account_number", kind="digits", min_length=8, max_length=8)
    assert extract("12,345,678", spec).value == "12345678"
    assert extract("my account is 12,345,678.", spec).value == "12345678"


RATING = SlotTypeSpec("rating", "number", min_length=1, max_length=5)
CHOICE = SlotTypeSpec("menu_choice", "number", max_length=9)


@pytest.mark.parametrize(("text", "spec", "expected"), [
    ("Free.", RATING, 3), ("for.", RATING, 4), ("Bye.", RATING, 5), ("four", RATING, 4),
    ("to", CHOICE, 2), ("ate", CHOICE, 8), ("Bye.", CHOICE, None),
    ("I need it for my son", CHOICE, None),
])
def test_short_answers_when_a_small_number_is_expected(text: str, spec: SlotTypeSpec, expected) -> None:
    entity = extract(text, spec, expected=True)
    assert (entity.value if entity else None) == expected


def test_homophones_only_when_expected() -> None:
    assert extract("for.", RATING) is None and extract("Bye.", RATING) is None


def test_wrong_length_digits_only_when_expected() -> None:
    spec = SlotTypeSpec("tracking", "digits", min_length=10, max_length=10)
    assert extract("one two three four, five six seven", spec) is None
    entity = extract("one two three four, five six seven", spec, expected=True)
    assert entity is not None and entity.value == "1234567" and entity.confidence < 1


def test_a_yes_no_list_takes_every_yes_and_no() -> None:
    more = SlotTypeSpec("more", "list", values={"yes": ("yes", "one more thing"), "no": ("no", "nothing")})
    assert value("nah, that's everything", more) == "no"
    assert value("not right now, I'll think about it", more) == "no"
    assert value("yeah go on", more) == "yes"


def test_i_dont_have_one_is_no_digit_heard() -> None:
    spec = SlotTypeSpec("pin", "digits", min_length=4, max_length=4)
    assert extract("I don't have one", spec, expected=True) is None
    assert extract("one.", spec, expected=True).value == "1"


def test_a_digit_string_is_no_choice() -> None:
    assert extract("one two three four five six seven", CHOICE, expected=True) is None
    assert extract("it was great, five", RATING, expected=True).value == 5


@pytest.mark.parametrize(("text", "chosen"), [
    ("Two won the game last night.", None),  # "who won …" misheard: a number in a sentence is no menu key
    ("option two please", 2), ("I think three", 3), ("I'd give it a four", 4), ("Five, it was great.", 5),
    ("press 2 please", 2), ("I'll go with three", 3),
])
def test_a_number_inside_a_sentence_is_a_choice_only_when_said_as_one(text, chosen) -> None:
    entity = extract(text, CHOICE, expected=True)
    assert (entity.value if entity else None) == chosen


@pytest.mark.parametrize(("text", "rating"), [
    ("One that was useless.", 1), ("Five it was great", 5), ("Three because it took so long", 3),
    ("one more thing", None), ("one moment please", None), ("Two won the game last night.", None),
])
def test_a_rating_said_first_then_a_comment_without_its_comma(text, rating) -> None:
    entity = extract(text, RATING, expected=True)
    assert (entity.value if entity else None) == rating
    assert extract(text, CHOICE, expected=True) is None  # a menu key inside a sentence needs its comma


@pytest.mark.parametrize(("text", "value"), [
    ("I'm calling about order to 345678.", "2345678"),  # "two three four…": the "two" written as a word
    ("the order number is won 234567", "1234567"),
])
def test_a_digit_written_as_a_homophone_completes_a_number_one_short(text, value):
    assert extract(text, SlotTypeSpec("order", "digits", 7, 7)).value == value


def test_a_digit_written_as_a_homophone_between_groups_completes_a_number_one_short():
    parcel = SlotTypeSpec("parcel", "digits", 10, 10)
    said = "I want to book a redelivery for track number 9876543 to 1,0."  # "… three two one zero"
    assert extract(said, parcel).value == "9876543210"
    assert extract("it's 12345 for 6789", parcel).value == "1234546789"
    assert extract("from 12345 to 67890", parcel).value == "1234567890"  # ten already: "to" is a word
    assert extract("between 1234 and 5678", parcel, expected=True).value == "12345678"  # no homophone: as heard


@pytest.mark.parametrize(("said", "value"), [
    ("4 4 not 9 1 2 3 8 7 6", "4409123876"),  # "nought" as whisper writes it, where a digit is missing
    ("My account number is three not five eight one not nine two seven four.", "3058109274"),  # twice
    ("No, not one, two, three, four, five, six, seven, eight, nine.", "0123456789"),  # first
    ("0.123456789.", "0123456789"),  # the string written as a decimal
    ("Double, 0.71529384", "0071529384"),
    ("I'm two five not one nine three three eight six not.", "2501933860"),  # and after the last digit
])
def test_nought_heard_as_not_and_a_string_written_as_a_decimal_complete_a_number(said, value):
    assert extract(said, SlotTypeSpec("parcel", "digits", 10, 10)).value == value


def test_not_and_a_decimal_point_are_read_as_said_when_the_number_fits_or_stays_short():
    parcel = SlotTypeSpec("parcel", "digits", 10, 10)
    assert extract("1234567890 not 5", parcel).value == "1234567890"  # ten already
    assert extract("12345 not 678", parcel) is None  # still short with it: nothing made up
    assert extract("it costs 3.50", parcel) is None
    assert extract("9 8 7 6 5, note 4 3 2 1", parcel, expected=True).value == "9876504321"


def test_a_homophone_is_no_digit_when_the_number_fits_without_it():
    assert extract("I want to 2345678", SlotTypeSpec("order", "digits", 7, 7)).value == "2345678"
    assert extract("go to 34567", SlotTypeSpec("order", "digits", 7, 7)) is None  # still short: nothing made up
    assert extract("track 555512345 for me", SlotTypeSpec("parcel", "digits", 10, 10)) is None  # "for": no 4
    assert extract("a refund for 345678", SlotTypeSpec("order", "digits", 7, 7)) is None
