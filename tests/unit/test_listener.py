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
    # the utterance carries the audio its recogniser heard (for a second hearing): every frame it was given
    assert utt.audio is not None and utt.audio.sample_rate == RATE
    assert len(utt.audio.pcm) == stream.frames * len(LOUD) and LOUD in utt.audio.pcm


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
    h = Harness(FakeRecognizer(["4 7 1 9", "4 7 1 9 0 2 3 5"]),
                SETTINGS.model_copy(update={"end_of_turn_digit_pause_s": None}))
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


async def test_a_pause_between_digit_groups_short_of_the_length_keeps_the_turn():
    h = Harness(FakeRecognizer("4 7 1 9"), SETTINGS.model_copy(update={"end_of_turn_digit_pause_s": 2.0}))
    h.listener.expect(Expectation(hints=RecognitionHints(slot_type="digits", kind="digits"),
                                  min_digits=8, max_digits=8))
    await h.feed(LOUD, 0.5)
    await h.feed(QUIET, 1.5)  # longer than end_of_turn_max_s, shorter than the digit pause
    await h.feed(LOUD, 0.5)
    end = h.i
    await h.feed(QUIET, 2.5)  # still 4 digits of 8: the turn ends at the digit pause, not before
    await h.close()
    [(at_frame, utt)] = h.of(Utterance)
    assert len(h.listener._recognizer.streams) == 1
    assert 2.0 <= (at_frame - end) * 0.02 < 2.15


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


# ---- silence on the clock: Asterisk sends no frames while the caller is silent --------------------


PREROLL_FRAMES = round(SETTINGS.preroll_s / 0.02)


class RealTime(Harness):
    """Frames stamped on the loop clock and paced in real time, as the AudioSocket server stamps them."""

    async def feed(self, pcm: bytes, seconds: float, rate: int = RATE):
        loop = asyncio.get_running_loop()
        for _ in range(round(seconds * 50)):
            self.i += 1
            self.listener.feed(AudioFrame(pcm, rate, loop.time()))
            await asyncio.sleep(0.02)

    async def wait_for(self, kind, timeout: float = 5.0):
        async def poll():
            while not self.of(kind):
                await asyncio.sleep(0.01)
        await asyncio.wait_for(poll(), timeout)
        return self.of(kind)


async def test_turn_ends_on_the_clock_when_no_frames_follow_the_speech():
    h = RealTime(FakeRecognizer("I'd like my balance please"))
    await h.feed(LOUD, 0.5)  # then nothing at all: no silence frames
    [(_, utt)] = await h.wait_for(Utterance)
    stream = h.listener._recognizer.streams[0]
    assert stream.pauses == 1 and stream.finished  # the pause decode ran on the clock and was reused
    assert utt.first_pause - utt.speech_end >= SETTINGS.pause_s
    # no filler after the onset: the frames that came, after the pre-roll made of silence (none came before)
    assert stream.frames == h.i + PREROLL_FRAMES
    await h.close()


async def test_incomplete_answer_waits_for_the_longer_silence_on_the_clock_too():
    h = RealTime(FakeRecognizer("my account number is"))
    await h.feed(LOUD, 0.5)
    await asyncio.sleep(SETTINGS.end_of_turn_min_s + 0.2)
    assert h.of(Utterance) == []  # the short silence is not enough for an unfinished sentence
    [(_, utt)] = await h.wait_for(Utterance)
    assert utt.transcript.text == "my account number is"
    await h.close()


async def test_a_late_burst_of_frames_is_heard_whole_and_keeps_the_turn_open():
    """Frames held up by the network arrive together: nothing is inserted before them, the turn goes on."""
    h = RealTime(FakeRecognizer("one two three four"))
    await h.feed(LOUD, 0.4)
    await asyncio.sleep(0.15)  # a stall shorter than the end-of-turn silence: the pause decode starts
    loop = asyncio.get_running_loop()
    arrived = loop.time()
    for _ in range(8):  # the held-up frames, all stamped with the same arrival time
        h.i += 1
        h.listener.feed(AudioFrame(LOUD, RATE, arrived))
    await h.feed(LOUD, 0.2)
    [(_, utt)] = await h.wait_for(Utterance)
    assert len(h.of(Utterance)) == 1 and len(h.of(SpeechStarted)) == 1
    assert utt.speech_end >= arrived
    stream = h.listener._recognizer.streams[0]
    assert stream.frames == h.i + PREROLL_FRAMES  # every frame reached the recogniser, nothing between them
    await h.close()


async def test_no_timer_runs_between_utterances():
    h = RealTime(FakeRecognizer("yes"))
    await h.feed(LOUD, 0.4)
    await h.wait_for(Utterance)
    assert h.listener._timer is None
    await h.close()


async def test_a_change_of_rate_is_followed_and_an_utterance_in_progress_is_dropped():
    class RateRecorder(FakeRecognizer):
        rates: list[int] = []

        def open_stream(self, sample_rate, hints):
            self.rates.append(sample_rate)
            return super().open_stream(sample_rate, hints)

    recognizer = RateRecorder("hello there")
    h = RealTime(recognizer)
    await h.feed(LOUD, 0.3)
    h.listener.set_sample_rate(16000)
    [(_, dropped)] = await h.wait_for(NoiseDiscarded)
    assert dropped.reason == "rate changed"
    loud16 = (np.sin(np.arange(2 * N) / 3) * 8000).astype("<i2").tobytes()
    await h.feed(loud16, 0.4, rate=16000)
    [(_, utt)] = await h.wait_for(Utterance)
    assert recognizer.rates == [8000, 16000]
    assert recognizer.streams[0].cancelled and utt.transcript.text == "hello there"
    await h.close()
