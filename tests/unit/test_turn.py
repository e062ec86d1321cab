import pytest

from voicebot.speech.turn import EndOfTurnPolicy, looks_complete
from voicebot.types import Expectation, RecognitionHints

DIGITS = Expectation(hints=RecognitionHints(slot_type="digits"))
DIGITS_8 = Expectation(hints=RecognitionHints(slot_type="digits"), min_digits=8, max_digits=8)
MENU = Expectation(hints=RecognitionHints(phrases=("credit card balance", "billing")))


@pytest.mark.parametrize("text, expectation, complete", [
    ("", Expectation(), False),
    ("Uh", Expectation(), False),
    ("I want to pay my bill.", Expectation(), True),
    ("I want to pay my bill and", Expectation(), False),
    ("My number is", Expectation(), False),
    ("My number is...", Expectation(), False),
    ("So,", Expectation(), False),
    ("Yes.", Expectation(hints=RecognitionHints(slot_type="yes_no")), True),
    ("It's 4 7 1 9", DIGITS_8, False),
    ("It's 4 7 1 9 0 2 3 5", DIGITS_8, True),
    ("four seven one nine zero two three five", DIGITS_8, True),
    ("yes please", DIGITS_8, True),  # not digits at all: another kind of answer, taken at once
    ("I don't know.", DIGITS_8, True),
    ("I don't have one.", DIGITS_8, True),  # "one" the pronoun, not a digit
    ("It's 1", DIGITS_8, False),
    ("My account number is", DIGITS_8, False),
    ("four seven", DIGITS, False),  # length unknown, ends in a digit: maybe reading in groups
    ("four seven, that's it", DIGITS, True),
    ("my credit", MENU, False),
    ("credit card balance", MENU, True),
    ("billing", MENU, True),
    ("something else entirely", MENU, True),
    # a description: a first clause that looks finished is no whole answer
    ("This is ridiculous.", Expectation(hints=RecognitionHints(slot_type="complaint_details", kind="text")), False),
])
def test_looks_complete(text, expectation, complete):
    assert looks_complete(text, expectation) is complete


def test_policy_waits_long_until_the_speculative_text_looks_complete():
    policy = EndOfTurnPolicy(min_s=0.3, max_s=1.1)
    assert policy.silence_needed(None) == 1.1
    assert policy.silence_needed("I'd like my balance") == 0.3
    assert policy.silence_needed("I'd like my balance and") == 1.1
    assert policy.silence_needed("4 7", DIGITS_8) == 1.1


REPAIR = Expectation(hints=RecognitionHints(slot_type="digits"), min_digits=1, max_digits=8)  # length not pinned
CONFIRMING_10 = Expectation(RecognitionHints(("yes", "no"), "yes_no", digit_count=(10, 10)), max_digits=1)
ONE_KEY = Expectation(hints=RecognitionHints(slot_type="digits"), min_digits=1, max_digits=1)


@pytest.mark.parametrize("text, expectation, complete", [
    ("three one four, one five nine, two six", DIGITS_8, True),
    ("three one four,", DIGITS_8, False),
    ("3 1 4 1 5 9", DIGITS_8, False),
    ("the number's nine eight seven, six five four, three two one", Expectation(
        hints=RecognitionHints(slot_type="digits"), min_digits=9, max_digits=9), True),
    ("forty-two seventeen ninety-eight oh six", DIGITS_8, True),  # pairs count as their digits
    ("double four seven seven", DIGITS_8, False),
    ("3 1 4", REPAIR, False),  # no pinned length: a group may follow
    ("3 1 4, that's it", REPAIR, True),
    ("I don't have one", REPAIR, True),
    ("no, I don't know it", DIGITS_8, True),
    ("7", ONE_KEY, True),
    ("No, it's 1 9 3,", CONFIRMING_10, False),  # the number said again at its confirmation, in groups
    ("No, it's 1 9 3 0 4 7 5 5 2 8", CONFIRMING_10, True),
    ("No.", CONFIRMING_10, True), ("Yes, that's right.", CONFIRMING_10, True),
])
def test_digit_strings_said_in_groups(text, expectation, complete):
    assert looks_complete(text, expectation) is complete


def test_a_pause_inside_a_digit_string_may_wait_longer_than_max_s():
    policy = EndOfTurnPolicy(min_s=0.3, max_s=1.2, digit_pause_s=2.0)
    assert policy.silence_needed("3 1 4,", DIGITS_8) == 2.0  # 3 of 8 digits: the caller is between groups
    assert policy.silence_needed("3 1 4 1 5 9 2 6", DIGITS_8) == 0.3
    assert policy.silence_needed("I don't have one.", DIGITS_8) == 0.3  # no digits: ends after the short silence
    assert policy.silence_needed("I want to speak to", DIGITS_8) == 1.2
    assert policy.silence_needed("3 1 4", REPAIR) == 1.2
