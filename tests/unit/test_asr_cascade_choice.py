"""When the whisper cascade asks base for a second opinion, and what it hands on."""

import asyncio

from voicebot.call.hearing import settled_reading
from voicebot.speech.asr import warm_up_recognizers
from voicebot.speech.asr_cascade import MIN_CONFIDENCE, RUNNER_UP_MARGIN, CascadeRecognizer
from voicebot.speech.asr_whisper import Decoded
from voicebot.types import AudioFrame, RecognitionHints, Transcript


def test_only_unsure_free_text_goes_to_base():
    cascade = CascadeRecognizer(fast=None, accurate=None, name="whisper-cascade",
                                min_confidence=MIN_CONFIDENCE)
    free = RecognitionHints()
    assert cascade.needs_second_opinion(Transcript("the birch canoes lid", MIN_CONFIDENCE - 0.01), free)
    assert cascade.needs_second_opinion(Transcript("", 0.0), free)  # filtered as a hallucination
    assert not cascade.needs_second_opinion(Transcript("the birch canoe slid", MIN_CONFIDENCE), free)
    # the digits grammar is tiny's: base does worse there
    assert not cascade.needs_second_opinion(Transcript("4 7", 0.2), RecognitionHints(slot_type="digits"))
    assert cascade.needs_second_opinion(Transcript("yeah", 0.2), RecognitionHints(slot_type="yes_no"))


def test_a_close_runner_up_reading_sends_free_text_to_base():
    cascade = CascadeRecognizer(fast=None, accurate=None, name="whisper-cascade", min_confidence=MIN_CONFIDENCE)
    close = (("The juice of lemon's mixed fine punch.", 0.8 - RUNNER_UP_MARGIN / 2),)
    far = (("The juice of lemons mixed fine punch.", 0.8 - 2 * RUNNER_UP_MARGIN),)
    heard = "The juice of lemon makes fine punch."
    for kind in (None, "text"):
        hints = RecognitionHints(kind=kind)
        assert cascade.needs_second_opinion(Transcript(heard, 0.8, alternatives=close), hints)
        assert not cascade.needs_second_opinion(Transcript(heard, 0.8, alternatives=far), hints)
        assert not cascade.needs_second_opinion(Transcript(heard, 0.8), hints)
    # short answers: only tiny's confidence decides (the runner-up rule was measured on sentences)
    assert not cascade.needs_second_opinion(Transcript("Yes.", 0.8, alternatives=(("Yes, please.", 0.79),)),
                                            RecognitionHints(slot_type="yes_no"))


def test_each_model_is_warmed_once_when_the_cascades_base_is_also_the_second_hearing():
    class Model:
        warmed = 0

        def warm_up(self) -> None:
            self.warmed += 1

    tiny, base, other = Model(), Model(), Model()
    cascade = CascadeRecognizer(fast=tiny, accurate=base, name="whisper-cascade", min_confidence=MIN_CONFIDENCE)
    warm_up_recognizers(cascade, base)
    assert (tiny.warmed, base.warmed) == (1, 1)
    warm_up_recognizers(tiny, other)  # tiny alone, base as the second hearing
    warm_up_recognizers(other, None)
    assert (tiny.warmed, other.warmed) == (2, 2)


