"""Real faster-whisper tiny.en behind a Listener, fed real 8 kHz speech (FSDD) in real time."""

import asyncio
import wave

import numpy as np
import pytest

from voicebot.config import Settings
from voicebot.runtime import InferencePool
from voicebot.speech.asr import load_recognizer
from voicebot.speech.listener import BargeIn, Listener, NoiseDiscarded, SpeechStarted, Utterance
from voicebot.speech.wer import normalize
from voicebot.types import AudioFrame, Expectation, RecognitionHints, now

pytestmark = pytest.mark.slow
RATE = 8000
FRAME = 320
DIGITS = Expectation(hints=RecognitionHints(slot_type="digits"))


@pytest.fixture(scope="module")
def recognizer():
    settings = Settings()
    settings.speech.asr_engine = "whisper-tiny"  # the listener over tiny alone (the cascade: test_asr_cascade.py)
    pool = InferencePool(2)
    yield load_recognizer(settings, pool)
    pool.shutdown()


def clip(shared_dir, clip_id: str) -> bytes:
    root = shared_dir / "data" / "asr" / "fsdd_digits_dev"
    with wave.open(str(root / "audio" / f"{clip_id}.wav")) as w:
        return w.readframes(w.getnframes())


def cough(seconds: float = 0.35, seed: int = 0) -> bytes:
    """A cough-like burst: low-passed noise with a sharp attack and a fast decay."""
    rng = np.random.default_rng(seed)
    n = int(RATE * seconds)
    envelope = np.exp(-np.arange(n) / (RATE * 0.08)) * np.minimum(1, np.arange(n) / 80)
    noise = np.convolve(rng.normal(0, 1, n), np.ones(4) / 4, mode="same")
    return (noise * envelope * 12000).astype("<i2").tobytes()


class LiveCall:
    def __init__(self, recognizer, expectation=DIGITS):
        self.listener = Listener(recognizer, RATE, Settings().speech)
        self.listener.expect(expectation)
        self.events: list = []
        self._task = asyncio.get_running_loop().create_task(self._collect())

    async def _collect(self):
        async for event in self.listener.events():
            self.events.append(event)

    async def play(self, pcm: bytes):
        """Send ``pcm`` as 20 ms frames paced in real time, stamped on arrival like the server does."""
        next_at = now()
        for i in range(0, len(pcm), FRAME):
            next_at += 0.02
            await asyncio.sleep(max(0.0, next_at - now()))
            self.listener.feed(AudioFrame(pcm[i:i + FRAME].ljust(FRAME, b"\0"), RATE, now()))

    async def silence(self, seconds: float):
        await self.play(bytes(int(RATE * seconds) * 2))

    async def wait_for(self, kind, timeout: float = 10.0):
        deadline = now() + timeout
        while not any(isinstance(e, kind) for e in self.events) and now() < deadline:
            await self.silence(0.1)
        return [e for e in self.events if isinstance(e, kind)]

    async def close(self):
        await self.listener.close()
        await self._task


@pytest.mark.parametrize("clip_id, digit", [("3_theo_7", "3"), ("7_jackson_5", "7"), ("9_nicolas_6", "9")])
async def test_tiny_hears_a_digit_with_ordered_timing(recognizer, shared_dir, clip_id, digit):
    call = LiveCall(recognizer)
    await call.silence(0.4)
    await call.play(clip(shared_dir, clip_id))
    utterances = await call.wait_for(Utterance)
    await call.close()
    assert len([e for e in call.events if isinstance(e, SpeechStarted)]) == 1
    [utt] = utterances
    assert digit in normalize(utt.transcript.text)
    assert 0.0 < utt.transcript.confidence <= 1.0 and utt.transcript.is_final
    assert utt.transcript.engine == "whisper-tiny"
    assert utt.speech_start < utt.speech_end < utt.first_pause < utt.final_at


async def test_barge_in_ignores_a_cough_and_fires_on_a_word(recognizer, shared_dir):
    call = LiveCall(recognizer, Expectation())
    call.listener.set_bot_speaking(True)
    await call.silence(0.3)
    await call.play(cough())
    await call.silence(1.5)
    assert not any(isinstance(e, BargeIn | Utterance) for e in call.events)
    await call.play(clip(shared_dir, "7_jackson_5"))
    [barge] = await call.wait_for(BargeIn)  # fires on the decode of the first ~300 ms of the word
    call.listener.set_bot_speaking(False)
    [utterance] = await call.wait_for(Utterance)
    await call.close()
    assert normalize(barge.text) and barge.at < utterance.final_at
    assert utterance.speech_start < barge.at


