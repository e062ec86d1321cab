import pytest

from voicebot.speech.wer import cer, edit_distance, normalize, wer


@pytest.mark.parametrize("text, tokens", [
    ("Three.", ["3"]),
    ("3", ["3"]),
    ("forty-seven", ["4", "7"]),
    ("four seven", ["4", "7"]),
    ("47", ["4", "7"]),
    ("double seven, two", ["7", "7", "2"]),
    ("four oh seven", ["4", "0", "7"]),
    ("Oh, hello", ["oh", "hello"]),
    ("two hundred five", ["2", "0", "5"]),
    ("nineteen eighty four", ["1", "9", "8", "4"]),
    ("Uh, I don't know!", ["i", "don't", "know"]),
    ("My number is 4719", ["my", "number", "is", "4", "7", "1", "9"]),
    ("one thousand two hundred fifty", ["1", "2", "5", "0"]),
    ("two hundred and five", ["2", "0", "5"]),
    ("rock and roll", ["rock", "and", "roll"]),
    ("$1,250.50", ["1", "2", "5", "0", "dollars", "5", "0", "cents"]),
    ("twelve hundred fifty dollars and fifty cents", ["1", "2", "5", "0", "dollars", "5", "0", "cents"]),
    ("Transfer $50.", ["transfer", "5", "0", "dollars"]),
    ("50%", ["5", "0", "percent"]),
    ("order a B732", ["order", "a", "b", "7", "3", "2"]),
    ("the 1st", ["the", "1st"]),
])
def test_normalize(text, tokens):
    assert normalize(text) == tokens


def test_edit_distance_counts_substitutions_insertions_deletions():
    assert edit_distance("a b c".split(), "a x c".split()) == 1
    assert edit_distance("a b c".split(), "a c".split()) == 1
    assert edit_distance("a b".split(), "a b c d".split()) == 2
    assert edit_distance([], "a".split()) == 1


def test_corpus_wer_normalises_both_sides():
    result = wer([("three", "3."), ("seven", "Seven"), ("one two", "one too"), ("nine", "")])
    assert (result.errors, result.reference_words) == (2, 5)
    assert result.wer == pytest.approx(0.4)


@pytest.mark.parametrize("spoken, written", [
    ("JUNE TWENTY THIRD NINETEEN SIXTY NINE", "June 23rd, 1969"),
    ("the twenty first", "the 21st"),
    ("eleventh", "11th"),
    ("the twentieth", "the 20th"),
    ("SIX EIGHT THREE THREE OH SEVEN FIVE", "683-3075"),
    ("NINE THIRTY SIXTY FIVE", "9/30/65"),
])
def test_spoken_dates_and_numbers_read_as_written(spoken, written):
    assert normalize(spoken) == normalize(written)


def test_ordinals_are_not_lenient():
    assert normalize("twenty third") != normalize("twenty three")
    assert normalize("June 23rd") != normalize("June 24th")
    assert wer([("the twenty third", "the 22nd")]).errors == 1


def test_character_error_rate_ignores_word_boundaries_only():
    assert cer([("E R I C", "Eric")]).errors == 0
    assert wer([("E R I C", "Eric")]).errors == 4
    result = cer([("P I T T", "Pitts"), ("forty seven", "47")])
    assert (result.errors, result.reference_chars) == (1, 6)
    assert result.cer == pytest.approx(1 / 6)


def test_capitals_in_a_mixed_case_text_are_spelled_letters():
    assert normalize("Erase CK CW 1485") == normalize("ERASE C K C W ONE FOUR EIGHT FIVE")
    assert normalize("IF THE READER WILL") == ["if", "the", "reader", "will"]  # an all-capitals text: words
    assert normalize("I DON'T know") == ["i", "don't", "know"]
    assert wer([("ERASE C K C W", "Erase CKW")]).errors == 1  # a letter missed is still an error
