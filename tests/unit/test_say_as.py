"""Say-as: the spoken forms of numbers, money, dates, times, ids and tags."""

from __future__ import annotations

import pytest

from voicebot.speech.say_as import (
    check_tags,
    english_cardinal,
    english_ordinal,
    english_year,
    normalize,
    read_money,
    read_time,
    split_sentences,
)


@pytest.mark.parametrize(("n", "words"), [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (20, "twenty"), (45, "forty-five"), (100, "one hundred"),
    (101, "one hundred one"), (1250, "one thousand two hundred fifty"), (1_000_000, "one million"),
    (2_000_017, "two million seventeen"), (-5, "minus five"),
    (999_999_999,
     "nine hundred ninety-nine million nine hundred ninety-nine thousand nine hundred ninety-nine"),
])
def test_cardinal(n: int, words: str) -> None:
    assert english_cardinal(n) == words


@pytest.mark.parametrize(("n", "words"), [
    (1, "first"), (2, "second"), (3, "third"), (4, "fourth"), (5, "fifth"), (8, "eighth"), (9, "ninth"),
    (12, "twelfth"), (20, "twentieth"), (21, "twenty-first"), (23, "twenty-third"), (100, "one hundredth"),
    (101, "one hundred first"),
])
def test_ordinal(n: int, words: str) -> None:
    assert english_ordinal(n) == words


@pytest.mark.parametrize(("n", "words"), [
    (2026, "twenty twenty-six"), (1999, "nineteen ninety-nine"), (1905, "nineteen oh five"),
    (2000, "two thousand"), (2005, "two thousand five"), (2010, "twenty ten"), (1900, "nineteen hundred"),
])
def test_year(n: int, words: str) -> None:
    assert english_year(n) == words


@pytest.mark.parametrize(("text", "spoken"), [
    # numbers
    ("1,250", "one thousand two hundred fifty"),
    ("1,000,000", "one million"),
    ("3.5", "three point five"),
    ("0.25", "zero point two five"),
    ("I have 3 cats", "I have three cats"),
    ("It is -4 outside", "It is minus four outside"),
    ("Press 1 for sales, 2 for support.", "Press one for sales, two for support."),
    ("We are open 9-5", "We are open nine to five"),
    # money
    ("$1,250.50", "one thousand two hundred fifty dollars and fifty cents"),
    ("Your balance is $1,250.50.", "Your balance is one thousand two hundred fifty dollars and fifty cents."),
    ("$1", "one dollar"),
    ("$0.50", "fifty cents"),
    ("$1.01", "one dollar and one cent"),
    ("$5.00", "five dollars"),
    ("£3.20", "three pounds and twenty pence"),
    ("€12.50", "twelve euros and fifty cents"),
    ("40 EUR", "forty euros"),
    ("$5 million", "five million dollars"),
    ("$1.5 million", "one point five million dollars"),
    # dates
    ("2026-03-23", "March twenty-third, twenty twenty-six"),
    ("due on 2026-03-01.", "due on March first, twenty twenty-six."),
    ("March 23", "March twenty-third"),
    ("March 23, 2026", "March twenty-third, twenty twenty-six"),
    ("Mar 3rd", "March third"),
    ("23 March 2026", "March twenty-third, twenty twenty-six"),
    ("23rd of March", "March twenty-third"),
    ("3/23/2026", "March twenty-third, twenty twenty-six"),
    ("23/03/2026", "March twenty-third, twenty twenty-six"),  # day > 12 decides the order
    ("04/05/2026", "April fifth, twenty twenty-six"),  # ambiguous: English reads month first
    # times
    ("14:30", "two thirty p m"),
    ("9:05", "nine oh five eh em"),
    ("9am", "nine eh em"),
    ("9:05 p.m.", "nine oh five p m."),  # the full stop also ended the text
    ("at 5 PM", "at five p m"),
    ("12:00", "twelve noon"),
    ("0:00", "twelve midnight"),
    ("Open until 5 p.m. Thank you.", "Open until five p m. Thank you."),
    ("at 5 p.m. on Monday", "at five p m on Monday"),
    # ordinals and percentages
    ("the 1st and 22nd", "the first and twenty-second"),
    ("12.5%", "twelve point five percent"),
    ("100%", "one hundred percent"),
    # phone numbers, ids, cards
    ("call 1-800-555-0199", "call one, eight oh oh, five five five, oh one nine nine"),
    ("+1 (555) 123-4567", "plus one, five five five, one two three, four five six seven"),
    ("Call us at 555-123-4567.", "Call us at five five five, one two three, four five six seven."),
    ("+44 20 7946 0958", "plus four four, two oh, seven nine four six, oh nine five eight"),
    ("order A1B-2045", "order eh one B, two oh four five"),
    ("AB12", "eh B one two"),
    ("ref O0O1", "ref O zero O one"),  # the letter O is about: zero is "zero", not "oh"
    ("MP3 and 4G", "M P three and four G"),
    ("card ****1234", "card ending in one two three four"),
    ("card ending in 4321", "card ending in four three two one"),
    ("your account number is 12345678", "your account number is one two three, four five six, seven eight"),
    ("PIN: 0420", "PIN oh four two oh"),
    ("order #12345", "order number one two three, four five"),
    ("ticket 40567", "ticket four oh five, six seven"),
    ("zip code 02134", "zip code oh two one, three four"),
    ("reference 1234567", "reference one two three, four five six seven"),
    ("Quote 55501 please", "Quote five five five, oh one please"),
    ("You have 10000 points", "You have ten thousand points"),
    # years
    ("in 1999 and since 2026", "in nineteen ninety-nine and since twenty twenty-six"),
    ("2005", "two thousand five"),
    ("back in the 1990s and the 80s", "back in the nineteen nineties and the eighties"),
    # words
    ("Mr. Smith & Dr. Who", "Mister Smith and Doctor Who"),
    ("apples, pears, etc. Thanks", "apples, pears, et cetera. Thanks"),
    ("help@bank.com", "help at bank dot com"),
    ("24/7", "twenty-four seven"),
    ("Hello, how can I help?", "Hello, how can I help?"),
    ("", ""),
])
def test_normalize(text: str, spoken: str) -> None:
    assert normalize(text) == spoken


