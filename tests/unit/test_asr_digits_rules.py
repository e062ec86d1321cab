"""How the whisper recogniser settles a digits question's answer (rules only, no model)."""

from __future__ import annotations

import numpy as np
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


def test_slowing_down_keeps_the_pitch():
    from voicebot.speech.asr_whisper import slow_down

    rate = 16000
    t = np.arange(rate) / rate
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    slowed = slow_down(tone, 0.8, rate)
    assert abs(slowed.size - rate / 0.8) <= 1
    spectrum = np.abs(np.fft.rfft(slowed[2000:-2000]))
    peak_hz = np.argmax(spectrum) * rate / (slowed.size - 4000)
    assert abs(peak_hz - 440) < 5
    assert 0.25 < np.abs(slowed[2000:-2000]).max() < 0.35  # no gain or loss where frames overlap


@pytest.mark.parametrize(("text", "count", "fits"), [
    ("4217 9806", (8, 8), True), ("forty-two seventeen", (4, 4), True), ("1 2 3", (4, 8), False),
    ("I don't have one", (8, 8), False),
])
def test_digit_count_of_a_reading(text, count, fits):
    from voicebot.speech.asr_whisper import fits_count

    assert fits_count(text, count) is fits
