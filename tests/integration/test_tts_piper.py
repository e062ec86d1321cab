"""Real Piper voice through the Speaker: streaming per sentence, call rates, levels and the disk cache."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from voicebot.audio.codecs import rms_dbfs
from voicebot.config import Settings
from voicebot.runtime import InferencePool
from voicebot.speech.tts import Speaker, load_synthesizer
from voicebot.speech.tts_piper import PiperSynthesizer

pytestmark = pytest.mark.slow

REPLY = "Your balance is $1,250.50. Is there anything else I can help you with?"


class Counting:
    """Wraps a synthesizer and counts what it is asked to say."""

    def __init__(self, inner: PiperSynthesizer) -> None:
        self.inner = inner
        self.name, self.sample_rate, self.fingerprint = inner.name, inner.sample_rate, inner.fingerprint
        self.requests: list[str] = []

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        self.requests.append(text)
        async for pcm in self.inner.synthesize(text):
            yield pcm


@pytest.fixture(scope="module")
def pool() -> Iterator[InferencePool]:
    pool = InferencePool(2)
    yield pool
    pool.shutdown()


@pytest.fixture(scope="module")
def piper(pool: InferencePool) -> PiperSynthesizer:
    synthesizer = load_synthesizer(Settings(), pool)
    assert isinstance(synthesizer, PiperSynthesizer)
    return synthesizer


async def test_native_stream_is_one_chunk_per_sentence(piper: PiperSynthesizer) -> None:
    chunks = [pcm async for pcm in piper.synthesize("Hello. Goodbye.")]
    assert piper.sample_rate == 22050 and len(chunks) == 2
    assert all(0.3 < len(pcm) / 2 / 22050 < 2.0 for pcm in chunks)


@pytest.mark.parametrize("rate", [8000, 16000])
async def test_two_sentence_reply_at_the_call_rate(piper: PiperSynthesizer, pool: InferencePool,
                                                   tmp_path: Path, rate: int) -> None:
    counting = Counting(piper)
    speaker = Speaker(counting, tmp_path, pool)
    chunks = [pcm async for pcm in speaker.speak(REPLY, rate)]
    assert counting.requests == ["Your balance is one thousand two hundred fifty dollars and fifty cents.",
                                 "Is there anything else I can help you with?"]
    assert len(chunks) >= 2
    pcm = b"".join(chunks)
    seconds = len(pcm) / 2 / rate
    assert 4.0 < seconds < 12.0  # 21 words at a telephone pace
    assert -30.0 < rms_dbfs(pcm) < -10.0


async def test_disk_cache_hit_is_identical_and_skips_synthesis(piper: PiperSynthesizer, pool: InferencePool,
                                                              tmp_path: Path) -> None:
    first = Counting(piper)
    rendered = b"".join([pcm async for pcm in Speaker(first, tmp_path, pool).speak(REPLY, 8000, cache=True)])
    assert len(first.requests) == 2 and len(list(tmp_path.glob("*.wav"))) == 1
    second = Counting(piper)
    again = [pcm async for pcm in Speaker(second, tmp_path, pool).speak(REPLY, 8000, cache=True)]
    assert b"".join(again) == rendered and second.requests == []


async def test_spoken_forms_are_understood_by_a_recogniser(piper: PiperSynthesizer) -> None:
    """Round trip through Whisper: the say-as readings come back as the same numbers and ids."""
    import numpy as np
    from faster_whisper import WhisperModel

    from voicebot.models import resolve
    from voicebot.speech.say_as import normalize

    # Two listeners: a reading is understood when either hears it (tiny.en alone drops a word of a fast
    # "four three two one" on some machines' numerics, base formats money its own way).
    listeners = [WhisperModel(str(resolve(name)), device="cpu", compute_type="int8", cpu_threads=1)
                 for name in ("asr_fast", "asr_accurate")]
    cases = {"Your balance is $1,250.50.": "1,250.50", "The card ending in 4321.": "4321",
             "Your code is {spell:AB12}.": "AB12"}
    for text, expected in cases.items():
        # Piper samples its prosody noise, so each rendering differs: most renderings must come back right.
        heard_each_time = []
        for _ in range(3):
            pcm = piper.synthesize_pcm(normalize(text), 16000)
            audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
            heard = []
            for listener in listeners:
                segments, _ = listener.transcribe(audio, beam_size=1, language="en")
                heard.append("".join(segment.text for segment in segments))
            heard_each_time.append(heard)
        understood = [heard for heard in heard_each_time
                      if any(expected in text.replace(" ", "").replace("-", "") for text in heard)]
        assert len(understood) >= 2, heard_each_time
