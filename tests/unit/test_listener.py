import asyncio

import numpy as np
import pytest

from fakes import FakeRecognizer, FakeVad
from voicebot.config import SpeechSettings
from voicebot.speech.listener import (
    BargeIn,
    Listener,
    NoiseDiscarded,
    PartialTranscript,
    SpeechStarted,
    Utterance,
    has_real_words,
)
from voicebot.types import AudioFrame, Expectation, RecognitionHints

RATE = 8000
N = RATE // 50
SETTINGS = SpeechSettings(end_of_turn_min_s=0.3, end_of_turn_max_s=1.0, pause_s=0.1,
                          min_speech_s=0.12, preroll_s=0.2, barge_in_min_voiced_s=0.3)
LOUD = (np.sin(np.arange(N) / 3) * 8000).astype("<i2").tobytes()
QUIET = bytes(2 * N)


async def settle():
    for _ in range(10):
        await asyncio.sleep(0)


class Harness:
    """Feeds 20 ms frames on a virtual clock and notes at which frame each event appeared."""

    def __init__(self, recognizer, settings=SETTINGS):
        self.listener = Listener(recognizer, RATE, settings, vad=FakeVad())
        self.events: list[tuple[int, object]] = []
        self.t = 1000.0
        self.i = 0
        self._task = asyncio.get_running_loop().create_task(self._collect())

    async def _collect(self):
        async for event in self.listener.events():
            self.events.append((self.i, event))

    async def feed(self, pcm: bytes, seconds: float):
        for _ in range(round(seconds * 50)):
            self.t += 0.02
            self.i += 1
            self.listener.feed(AudioFrame(pcm, RATE, self.t))
            await settle()

    async def close(self):
        await self.listener.close()
        await self._task

    def of(self, kind):
        return [(i, e) for i, e in self.events if isinstance(e, kind)]


async def test_complete_answer_ends_after_min_silence_with_ordered_times():
    h = Harness(FakeRecognizer("I'd like my balance please"))
    await h.feed(QUIET, 0.5)
    await h.feed(LOUD, 0.6)
    speech_end_frame = h.i
    await h.feed(QUIET, 1.5)
    await h.close()
    assert len(h.of(SpeechStarted)) == 1
    [(at_frame, utt)] = h.of(Utterance)
    assert utt.transcript.text == "I'd like my balance please"
    assert utt.speech_start < utt.speech_end < utt.first_pause
    assert utt.speech_end - utt.speech_start == pytest.approx(0.6, abs=0.03)
    silence_frames = at_frame - speech_end_frame
    assert 0.3 <= silence_frames * 0.02 < 0.45  # min_s, not max_s
    stream = h.listener._recognizer.streams[0]
    assert stream.pauses == 1 and stream.finished


async def test_incomplete_answer_waits_for_max_silence():
    h = Harness(FakeRecognizer("my account number is"))
    await h.feed(LOUD, 0.6)
    end = h.i
    await h.feed(QUIET, 1.5)
    await h.close()
    [(at_frame, utt)] = h.of(Utterance)
    assert utt.transcript.text == "my account number is"
    assert 1.0 <= (at_frame - end) * 0.02 < 1.1


async def test_digits_expected_waits_until_enough_digits():
    h = Harness(FakeRecognizer(["4 7 1 9", "4 7 1 9 0 2 3 5"]))
    h.listener.expect(Expectation(hints=RecognitionHints(slot_type="digits"), min_digits=8, max_digits=8))
    await h.feed(LOUD, 0.5)
    end = h.i
    await h.feed(QUIET, 1.2)
    await h.feed(LOUD, 0.5)
    end2 = h.i
    await h.feed(QUIET, 1.2)
    await h.close()
    (f1, u1), (f2, u2) = h.of(Utterance)
    assert (f1 - end) * 0.02 >= 1.0 and (f2 - end2) * 0.02 < 0.45
    assert h.listener._recognizer.streams[0].hints.slot_type == "digits"


async def test_speech_resuming_after_a_pause_is_one_utterance():
    h = Harness(FakeRecognizer("my number is four seven"))
    await h.feed(LOUD, 0.4)
    await h.feed(QUIET, 0.2)  # a pause: speculative decode, then the caller goes on
    await h.feed(LOUD, 0.4)
    await h.feed(QUIET, 1.3)
    await h.close()
    assert len(h.of(Utterance)) == 1
    stream = h.listener._recognizer.streams[0]
    assert stream.pauses == 2
    # held-back silence was sent once speech resumed: 0.4 + 0.2 + 0.4 s + 0.1 s pause_s of silence
    assert stream.frames >= (0.4 + 0.2 + 0.4) * 50