class _Pool:
    """Runs a decode after ``delay_s`` (a busy pool), on the event loop."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.started = 0

    async def run(self, fn, *args):
        self.started += 1
        await asyncio.sleep(self.delay_s)
        return fn(*args)


class _Model:
    """What a ``WhisperStream`` reads of its recogniser; ``decode`` gives ``text`` at ``confidence``."""

    def __init__(self, name: str, text: str, confidence: float, delay_s: float = 0.0,
                 alternatives: tuple[tuple[str, float], ...] = ()) -> None:
        self.name, self.text, self.confidence, self.alternatives = name, text, confidence, alternatives
        self.max_utterance_s = 30.0
        self.pool = _Pool(delay_s)

    def decode(self, audio, hints) -> Decoded:
        return Decoded(self.text, self.confidence, -0.5, 0.0, len(audio) / 16000, self.alternatives)


async def _final(cascade: CascadeRecognizer, hints: RecognitionHints | None = None) -> Transcript:
    stream = cascade.open_stream(8000, hints or RecognitionHints())
    await stream.accept(AudioFrame(bytes(16000), 8000))
    return await stream.finish()


async def test_base_s_reading_goes_with_the_final_and_a_busy_pool_is_not_waited_for():
    tiny = _Model("whisper-tiny", "Talon.", 0.5)
    surer = CascadeRecognizer(tiny, _Model("whisper-base", "Balance.", 0.7), "whisper-cascade", MIN_CONFIDENCE, 1.0)
    final = await _final(surer)
    assert (final.text, final.engine, final.second_reading.text) == ("Balance.", "whisper-cascade", "Balance.")
    less_sure = CascadeRecognizer(tiny, _Model("whisper-base", "Balance.", 0.4), "whisper-cascade", MIN_CONFIDENCE)
    final = await _final(less_sure)
    assert (final.text, final.engine, final.second_reading.text) == ("Talon.", "whisper-tiny", "Balance.")
    busy = _Model("whisper-base", "Balance.", 0.9, delay_s=5.0)
    started = asyncio.get_running_loop().time()
    final = await _final(CascadeRecognizer(tiny, busy, "whisper-cascade", MIN_CONFIDENCE, 0.2))
    assert asyncio.get_running_loop().time() - started < 1.0 and busy.pool.started == 1
    assert final.text == "Talon." and final.second_reading == Transcript("", 0.0, engine="whisper-base")


async def test_at_an_open_question_a_split_beam_is_answered_on_tiny_and_base_s_reading_comes_later():
    split = (("I want to check my balance.", 0.78),)
    tiny = _Model("whisper-tiny", "I want to check my balants.", 0.8, alternatives=split)
    base = _Model("whisper-base", "I want to check my balance.", 0.9, delay_s=0.3)
    cascade = CascadeRecognizer(tiny, base, "whisper-cascade", MIN_CONFIDENCE, 2.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    final = await _final(cascade)
    assert loop.time() - started < 0.2  # not waiting for base
    assert (final.text, final.second_reading) == ("I want to check my balants.", None)
    settled = await settled_reading(final)
    assert loop.time() - started >= 0.3 and base.pool.started == 1
    assert (settled.text, settled.engine, settled.second_reading.text) == (
        "I want to check my balance.", "whisper-cascade", "I want to check my balance.")
    assert settled.later_reading is None and await settled_reading(settled) is settled


async def test_a_free_text_answer_a_number_and_an_unsure_reading_still_wait_for_base():
    split = (("It was left at the door.", 0.78),)
    tiny = _Model("whisper-tiny", "It was left at the dorm.", 0.8, alternatives=split)
    base = _Model("whisper-base", "It was left at the door.", 0.9)
    cascade = CascadeRecognizer(tiny, base, "whisper-cascade", MIN_CONFIDENCE, 2.0)
    text = await _final(cascade, RecognitionHints(kind="text"))  # the words themselves are the answer
    assert (text.text, text.later_reading) == ("It was left at the door.", None)
    # a request that carries a number: its digits are a value, not just an intent
    number = _Model("whisper-tiny", "Track parcel 9876543 to 1000.", 0.8,
                    alternatives=(("Track parcel 9876543210.", 0.78),))
    request = await _final(CascadeRecognizer(number, _Model("whisper-base", "Track parcel 9876543210.", 0.9),
                                             "whisper-cascade", MIN_CONFIDENCE, 2.0))
    assert (request.text, request.later_reading) == ("Track parcel 9876543210.", None)
    unsure = CascadeRecognizer(_Model("whisper-tiny", "It was left at the dorm.", 0.5), base,
                               "whisper-cascade", MIN_CONFIDENCE, 2.0)
    final = await _final(unsure)
    assert (final.text, final.later_reading) == ("It was left at the door.", None)


async def test_a_failed_later_reading_leaves_tiny_s_standing():
    class Broken(_Model):
        def decode(self, audio, hints) -> Decoded:
            raise RuntimeError("model gone")

    split = (("Check my balance.", 0.78),)
    tiny = _Model("whisper-tiny", "Check my balants.", 0.8, alternatives=split)
    final = await _final(CascadeRecognizer(tiny, Broken("whisper-base", "", 0.0), "whisper-cascade",
                                           MIN_CONFIDENCE, 2.0))
    settled = await settled_reading(final)
    assert settled.text == "Check my balants."
    assert settled.second_reading == Transcript("", 0.0, engine="whisper-base")
