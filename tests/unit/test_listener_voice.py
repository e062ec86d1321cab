"""The listener measures how each final utterance sounded (``Transcript.voice``, for the emotion's arousal)."""

import math

import pytest

from fakes import FakeRecognizer
from test_listener import LOUD, QUIET, Harness
from voicebot.events import Utterance


async def test_the_final_carries_the_voice_of_its_speech_only():
    h = Harness(FakeRecognizer("I'd like my balance please"))
    await h.feed(QUIET, 0.5)
    await h.feed(LOUD, 0.6)
    await h.feed(QUIET, 1.5)
    await h.close()
    [(_, utt)] = h.of(Utterance)
    voice = utt.transcript.voice
    assert voice is not None
    assert voice.energy_db == pytest.approx(20 * math.log10(8000 / 32768 / math.sqrt(2)), abs=0.5)
    assert voice.rate_wps == pytest.approx(5 / 0.6, rel=0.15)  # five words in 0.6 s of speech, pauses left out
