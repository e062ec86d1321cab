"""Spoken forms -> written values (no model)."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import pytest

from voicebot.nlu import normalize as n

TODAY = date(2026, 11, 25)  # a Wednesday


@pytest.mark.parametrize(("text", "digits"), [
    ("four five six", ["456"]),
    ("4 5 6", ["456"]),
    ("456", ["456"]),
    ("4-5-6", ["456"]),
    ("double seven", ["77"]),
    ("triple oh", ["000"]),
    ("my account is o four five six seven", ["04567"]),
    ("one oh one", ["101"]),
    ("five five five twelve thirty four", ["5551234"]),
    ("double 7 three", ["773"]),
    ("I have no idea", []),
    ("9.0.9.0", ["9090"]),  # whisper under the digits grammar, "nine oh nine oh"
    ("9.0 9.0", ["9090"]),
    ("9.0, 9.0", ["9090"]),
    ("the rate is 1.25", []),  # a decimal is not a digit string
    # whisper writes a long number as a cardinal: "order 2345678" heard over GSM
    ("order two million three hundred forty five thousand six hundred seventy eight", ["2345678"]),
    ("one million", ["1000000"]),
    # a digit heard as a word between a scale and its hundred (festival's "three" over GSM)
    ("order two million free, hundred forty five thousand six hundred seventy eight.", ["2345678"]),
    ("I paid for hundred things", []),  # only inside a number, after its scale
    # "… for me" written "4 me" after the digits: the "4" is the "for"
    ("Can you track parcel of 5-5-5-5-1, 2-3-4-5-4-me?", ["555512345"]),
    ("1 2 3 four, me", ["123"]),
    ("it is 1 2 3 4 4 4", ["123444"]),
    ("it's twenty-three hundred, seven fifty-eight, one sixty-four", ["2300758164"]),  # a pair's hundreds
])
def test_digit_runs(text: str, digits: list[str]) -> None:
    assert [m.value for m in n.find_digit_runs(text)] == digits


def test_digit_run_positions_point_into_the_text() -> None:
    text = "it is four five six thanks"
    (run,) = n.find_digit_runs(text)
    assert text[run.start:run.end] == "four five six"


def test_phone_numbers_keep_a_leading_plus() -> None:
    spoken = "my number is plus four four seven seven double oh one two three four five six"
    assert [m.value for m in n.find_phone_numbers(spoken)] == ["+447700123456"]
    assert [m.value for m in n.find_phone_numbers("call 555 123 4567")] == ["5551234567"]
    assert n.find_phone_numbers("four five six") == []


@pytest.mark.parametrize(("text", "value"), [
    ("twenty three", 23),
    ("one hundred and five", 105),
    ("two thousand three hundred and forty five", 2345),
    ("seventy-five", 75),
    ("a hundred", 100),
    ("1,250", 1250),
    ("three point five", 3.5),
    ("twelve", 12),
    ("forty-four hundred", 4400),  # a pair's hundreds
    ("nineteen hundred and five", 1905),
    ("two thousand forty four", 2044),
])
def test_cardinal_numbers(text: str, value: float) -> None:
    assert [m.value for m in n.find_numbers(text)] == [value]


def test_repeated_units_are_separate_numbers() -> None:
    assert [m.value for m in n.find_numbers("five five")] == [5, 5]


@pytest.mark.parametrize(("text", "amount"), [
    ("fifty dollars", "50.00"),
    ("$50", "50.00"),
    ("fifty bucks", "50.00"),
    ("50 dollars", "50.00"),
    ("twelve dollars and fifty cents", "12.50"),
    ("twelve dollars fifty", "12.50"),
    ("twelve fifty dollars", "12.50"),
    ("$12.50", "12.50"),
    ("ninety nine cents", "0.99"),
    ("send 20 euros please", "20.00"),
    ("£30", "30.00"),
    ("pay a hundred dollars", "100.00"),
    ("one thousand two hundred dollars", "1200.00"),
])
def test_money(text: str, amount: str) -> None:
    assert [m.value for m in n.find_money(text)] == [Decimal(amount)]


def test_a_number_without_currency_is_not_money() -> None:
    assert n.find_money("I have three cards") == []


@pytest.mark.parametrize(("text", "iso"), [
    ("twenty third of March", "2027-03-23"),
    ("March 23rd", "2027-03-23"),
    ("march the twenty third", "2027-03-23"),
    ("on the 1st of may 2027", "2027-05-01"),
    ("I was born on the 4th of July 1985", "1985-07-04"),
    ("March 14th to 1985.", "1985-03-14"),  # words the recogniser puts between a day and its year
    ("August 30 of 1969.", "1969-08-30"),
    ("the 4th of July in 1980", "1980-07-04"),
    ("March 14th to the bank", "2027-03-14"),
    ("march twenty third twenty twenty seven", "2027-03-23"),
    ("december first", "2026-12-01"),
    ("3/23", "2027-03-23"),
    ("2026-03-23", "2026-03-23"),
    ("today", "2026-11-25"),
    ("tomorrow", "2026-11-26"),
    ("the day after tomorrow", "2026-11-27"),
    ("yesterday", "2026-11-24"),
    ("next Monday", "2026-11-30"),
    ("on friday", "2026-11-27"),
    ("next wednesday", "2026-12-02"),
    ("in 3 days", "2026-11-28"),
    ("in two weeks", "2026-12-09"),
])
def test_dates(text: str, iso: str) -> None:
    assert [m.value.isoformat() for m in n.find_dates(text, TODAY)] == [iso]


def test_may_as_a_verb_is_not_a_date() -> None:
    assert n.find_dates("may I speak to someone", TODAY) == []


@pytest.mark.parametrize(("text", "value"), [
    ("half past two", time(14, 30)),
    ("half past two in the morning", time(2, 30)),
    ("quarter to three", time(14, 45)),
    ("ten past four", time(16, 10)),
    ("at two thirty", time(14, 30)),
    ("2:30 pm", time(14, 30)),
    ("9:15 am", time(9, 15)),
    ("three o'clock", time(15, 0)),
    ("seven pm", time(19, 0)),
    ("half past nine", time(9, 30)),
    ("nine oh five", time(9, 5)),
    ("noon", time(12, 0)),
    ("14:30", time(14, 30)),
])
def test_times(text: str, value: time) -> None:
    assert [m.value for m in n.find_times(text)] == [value]


@pytest.mark.parametrize(("text", "value"), [
    ("yes", True), ("yeah", True), ("yep", True), ("that's right", True), ("correct", True),
    ("sure, go ahead", True), ("uh-huh", True),
    ("no", False), ("nope", False), ("nah", False), ("no that's not right", False), ("not correct", False),
    ("that's wrong", False), ("I don't think so", False), ("no, I said 4 5 7", False),
])
def test_yes_no(text: str, value: bool) -> None:
    match = n.find_yes_no(text)
    assert match is not None and match.value is value


def test_yes_no_absent() -> None:
    assert n.find_yes_no("my card was stolen") is None


@pytest.mark.parametrize(("text", "email"), [
    ("john dot smith at example dot com", "john.smith@example.com"),
    ("it's mary underscore jones at company dot co dot uk", "mary_jones@company.co.uk"),
    ("j o h n at gmail dot com", "john@gmail.com"),
    ("my email is John.Smith@Example.com.", "john.smith@example.com"),
])
def test_email(text: str, email: str) -> None:
    match = n.find_email(text)
    assert match is not None and match.value == email


def test_no_email_in_plain_speech() -> None:
    assert n.find_email("I am at home right now") is None


@pytest.mark.parametrize(("text", "corrected"), [
    ("no, I said 4 5 7", "4 5 7"),
    ("no it's the 5th", "the 5th"),
    ("sorry I meant march third", "march third"),
    ("actually make that fifty dollars", "fifty dollars"),
    ("no, four five seven", "four five seven"),
    ("that's wrong, it should be 1234", "1234"),
])
def test_corrections(text: str, corrected: str) -> None:
    assert n.find_correction(text) == corrected


@pytest.mark.parametrize("text", ["no", "yes", "four five seven", "my card is lost"])
def test_not_corrections(text: str) -> None:
    assert n.find_correction(text) is None


@pytest.mark.parametrize(("text", "misheard"), [
    ("No, I said pop hold on.", True), ("no I meant the other one", True), ("That's not what I said.", True),
    ("nope, that's wrong, it's potholes", True), ("you misheard me", True), ("Um, not that, the roads", True),
    ("No one sleeps, the bar plays music all night", False), ("no thanks", False),
    ("it's about the potholes I said last week", False), ("The man next door said he'd fix it", False),
])
def test_a_correction_said_in_so_many_words(text: str, misheard: bool) -> None:
    """Said first, whatever follows: "No, I said pop hold on." corrects even when its value cannot be read."""
    assert n.names_a_mishearing(text) is misheard


@pytest.mark.parametrize(("text", "compact"), [
    ("A B one two three", "AB123"),
    ("x 4 double 5", "X455"),
    ("order AB123", "ORDER AB123"),
])
def test_compact_spoken(text: str, compact: str) -> None:
    assert n.compact_spoken(text) == compact


def test_a_bare_ordinal_day_is_the_next_such_day() -> None:
    assert [m.value.isoformat() for m in n.find_dates("no it's the 5th", TODAY)] == ["2026-12-05"]
    assert [m.value.isoformat() for m in n.find_dates("on the twenty eighth", TODAY)] == ["2026-11-28"]
    assert n.find_dates("the 3 of us", TODAY) == []


def test_an_hour_after_at_is_a_time() -> None:
    assert [m.value for m in n.find_times("can you call me at three")] == [time(15, 0)]
    assert n.find_times("I have three cards") == []


@pytest.mark.parametrize(("text", "value"), [
    ("before ten if possible", time(10, 0)), ("between two and four", time(14, 0)),
    ("any time after 5", time(17, 0))])
def test_an_hour_after_before_after_or_between_is_a_time(text: str, value: time) -> None:
    assert [m.value for m in n.find_times(text)] == [value]


def test_a_count_after_after_is_no_time() -> None:
    assert n.find_times("after 5 days") == [] and n.find_times("after three weeks of waiting") == []


def test_dotted_am_pm_and_day_parts() -> None:
    assert [m.value for m in n.find_times("at 7 p.m. please")] == [time(19, 0)]
    assert [m.value for m in n.find_times("eight this evening")] == [time(20, 0)]
    assert [m.value for m in n.find_times("ten at night")] == [time(22, 0)]


@pytest.mark.parametrize(("text", "value"), [
    ("yep", True), ("yeah go on", True), ("sure thing", True), ("go ahead", True), ("yes please", True),
    ("yes, no problem", True), ("yes, that's all", True),
    ("not yet", False), ("I'd rather not", False), ("not right now, I'll think about it", False),
    ("nah, that's everything", False), ("that's all", False), ("nothing else", False),
    ("that's everything", False), ("no that's it", False), ("maybe later", False), ("please don't", False),
    ("fine", True), ("that works", True), ("I'm fine", False), ("I'm good thanks", False),
    ("I'm okay", False),
    # a farewell after an acknowledgement is the end ("Anything else?" "Okay, goodbye.")
    ("Okay, goodbye.", False), ("alright, thanks, bye bye", False), ("see you", False),
    ("yes please, bye", True),
    ("Not.", False),  # "nah" as whisper writes it over a phone line; alone, "not" is a no
    ("that would be great", True), ("I suppose so", True), ("uh huh", True), ("that's the one", True),
    ("you got it", True), ("Please.", True),
    ("actually, hold off, I might have left it at work", False), ("don't block it", False),
    ("leave it for now", False), ("I'd rather you didn't", False), ("not just yet", False),
    ("that won't be necessary", False), ("better not", False), ("no, don't do that", False),
    ("you bet", True), ("spot on", True), ("indeed", True), ("why not", True), ("that's not it", False),
    ("I'd prefer not to", False), ("yes, how long will it take?", True), ("no problem", True),
    ("certainly not", False), ("I don't think that's right", False),  # a yes word negated
    ("not you're all right", False), ("not leave it", False),  # "nah, …" as whisper writes it
    ("I guess that's my number", True), ("yes it's my account", True), ("that's not my account", False),
    ("unfortunately not", False), ("nuh-uh", False), ("don't worry about it", False),
    ("I'd prefer you didn't", False), ("totally", True), ("course you can", True),
    ("no, I'm fine, but thanks", False),
    ("righto", True), ("by all means", True), ("mm hmm", True),
    # fresh sixth set's kinds, our own lines
    ("I'd be happy to", True), ("ya ya that's fine", True), ("that's me done thanks", False),
    # as the recogniser writes festival voices: "mm hmm", a farewell with "now"; "obviously", "do that"
    ("mm hm", True), ("mmh mmh", True), ("m h m m", True), ("I'm goodbye now", False),
    ("obviously", True), ("go on do that", True),
    # fresh seventh set's kinds, our own lines
    ("a hundred percent", True), ("100% yes", True), ("I'm grand thanks", False), ("uh uh", False),
    ("uh-huh", True),
    # as the recogniser writes festival voices: "now" for "nah", "all said" for "all set"
    ("now that's it thanks", False), ("now you're all right", False), ("I'm all said", False),
    ("now that's right", True),
    # fresh eighth set's kinds, our own lines
    ("no I don't mind", True), ("you've got it", True), ("I wouldn't say no", True), ("aye no bother", True),
    ("without any doubt", True), ("fire away", True), ("yeah no that's correct", True), ("yeah no", False),
    ("we're all done here", False), ("I'd rather ring them myself", False), ("I'd sooner not", False),
    ("I'm not happy with that", False), ("you're alright mate", False), ("no you're miles off", False),
    ("the last one should be a six", False), ("yeah that should be fine", True),
    # as the recogniser writes the eighth set's festival voices
    ("shirt thing", True), ("that's lovely", True), ("there you go", True), ("I sooner you didn't", False),
    # fresh ninth set's kinds, our own lines
    ("ja that's fine", True), ("don't ring me, I'll call back", False), ("do not put me through", False),
    # as the recogniser writes the ninth set's festival voices
    ("mm-hm", True), ("now leave it", False), ("now I want to check my balance", False),
    ("and correct", False), ("that's not what I ask for", False),
])
def test_yes_no_the_usual_ways(text: str, value: bool) -> None:
    match = n.find_yes_no(text)
    assert match is not None and match.value is value


def test_yes_no_not_from_other_sentences() -> None:
    assert n.find_yes_no("I'm not sure") is None  # doubt, not a yes
    assert n.find_yes_no("I don't know") is None
    assert n.find_yes_no("I do not know") is None  # not "I do"
    assert n.find_yes_no("Not sure, to be honest.") is None and n.find_yes_no("Not a problem.") is None
    assert n.find_yes_no("I want a redelivery") is None


@pytest.mark.parametrize("text", [
    "Is it the right one?", "which one is right?", "Yes? Sorry, who is this?",  # a question, not an answer
    "Right, so what happens now?", "sure, what was the question?",  # an acknowledgement, then a question
    "right and then what", "sure about what", "is that the right number to call",  # unpunctuated transcripts
    "what do you mean yes or no", "I'm not really sure to be honest",
    "no idea", "no one told me about any text", "yes and no",
    # a hedge (fresh third and fourth sets): part of it right, "it depends"
    "half of it is right", "the first part is right but i'm not sure about the end",
    "the first bit was right",
    "I suppose it depends what it is",
    # a condition (fresh fifth set): no yes until it is met
    "only if the courier can come on saturday", "yes but only if it doesn't cost anything",
    # as the recogniser writes festival voices' hedges: the apostrophe or the verb lost
    "part of its right", "the first bits right but not the rest",
    # small talk, not "no thanks"
    "I'm fine thanks, how are you?", "well I'm good but the order never came",
    # fresh sixth set's kinds: time to think, one part named right, sort of both
    "let me think about it", "only the first three digits are right", "kind of yes kind of no",
    "hmm", "what do you do that for",
    # fresh seventh set's kinds: sort of but not, one part right and another not
    "sort of but not really", "the name's right but the postcode isn't",
    # fresh eighth set's: no preference is no yes; a question after "nah" heard "not"
    "I don't mind which", "not where did you put it",
])
def test_yes_no_not_from_questions_and_idioms(text: str) -> None:
    assert n.find_yes_no(text) is None


@pytest.mark.parametrize("text", ["i'm afraid not", "afraid not", "i'll pass", "that's not my number",
                                  "nae chance", "no, only half of it is right",
                                  # fresh fifth set's kinds, lines of our own
                                  "i'll leave it for today thanks", "na you're fine", "not for us thanks",
                                  "that's not what i asked for",
                                  # as the recogniser writes festival voices' noes
                                  "I will pass", "know that's someone else's order", "now i am sorted",
                                  "I leave it", "I'll sort it out myself"])
def test_noes_without_a_no_word(text: str) -> None:
    match = n.find_yes_no(text)
    assert match is not None and match.value is False


@pytest.mark.parametrize(("text", "low", "high", "value"), [
    ("for.", 1, 5, 4), ("Free.", 1, 5, 3), ("to", 0, 9, 2), ("won", 0, 9, 1), ("ate", 0, 9, 8),
    ("number four please", 0, 9, 4), ("I'd say three", 1, 5, 3), ("4", 1, 5, 4), ("one", 1, 5, 1),
    ("four out of five", 1, 5, 4),
    ("Bye.", 1, 5, 5), ("Fine.", 1, 5, 5),  # on a rating scale only
    ("Bye.", 0, 9, None), ("ate", 1, 5, None), ("seven", 1, 5, None),
    ("I need it for my son", 0, 9, None), ("two or three", 1, 5, None), ("the first one", 0, 9, 1),
    ("the second option", 0, 9, 2), ("give me a second", 0, 9, None),
    ("Two, two,", 1, 5, 2), ("two, three", 1, 5, None), ("one one two two", 0, 9, None),  # said twice
])
def test_short_number_answers(text: str, low: int, high: int, value: int | None) -> None:
    match = n.find_short_number(text, low, high)
    assert (match.value if match else None) == value


@pytest.mark.parametrize(("text", "edit"), [
    ("the last one is eight", n.DigitEdit("at", "8", -1)),
    ("no, the last one was an eight not a six", n.DigitEdit("at", "8", -1)),
    ("the third digit is five", n.DigitEdit("at", "5", 2)),
    ("the 3rd digit should be 5", n.DigitEdit("at", "5", 2)),
    ("the second to last digit is a seven", n.DigitEdit("at", "7", -2)),
    ("it ends in 42", n.DigitEdit("end", "42")),
    ("the last two are four two", n.DigitEdit("end", "42")),
    ("it starts with one two", n.DigitEdit("start", "12")),
    ("add a 9 at the end", n.DigitEdit("append", "9")),
    ("put a nine at the start", n.DigitEdit("prepend", "9")),
    ("no, 1 1 2 2 3 3", None), ("the last one", None),
    ("the seventh digit should be a free", n.DigitEdit("at", "3", 6)),  # a lone homophone for the digit
    ("The last digit should be free, not hate.", n.DigitEdit("at", "3", -1)),
    ("the third digit is free range", None),
    ("the 7th agent should be a three", n.DigitEdit("at", "3", 6)),  # whisper's "digit" at a confirmation
    # the place said without "digit" or "one", and the place before the last said in other ways
    ("the sixth is a two", n.DigitEdit("at", "2", 5)),
    ("no the last but one should be a nine", n.DigitEdit("at", "9", -2)),
    ("and the digit before the last is four", n.DigitEdit("at", "4", -2)),
    ("the second last's a one", n.DigitEdit("at", "1", -2)),
    ("before the first six it should be a five", None),  # beside a digit, not a place
    # counted from the end, and where the number stops
    ("the fourth from the end is a one", n.DigitEdit("at", "1", -4)),
    ("counting from the end the second one should be nine", n.DigitEdit("at", "9", -2)),
    ("it stops at eight one", n.DigitEdit("end", "81")),
    ("it ends 570 only one zero at the end", n.DigitEdit("end", "570")),
    ("it ends two, so double four eight six", None),  # digits said on: not an end of "2"
    # counted back from the end; the one before the last named by its digit; a place's digit and the next ones
    ("count back from the end, the fourth one is a four not a one", n.DigitEdit("at", "4", -4)),
    ("the one before the zero at the end is a three", n.DigitEdit("at", "3", -2)),
    ("the fifth digit should be a zero, then it carries on three one nine", n.DigitEdit("from", "0319", 4)),
    ("the fifth digit should be a zero, and then three one", n.DigitEdit("from", "031", 4)),
    ("the fifth digit should be a zero, then the sixth a one", n.DigitEdit("at", "0", 4)),
    # a lone "oh" said again in a sentence of its own
    ("it starts with oh. oh five eight, not five five eight", n.DigitEdit("start", "058")),
])
def test_digit_edits(text: str, edit: n.DigitEdit | None) -> None:
    assert n.find_digit_edit(text) == edit


@pytest.mark.parametrize(("heard", "edit", "result"), [
    ("1234567890", n.DigitEdit("at", "8", -1), "1234567898"),
    ("1234567890", n.DigitEdit("at", "5", 2), "1254567890"),
    ("123456789", n.DigitEdit("at", "0", 9), "1234567890"),  # the tenth digit after nine: added
    ("1234567", n.DigitEdit("at", "1", 9), None),
    ("1234567890", n.DigitEdit("end", "42"), "1234567842"),  # the length fits: the end is replaced
    ("1234567", n.DigitEdit("end", "890"), "1234567890"),  # short: completed
    ("12345678", n.DigitEdit("end", "7890"), "1234567890"),  # completed, sharing the 78 already heard
    ("4567890", n.DigitEdit("start", "123"), "1234567890"),
    ("123456789", n.DigitEdit("append", "0"), "1234567890"),
    # the digits from a place on, over what they change least: a digit put in, or the same length replaced
    ("852631974", n.DigitEdit("from", "031974", 4), "8526031974"),
    ("8526319740", n.DigitEdit("from", "0319", 4), "8526031940"),
])
def test_apply_digit_edit(heard: str, edit: n.DigitEdit, result: str | None) -> None:
    assert n.apply_digit_edit(heard, edit, lambda d: len(d) == 10) == result


def test_a_request_with_please_is_no_yes() -> None:
    assert n.find_yes_no("please repeat that") is None


def test_runaway_amount_is_no_money_and_does_not_raise():
    """Whisper looping on "thousand" wrote 2.3e42 dollars: too long to round to cents (it raised)."""
    text = "I am calling about $2,300,000,000,000,000,000,000,000,000,000,000,000,000,000,"
    assert n.find_money(text) == []
    assert [m.value for m in n.find_money("$2,300")] == [Decimal("2300.00")]


@pytest.mark.parametrize(("text", "parts", "words"), [
    ("Tuesday, no sorry, Wednesday", ("Tuesday, no sorry, ", "Wednesday"), "no sorry"),
    ("7 7 2 2. Sorry, I mean 7 7 2 8", ("7 7 2 2. Sorry, I mean ", "7 7 2 8"), "Sorry, I mean"),
    ("959-6, 776, no wait. 959-6, 776", ("959-6, 776, no ", "wait. 959-6, 776"), "no wait"),
    ("no, the morning", None, None),  # nothing said before the take-back
    ("the morning please", None, None),
])
def test_an_answer_taken_back_in_one_breath(text, parts, words):
    assert n.find_restatement(text) == parts
    assert n.take_back_words(text) == words


@pytest.mark.parametrize(("text", "done"), [
    ("Nope, that's everything, thanks.", True), ("that's everything, cheers mate", True),
    ("no that's all, thanks a lot", True), ("nah that's it, ta", True),
    ("I'm all set, have a nice day", True),
    ("no that's everything, much appreciated", True), ("that's all wrong", False),
    ("that's it, I want a refund", False), ("that's everything I ordered, it never came", False),
])
def test_the_end_of_the_requests_with_the_ways_callers_sign_off(text: str, done: bool) -> None:
    assert n.says_done(text) is done