async def test_a_cough_alone_is_discarded_not_a_turn(recognizer):
    call = LiveCall(recognizer, Expectation())
    await call.silence(0.3)
    await call.play(cough(seed=3))
    # the burst is loud and long enough to open a turn; it decodes to nothing
    discarded = await call.wait_for(NoiseDiscarded)
    await call.close()
    assert not any(isinstance(e, Utterance) for e in call.events)
    assert [e.reason for e in discarded] == ["no words"]


def test_trimmed_encoder_hears_what_the_full_window_hears(recognizer, shared_dir):
    """The trimmed encoder (utterance + 2 s, then cached silence) against whisper's full 30 s window,
    on real digits with and without the grammar: the same words, and an encoder output of full size."""
    from voicebot.speech.asr_whisper import WhisperRecognizer, _to_model_rate

    assert recognizer._silence is not None  # tiny.en trims by default
    full = WhisperRecognizer(recognizer.model, recognizer.pool, "full-window", trim_encoder=False)
    clip_ids = ["0_george_5", "3_theo_7", "7_jackson_5", "9_george_5", "5_nicolas_5", "2_lucas_9"]
    agree = 0
    for clip_id in clip_ids:
        audio = _to_model_rate(clip(shared_dir, clip_id), RATE)
        audio = np.concatenate([np.zeros(3200, np.float32), audio, np.zeros(1600, np.float32)])
        assert tuple(recognizer.encode_window(audio).shape) == tuple(full.encode_window(audio).shape)
        for hints in (RecognitionHints(slot_type="digits"), RecognitionHints()):
            agree += normalize(recognizer.decode(audio, hints).text) == normalize(full.decode(audio, hints).text)
    assert agree >= 2 * len(clip_ids) - 2, agree


@pytest.mark.parametrize("expectation", [
    Expectation(hints=RecognitionHints(slot_type="account", kind="digits", digit_count=(8, 8)),
                min_digits=8, max_digits=8),
    Expectation(hints=RecognitionHints(slot_type="account", kind="digits"), min_digits=1, max_digits=8),  # repair
], ids=["length-known", "no-pinned-length"])
async def test_a_number_read_in_groups_is_one_turn(recognizer, tmp_path, expectation):
    """ "three one four, one five nine, two six" with pauses at the commas: one utterance, not three."""
    from voicebot.caller.voices import caller_audio, missing_tools, parse_channel

    if missing_tools():
        pytest.skip(f"missing {missing_tools()}")
    groups = [await asyncio.to_thread(caller_audio, group, "flite-slt", parse_channel("ulaw"), tmp_path)
              for group in ("three one four", "one five nine", "two six")]
    call = LiveCall(recognizer, expectation)
    await call.silence(0.4)
    for audio in groups:
        await call.play(audio.astype("<i2").tobytes())
        await call.silence(0.6)  # a caller's pause between groups, longer than the short end-of-turn silence
    utterances = await call.wait_for(Utterance)
    await call.close()
    assert len(utterances) == 1
    assert sum(t.isdigit() for t in normalize(utterances[0].transcript.text)) >= 6


async def test_a_turn_longer_than_one_window_is_heard_to_its_end(recognizer, shared_dir):
    """A caller talking for 26.7 s in one turn (the MFA monologue, real speech): whisper hears at most 25 s
    at once, so the turn is decoded in two pieces cut at a pause, and its last word is not lost."""
    with wave.open(str(shared_dir / "data" / "asr" / "sentences_dev" / "audio" / "mfa_acoustic_corpus.wav")) as w:
        pcm = w.readframes(w.getnframes())
    assert len(pcm) / (2 * RATE) > 26
    stream = recognizer.open_stream(RATE, RecognitionHints())
    for i in range(0, len(pcm), FRAME):
        await stream.accept(AudioFrame(pcm[i:i + FRAME], RATE))
    words = normalize((await stream.finish()).text)
    assert words[:4] == ["this", "is", "the", "acoustic"], words
    assert words[-5:] == ["that", "should", "be", "all", "thanks"], words  # the last 1.7 s were lost before
