"""Digit strings the ways callers say them, and the ways whisper writes them (no model)."""

from __future__ import annotations

import pytest

from voicebot.nlu.entities import SlotTypeSpec, extract
from voicebot.nlu.normalize import find_digit_runs


@pytest.mark.parametrize(("text", "digits"), [
    # as said
    ("double four", "44"),
    ("triple oh", "000"),
    ("seven seven three three double four", "773344"),
    ("four oh seven", "407"),
    ("oh four five", "045"),
    ("forty-two seventeen ninety-eight oh six", "42179806"),  # pairs
    ("forty two seventeen ninety eight oh six", "42179806"),
    ("nine hundred", "900"),
    ("three three nine, five hundred, one one one, oh", "3395001110"),
    ("the number's nine eight seven, six five four, three two one", "987654321"),
    ("three one four, one five nine, two six", "31415926"),
    ("zero zero zero, uh, three six six, nine eight eight one", "0003669881"),  # a hesitation
    ("two three, um, three three", "2333"),
    ("yeah, my account number is eight five nine one, four, thanks", "85914"),
    # as whisper writes them
    ("42-17", "4217"),
    ("4,217", "4217"),
    ("9.0 9.0", "9090"),
    ("9.0.9.0", "9090"),
    ("99555.4.4", "9955544"),
    ("Double 710392.", "7710392"),
    ("2,000615399.", "2000615399"),
    ("4217 9806", "42179806"),
    ("Sure, it's 9, 9, 9, 9, 2, 3, 3, 2, 8.", "999923328"),
    ("One, four, one, four, double, five, double, two, double, six", "1414552266"),
    ("Oh, oh, 7, 7, 7, 7, 9, 9", "00777799"),
    ("Double six, two, five, six, double nine, zero.", "66256990"),
])
def test_a_digit_string_is_one_run(text, digits):
    assert [m.value for m in find_digit_runs(text)] == [digits]


@pytest.mark.parametrize("text", ["Oh, oh, oh, oh.", "Oh.", "Oh, oh", "I don't have one, uh, sorry"])
def test_lone_ohs_and_pronouns_are_no_digit_string(text):
    assert all(len(m.value) < 2 for m in find_digit_runs(text))


def test_the_expected_length_picks_the_groups_joined():
    spec = SlotTypeSpec("account_number", "digits", min_length=10, max_length=10)
    entity = extract("it's forty-two seventeen, ninety-eight oh six, double one", spec)
    assert entity is not None and entity.value == "4217980611"