async def test_noise_that_decodes_to_nothing_is_discarded():
    h = Harness(FakeRecognizer(""))
    await h.feed(LOUD, 0.3)
    await h.feed(QUIET, 1.3)
    await h.close()
    assert h.of(Utterance) == []
    [(_, noise)] = h.of(NoiseDiscarded)
    assert noise.reason == "no words"


async def test_barge_in_fires_on_real_words_while_the_bot_speaks():
    h = Harness(FakeRecognizer("stop I want an agent"))
    h.listener.set_bot_speaking(True)
    await h.feed(LOUD, 1.0)
    [(at_frame, barge)] = h.of(BargeIn)
    assert barge.text == "stop I want an agent"
    assert at_frame <= 0.4 * 50  # after ~300 ms of voiced audio, long before the caller stops
    h.listener.set_bot_speaking(False)
    await h.feed(QUIET, 1.3)
    await h.close()
    assert len(h.of(Utterance)) == 1


async def test_backchannel_while_the_bot_speaks_neither_barges_in_nor_makes_a_turn():
    h = Harness(FakeRecognizer("Mhm."))
    h.listener.set_bot_speaking(True)
    await h.feed(LOUD, 0.7)
    await h.feed(QUIET, 1.3)
    await h.close()
    assert h.of(BargeIn) == [] and h.of(Utterance) == []
    assert [e.reason for _, e in h.of(NoiseDiscarded)] == ["backchannel"]


async def test_no_barge_in_when_the_bot_is_silent():
    h = Harness(FakeRecognizer("operator"))
    await h.feed(LOUD, 0.7)
    await h.feed(QUIET, 1.3)
    await h.close()
    assert h.of(BargeIn) == [] and len(h.of(Utterance)) == 1


async def test_partials_drive_barge_in_for_streaming_engines():
    h = Harness(FakeRecognizer("cancel that", partials=True, partial_after=14))
    h.listener.set_bot_speaking(True)
    await h.feed(LOUD, 0.8)
    assert h.of(PartialTranscript)
    [(at_frame, _)] = h.of(BargeIn)
    first_partial = h.of(PartialTranscript)[0][0]
    assert at_frame == first_partial  # same frame as the first partial with a real word
    assert h.listener._recognizer.streams[0].pauses == 0  # no extra decodes needed
    await h.close()


async def test_recognizer_failure_is_raised_from_events():
    class Broken(FakeRecognizer):
        def open_stream(self, sample_rate, hints):
            raise RuntimeError("model exploded")

    listener = Listener(Broken("x"), RATE, SETTINGS, vad=FakeVad())
    for k in range(20):
        listener.feed(AudioFrame(LOUD, RATE, 1.0 + k * 0.02))
    with pytest.raises(RuntimeError, match="exploded"):
        async for _ in listener.events():
            pass
    await listener.close()


@pytest.mark.parametrize("text, slot, real", [
    ("Mhm.", None, False),
    ("uh-huh", None, False),
    ("Okay, yeah.", None, False),
    ("", None, False),
    ("yes", None, True),
    ("yeah", "yes_no", True),
    ("okay stop", None, True),
    ("wait", None, True),
])
def test_has_real_words(text, slot, real):
    assert has_real_words(text, Expectation(hints=RecognitionHints(slot_type=slot))) is real


async def test_slow_decodes_are_not_stacked():
    h = Harness(FakeRecognizer("one two three", delay_s=0.3))
    for _ in range(3):  # three pauses while the first decode is still running
        await h.feed(LOUD, 0.3)
        await h.feed(QUIET, 0.15)
    stream = h.listener._recognizer.streams[0]
    assert stream.pauses == 1
    await asyncio.sleep(0.4)  # the first decode lands; one more covers the audio since
    await h.feed(QUIET, 0.1)
    assert stream.pauses == 2
    await asyncio.sleep(0.4)
    await h.feed(QUIET, 1.2)
    await asyncio.sleep(0.4)
    await h.close()
    [(_, utt)] = h.of(Utterance)
    assert utt.transcript.text == "one two three" and stream.pauses == 2


def test_a_clear_answer_equal_to_a_hint_is_not_an_echo():
    from voicebot.speech.asr_whisper import echoes_prompt, is_expected_answer
    from voicebot.types import RecognitionHints

    hints = RecognitionHints(phrases=("nothing else", "no thanks"), slot_type="yes_no")
    assert echoes_prompt("No thanks.", None, "yes no nothing else, no thanks")
    assert is_expected_answer("No thanks.", hints)
    assert not is_expected_answer("no thanks I'm fine", hints)
