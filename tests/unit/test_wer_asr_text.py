"""Text handling around whisper: hint -> prompt/hotwords, loop collapse, hallucination filter."""

import pytest

from voicebot.speech.asr_whisper import (
    Decoded,
    answers_otherwise,
    choose_hypothesis,
    collapse_loops,
    echoes_prompt,
    is_hallucination,
)
from voicebot.speech.whisper_hints import grammar_for, prompt_for
from voicebot.types import RecognitionHints


def test_hints_become_a_grammar_hotwords_or_a_prompt():
    digits = RecognitionHints(slot_type="digits", phrases=("Skip",))
    assert prompt_for(digits) == (None, None)
    assert {"seven", "oh", "double", "agent", "skip"} <= set(grammar_for(digits))
    assert grammar_for(RecognitionHints(slot_type="yes_no")) is None
    prompt, hot = prompt_for(RecognitionHints(slot_type="yes_no"))
    assert {"yes", "no", "agent", "operator"} <= set(hot.split())  # a person asked for at a confirmation
    prompt, hot = prompt_for(RecognitionHints(phrases=("billing", "credit card")))
    assert hot == "billing, credit card, help, agent, operator, repeat"
    prompt, hot = prompt_for(RecognitionHints())
    assert prompt and hot is None
    prompt, hot = prompt_for(RecognitionHints(slot_type="delivery_day", kind="date"))  # a date question
    assert prompt is None and {"tomorrow,", "Monday,", "March,"} <= set(hot.split()) and hot.endswith(".")
    assert grammar_for(RecognitionHints(slot_type="delivery_day", kind="date")) is None  # free answers


@pytest.mark.parametrize("text, expected", [
    ("six, six, six, six, six,", "six,"),
    ("zero zero zero zero", "zero"),
    ("three three", "three three"),
    ("my number is one two one two one two one two", "my number is one two"),
    ("one two three four", "one two three four"),
])
def test_collapse_loops(text, expected):
    assert collapse_loops(text) == expected


@pytest.mark.parametrize("text, logprob, no_speech, seconds, dropped", [
    ("Thank you.", -0.9, 0.7, 0.5, True),
    ("you", -1.2, 0.2, 0.8, True),
    ("Thank you.", -0.2, 0.05, 1.2, False),  # said clearly: a real "thank you"
    ("I need my balance", -0.3, 0.1, 1.5, False),
    ("Seven", -1.2, 0.7, 0.5, True),  # whisper itself says it is not speech
    ("Six.", -0.99, 0.74, 0.5, False),  # an isolated word: no_speech_prob runs high
    ("Two", -0.5, 0.85, 0.5, True),
    ("", -0.1, 0.0, 1.0, True),
])
def test_hallucination_filter(text, logprob, no_speech, seconds, dropped):
    assert is_hallucination(text, logprob, no_speech, seconds) is dropped


def test_prompt_read_back_is_detected():
    prompt = "Say a digit: zero, one, two, three, four, five, six, seven, eight or nine."
    assert echoes_prompt("Say a", prompt)
    assert echoes_prompt("eight or nine", None, prompt)
    assert not echoes_prompt("two three", prompt)  # digits a caller may well say
    assert not echoes_prompt("Seven.", prompt)  # one word: could be the answer
    assert not echoes_prompt("four seven", prompt)


def test_a_prompt_read_back_after_a_filler_or_over_and_over_is_an_echo():
    """What whisper base wrote over a hum, a cough and babble at a menu (flite voices, GSM with babble)."""
    prompt = "what can I say, a real person."
    assert echoes_prompt("It's a real person.", prompt)
    assert echoes_prompt("It's a real person, a real person.", prompt)
    assert echoes_prompt("A real person. A real person. A real person.", prompt)
    assert not echoes_prompt("Can I talk to a real person?", prompt)  # a request, not the prompt
    assert not echoes_prompt("Oh, oh.", prompt) and not echoes_prompt("So, nine nine.", prompt)
    assert not echoes_prompt("It's a redelivery.", prompt, "track my parcel, a redelivery, help, agent, repeat")


@pytest.mark.parametrize(("texts", "scores", "no_speech", "kept"), [
    (["Oh,", "Three.", "3."], [-1.65, -1.71, -1.93], 0.33, 1),  # a close digit beats a lone "Oh"
    (["Oh", "oh", "Two."], [-1.09, -1.41, -2.44], 0.3, 0),  # too far behind: keep (then dropped as filler)
    (["Oh,", "Eight."], [-1.6, -2.0], 0.75, 0),  # likely not speech: no digit is invented
    (["Four.", "Oh."], [-0.7, -0.8], 0.2, 0),  # a digit already wins
    (["Oh, nine one", "0 9 1"], [-0.5, -0.6], 0.2, 0),  # "oh" among digits is zero
    (["Oh.", "Oh,", "agent"], [-1.0, -1.1, -1.2], 0.2, 0),  # no digit alternative
])
def test_digits_grammar_prefers_a_close_digit_over_a_lone_oh(texts, scores, no_speech, kept):
    assert choose_hypothesis(texts, scores, no_speech) == kept


