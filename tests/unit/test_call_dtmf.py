import pytest

from voicebot.call.dtmf import DigitCollector, KeyedOn, without_answer_key
from voicebot.types import DigitsInput, Expectation


def test_menu_key_is_its_own_input_when_no_digits_expected():
    collector = DigitCollector(Expectation())
    assert collector.key("2", 1.0) == DigitsInput("2", terminated=False)
    assert collector.deadline is None


def test_terminator_completes_and_is_stripped():
    collector = DigitCollector(Expectation(max_digits=8, terminator="#", inter_digit_s=3.0))
    assert collector.key("1", 1.0) is None
    assert collector.key("2", 1.5) is None
    assert collector.deadline == 4.5
    assert collector.key("#", 2.0) == DigitsInput("12", terminated=True)
    assert collector.digits == ""


def test_max_digits_completes_without_terminator():
    collector = DigitCollector(Expectation(max_digits=4))
    results = [collector.key(d, float(i)) for i, d in enumerate("1234")]
    assert results[:3] == [None, None, None]
    assert results[3] == DigitsInput("1234", terminated=False)


def test_inter_digit_timeout_delivers_partial_entry_once():
    collector = DigitCollector(Expectation(max_digits=6))
    collector.key("9", 0.0)
    collector.key("8", 0.5)
    assert collector.timeout() == DigitsInput("98", terminated=False)
    assert collector.timeout() is None


def test_keys_pending_at_a_new_question_are_kept_and_read_under_it():
    """Keys typed while the bot was busy (e.g. re-processing a continued turn) belong to the next entry."""
    collector = DigitCollector(Expectation(max_digits=6))
    collector.key("5", 0.0)
    assert collector.reset(Expectation(max_digits=3, inter_digit_s=2.0)) == []
    assert collector.digits == "5" and collector.deadline == 2.0
    assert collector.key("1", 1.0) is None
    assert collector.key("2", 1.1) == DigitsInput("512")


def test_pending_keys_that_complete_the_new_question_are_returned_in_order():
    collector = DigitCollector(Expectation(max_digits=8))
    for i, digit in enumerate("4213"):
        collector.key(digit, i * 0.2)
    assert collector.reset(Expectation(max_digits=2)) == [DigitsInput("42"), DigitsInput("13")]
    assert collector.digits == ""
    assert collector.reset(Expectation()) == []  # nothing pending: nothing made up


def test_terminator_after_a_complete_entry_is_swallowed_even_after_reset():
    collector = DigitCollector(Expectation(max_digits=4, terminator="#", inter_digit_s=3.0))
    results = [collector.key(d, 1.0 + i * 0.25) for i, d in enumerate("4567")]
    assert results[-1] == DigitsInput("4567")
    collector.reset(Expectation())  # the next question is a menu: any key would be an answer
    assert collector.key("#", 2.2) is None
    assert collector.key("1", 2.5) == DigitsInput("1")


def test_late_terminator_long_after_is_a_key_again():
    collector = DigitCollector(Expectation(max_digits=2, inter_digit_s=1.0))
    collector.key("1", 0.0)
    assert collector.key("2", 0.1) == DigitsInput("12")
    collector.reset(Expectation())
    assert collector.key("#", 5.0) == DigitsInput("#")


ONE_KEY = Expectation(max_digits=1, terminator="")
ACCOUNT = Expectation(max_digits=8, min_digits=8)


def test_keys_typed_right_after_a_one_key_answer_are_one_entry_with_that_key():
    """"1" for yes, then the account number typed at once: one entry after the answer, not one input per
    key; the session gives the next question the keys after the "1" (``without_answer_key``)."""
    collector = DigitCollector(ONE_KEY)
    assert collector.key("1", 0.0) == DigitsInput("1")
    assert [collector.key(d, 0.2 + i * 0.1) for i, d in enumerate("123")] == [None, None, None]
    assert collector.deadline is None and collector.timeout() is None  # held until the next question
    assert collector.reset(ACCOUNT) == []
    assert [collector.key(d, 1.0) for d in "45678"] == [None] * 5
    assert collector.deadline == 2.0
    entry = collector.timeout()
    assert entry == KeyedOn("112345678")
    assert without_answer_key(entry, ACCOUNT) == DigitsInput("12345678")


def test_a_number_keyed_at_a_one_key_question_is_one_entry_with_its_first_key():
    """"9876543210#" keyed at "Did you want to track a parcel?": "9" is an input at once (no answer there),
    and the whole number follows as one entry, whatever the next question takes."""
    collector = DigitCollector(ONE_KEY)
    assert collector.key("9", 0.0) == DigitsInput("9")
    assert collector.reset(ONE_KEY) == []
    keys = [collector.key(d, 0.25 * (i + 1)) for i, d in enumerate("876543210#")]
    assert keys == [None] * 9 + [KeyedOn("9876543210", terminated=True)]
    assert collector.reset(ONE_KEY) == [] and collector.key("1", 5.0) == DigitsInput("1")  # an answer again


def test_keys_held_before_the_next_question_make_one_entry():
    collector = DigitCollector(ONE_KEY)
    assert collector.key("9", 0.0) == DigitsInput("9")
    assert [collector.key(d, 0.1 * (i + 1)) for i, d in enumerate("876#")] == [None] * 4
    assert collector.reset(ONE_KEY) == [KeyedOn("9876", terminated=True)]
    assert collector.digits == ""


def test_a_key_long_after_a_one_key_answer_is_its_own_answer():
    collector = DigitCollector(ONE_KEY)
    collector.key("1", 0.0)
    collector.reset(ONE_KEY)
    assert collector.key("2", 2.5) == DigitsInput("2")


@pytest.mark.parametrize(("entry", "expect", "rest"), [
    (KeyedOn("112345678"), ACCOUNT, "12345678"),  # yes, then the account
    (KeyedOn("12345678", True), ACCOUNT, "12345678"),  # one key short without the "1": it was the first digit
    (KeyedOn("187654321"), ACCOUNT, "87654321"),
    (KeyedOn("12"), ONE_KEY, "2"),
])
def test_the_next_question_gets_the_keys_after_the_answer_unless_only_all_fit(entry, expect, rest):
    assert without_answer_key(entry, expect) == DigitsInput(rest, entry.terminated)
