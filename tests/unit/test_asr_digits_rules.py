"""How the whisper recogniser settles a digits question's answer (rules only, no model)."""

from __future__ import annotations

import pytest

from voicebot.speech.asr_whisper import Decoded, answers_otherwise, choose_hypothesis, is_lone_oh

GRAMMAR_OHS = Decoded("Oh, oh, oh, oh.", 0.4, -0.9, 0.2, 2.0)


@pytest.mark.parametrize(("text", "only_oh"), [
    ("Oh.", True), ("Oh, oh, oh, oh.", True), ("oh oh", True),
    ("Oh, 7.", False), ("oh seven", False), ("", False), ("No.", False),
])
def test_only_ohs_is_no_reading(text, only_oh):
    assert is_lone_oh(text) is only_oh


@pytest.mark.parametrize(("free", "otherwise"), [
    (("I'm not sure where to find it.", 0.35), True),  # speech that is not digits: heard as said
    (("Agent.", 0.5), True),
    (("Hmm.", 0.3), False),  # a filler: nothing to prefer
    (("", 0.0), False),  # the free decode heard nothing either
    (("7 7 3 3", 0.6), False),  # digits only: no reason to leave the grammar
])
def test_a_grammar_reading_of_only_ohs_gives_way_to_any_free_answer(free, otherwise):
    assert answers_otherwise(Decoded(*free, -1.0, 0.2, 2.0), GRAMMAR_OHS) is otherwise


def test_a_string_of_ohs_gives_way_to_a_close_digit_hypothesis():
    assert choose_hypothesis(["Oh, oh, oh.", "0 0 7", "Oh."], [-1.2, -1.5, -1.6], 0.2) == 1