def test_a_flow_slot_type_of_kind_digits_gets_the_digit_grammar():
    account = RecognitionHints(slot_type="account_number", kind="digits")
    assert grammar_for(account) == grammar_for(RecognitionHints(slot_type="digits"))
    assert prompt_for(account) == (None, None)
    assert grammar_for(RecognitionHints(slot_type="account_number")) is None  # kind unknown: free text
    assert prompt_for(RecognitionHints(slot_type="ok", kind="yes_no"))[1].startswith("yes no")


@pytest.mark.parametrize(("text", "confidence", "otherwise"), [
    ("I don't have one.", 0.97, True),  # not digits, whatever "one" says
    ("This is outrageous. I'm absolutely furious.", 0.8, True),
    ("It's 1 2 3 4.", 0.9, False),  # an answer in digits: the grammar's reading stays
    ("1 2 3 4 5 6 7 8", 0.8, False),
    ("You will.", 0.73, False),  # "zero" misheard, without confidence
    ("Sorry?", 0.9, False),  # one word: the grammar decides
    ("This is outrageous. I'm absolutely furious.", 0.6, True),  # a sentence, less sure
    ("This is my account.", 0.28, False),
])
def test_a_free_answer_wins_over_the_digit_grammar_only_when_it_plainly_says_more(text, confidence, otherwise):
    assert answers_otherwise(Decoded(text, confidence, -0.2, 0.1, 1.5), GRAMMAR_SURE) is otherwise


GRAMMAR_SURE = Decoded("1 2 3 4", 0.9, -0.1, 0.1, 1.5)


@pytest.mark.parametrize(("free", "grammar", "otherwise"), [
    (("Yes.", 0.88), ("1.", 0.23), True),  # the grammar doubts its own reading
    (("Tomorrow.", 0.82), ("", 0.0), True),
    (("No.", 0.8), ("Oh,", 0.5), True),  # a lone "Oh" is what the grammar makes of a word it cannot spell
    (("Nine.", 0.9), ("9.", 0.6), False),
    (("Bye.", 0.6), ("5.", 0.2), False),  # "five" misheard, without confidence
    (("Yes.", 0.88), ("4.", 0.5), False),
])
def test_one_confident_word_wins_only_over_a_doubtful_grammar_reading(free, grammar, otherwise):
    assert answers_otherwise(Decoded(*free, -0.2, 0.1, 0.6), Decoded(*grammar, -1.0, 0.3, 0.6)) is otherwise


@pytest.mark.parametrize(("texts", "scores", "count", "kept"), [
    (["4 4 4 4 4", "4 4 4 4", "4 4 4 4 4 4"], [-0.66, -0.69, -0.88], (4, 4), 1),  # whisper miscounts repeats
    (["1 1 1 1 1", "1 1 1 1"], [-0.3, -0.9], (4, 4), 0),  # too far behind: keep the best
    (["1 2 3 4", "1 2 3"], [-0.3, -0.4], (4, 4), 0),  # already right
    (["4 4 4 4 4", "4 4 4 4"], [-0.66, -0.69], None, 0),  # the flow gives no length
    (["Help.", "4 4 4 4"], [-0.5, -0.6], (4, 4), 0),  # not a digit answer: left alone
])
def test_digits_grammar_prefers_the_expected_number_of_digits(texts, scores, count, kept):
    assert choose_hypothesis(texts, scores, 0.1, count) == kept


@pytest.mark.parametrize(("texts", "scores", "ruled_out", "kept"), [
    (["6 4 8 1", "6 4 6 1", "6 4 8"], [-0.4, -0.5, -0.6], ("6481",), 1),  # the next of its length
    (["6 4 8 1", "6 4 6 1"], [-0.2, -0.9], ("6481",), 0),  # too far behind: the best stands
    (["6 4 8 1", "6 4 6 1"], [-0.4, -0.5], ("6461",), 0),  # another number ruled out
    (["6 4 8 1", "6 4 6 1", "6 4 2 1"], [-0.4, -0.5, -0.6], ("6481", "6461"), 2),  # both said to be wrong
])
def test_digits_grammar_passes_over_a_number_said_to_be_wrong(texts, scores, ruled_out, kept):
    assert choose_hypothesis(texts, scores, 0.1, None, ruled_out) == kept


@pytest.mark.parametrize(("digits", "only_numbers", "count"), [
    (7, True, (8, 8)),  # the number said again, one digit short: read for its length
    (5, True, (8, 8)),
    (4, True, None),  # half of it: the rest of the number
    (5, False, None),  # with other words: a fix ("the last five are 1 2 3 4 5")
    (0, True, None),
])
def test_a_number_said_again_at_a_read_back_is_read_for_its_whole_length(digits, only_numbers, count):
    fixing = RecognitionHints(slot_type="digits", whole_count=(8, 8))
    assert fixing.count_for(digits, only_numbers) == count
    assert RecognitionHints(slot_type="digits", digit_count=(7, 9)).count_for(digits, only_numbers) == (7, 9)
    assert RecognitionHints(slot_type="digits").count_for(digits, only_numbers) is None