@pytest.mark.parametrize(("text", "spoken"), [
    ("{digits:12345}", "one two three, four five"),
    ("{digits:555 0199}", "five five five, oh one nine nine"),
    ("{digits:1234}", "one two three four"),
    ("{spell:AB12}", "eh B one two"),
    ("{spell:A1B-2045}", "eh one B, two oh four five"),
    ("{number:1250}", "one thousand two hundred fifty"),
    ("{number:12345}", "twelve thousand three hundred forty-five"),
    ("{ordinal:3}", "third"),
    ("{money:12.50}", "twelve dollars and fifty cents"),
    ("{money:€12.50}", "twelve euros and fifty cents"),
    ("{money:12.50 GBP}", "twelve pounds and fifty pence"),
    ("{date:2026-03-23}", "March twenty-third, twenty twenty-six"),
    ("{date:03-23}", "March twenty-third"),
    ("{date:2026-03}", "March twenty twenty-six"),
    ("{time:14:30}", "two thirty p m"),
    ("{phone:+1 555 123 4567}", "plus one, five five five, one two three, four five six seven"),
    ("{percent:12.5}", "twelve point five percent"),
    ("{year:1999}", "nineteen ninety-nine"),
    ("{verbatim:R2-D2 at 5}", "R2-D2 at 5"),
    ("Your code is {digits:2045}, valid until {date:2026-03-23}.",
     "Your code is two oh four five, valid until March twenty-third, twenty twenty-six."),
    ("{unknown:12}", "twelve"),  # unknown kind: automatic rules on the value
    ("{date:soon}", "soon"),  # unreadable value: automatic rules on the value
])
def test_tags(text: str, spoken: str) -> None:
    assert normalize(text) == spoken


def test_check_tags_reports_unknown_kinds_and_bad_values() -> None:
    assert check_tags("Your balance is {money:12.50} on {date:2026-03-23}.") == []
    problems = check_tags("{colour:red} {date:soon} {money:lots}")
    assert len(problems) == 3
    assert "unknown say-as tag" in problems[0]
    assert "cannot read 'soon' as date" in problems[1]


def test_readers_reject_what_they_cannot_read() -> None:
    assert read_money("twelve") is None
    assert read_time("25:00") is None
    assert read_time("9:75") is None
    assert read_time("13 pm") is None
    assert normalize("99:99") == "ninety-nine:ninety-nine"


def test_output_has_no_digits_left() -> None:
    text = ("On 2026-03-23 at 14:30 your order A1B-2045 of $1,250.50 (12.5% off) ships; call 1-800-555-0199, "
            "ticket #778, card ****9921, 3rd attempt, 42 items, code 0007.")
    assert not any(ch.isdigit() for ch in normalize(text))


@pytest.mark.parametrize(("text", "sentences"), [
    ("Hello. How are you?", ["Hello.", "How are you?"]),
    ("Mr. Smith paid 3.5 dollars. Then he left!", ["Mr. Smith paid 3.5 dollars.", "Then he left!"]),
    ("Dr. Jones and Mrs. Lee are here. Yes.", ["Dr. Jones and Mrs. Lee are here.", "Yes."]),
    ("It costs $3.50 today. Thanks.", ["It costs $3.50 today.", "Thanks."]),
    ("Call J. Smith now. Bye.", ["Call J. Smith now.", "Bye."]),
    ("Fruit, e.g. apples. OK.", ["Fruit, e.g. apples.", "OK."]),
    ("Wait... what? Really!", ["Wait... what?", "Really!"]),
    ('He said "yes." Then left.', ['He said "yes."', "Then left."]),
    ("Line one\nLine two", ["Line one", "Line two"]),
    ("No full stop", ["No full stop"]),
    ("  ", []),
])
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences
