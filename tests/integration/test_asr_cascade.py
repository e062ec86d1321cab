"""The whisper cascade (tiny.en, then base on the turns tiny is unsure of) on real 8 kHz sentences from
the ASR dev set, decoded as the listener drives a stream and live behind a Listener."""

import asyncio
import json
import wave

import pytest

from voicebot.config import Settings
from voicebot.runtime import InferencePool
from voicebot.speech.asr import load_recognizer
from voicebot.speech.asr_cascade import CascadeRecognizer
from voicebot.speech.listener import Listener, Utterance
from voicebot.speech.wer import wer
from voicebot.types import AudioFrame, Expectation, RecognitionHints, now

pytestmark = pytest.mark.slow
RATE = 8000
FRAME = 320


@pytest.fixture(scope="module")
def recognizer():
    settings = Settings()
    settings.speech.asr_engine = "whisper-cascade"
    pool = InferencePool(2)
    yield load_recognizer(settings, pool)
    pool.shutdown()


def sentences(shared_dir, count: int) -> list[tuple[bytes, str]]:
    """``count`` read sentences spread over the dev set's speakers: (8 kHz PCM, reference)."""
    root = shared_dir / "data" / "asr" / "sentences_dev"
    rows = [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["category"] == "read_sentence" and r["duration_s"] < 6]
    out = []
    for row in rows[::len(rows) // count][:count]:
        with wave.open(str(root / row["audio"])) as w:
            out.append((w.readframes(w.getnframes()), row["text"]))
    return out


async def test_cascade_hears_real_sentences(recognizer, shared_dir):
    assert isinstance(recognizer, CascadeRecognizer)
    pairs, engines = [], set()
    pause = bytes(int(RATE * 0.1) * 2)
    for pcm, reference in sentences(shared_dir, 8):
        stream = recognizer.open_stream(RATE, RecognitionHints())
        audio = bytes(int(RATE * 0.2) * 2) + pcm + pause
        for i in range(0, len(audio), FRAME):
            await stream.accept(AudioFrame(audio[i:i + FRAME], RATE))
        speculative = await stream.pause()  # as the listener asks at the first pause
        final = await stream.finish()
        assert speculative is not None and not speculative.is_final and final.is_final
        assert 0.0 <= final.confidence <= 1.0
        pairs.append((reference, final.text))
        engines.add(final.engine)
        if final.engine == "whisper-cascade":  # base's reading won: it is also the second reading
            assert final.second_reading is not None and final.second_reading.text == final.text
        elif final.second_reading is not None:  # base heard it and was less sure: its reading goes along
            assert final.second_reading.confidence <= final.confidence
            assert recognizer.needs_second_opinion(final, RecognitionHints())  # unsure, or its beam split
    assert wer(pairs).wer <= 0.15, pairs
    assert engines <= {"whisper-tiny", "whisper-cascade"}


async def test_digits_stay_with_tiny_and_its_grammar(recognizer, shared_dir):
    root = shared_dir / "data" / "asr" / "fsdd_digits_dev" / "audio"
    heard = []
    for clip_id, digit in (("3_theo_7", "3"), ("7_jackson_5", "7"), ("9_nicolas_6", "9")):
        with wave.open(str(root / f"{clip_id}.wav")) as w:
            pcm = bytes(3200) + w.readframes(w.getnframes()) + bytes(1600)
        stream = recognizer.open_stream(RATE, RecognitionHints(slot_type="digits"))
        await stream.accept(AudioFrame(pcm, RATE))
        final = await stream.finish()
        assert final.engine == "whisper-tiny"
        heard.append((digit, final.text))
    assert wer(heard).errors <= 1, heard


async def test_cascade_behind_a_listener_in_real_time(recognizer, shared_dir):
    settings = Settings()
    [(pcm, reference)] = sentences(shared_dir, 1)
    listener = Listener(recognizer, RATE, settings.speech)
    listener.expect(Expectation())
    events: list = []

    async def collect():
        async for event in listener.events():
            events.append(event)

    task = asyncio.create_task(collect())
    audio = bytes(RATE) + pcm + bytes(3 * RATE)
    next_at = now()
    for i in range(0, len(audio), FRAME):
        next_at += 0.02
        await asyncio.sleep(max(0.0, next_at - now()))
        listener.feed(AudioFrame(audio[i:i + FRAME].ljust(FRAME, b"\0"), RATE, now()))
    deadline = now() + 10
    while not any(isinstance(e, Utterance) for e in events) and now() < deadline:
        await asyncio.sleep(0.05)
    await listener.close()
    await task
    utterances = [e for e in events if isinstance(e, Utterance)]
    assert utterances
    assert wer([(reference, " ".join(u.transcript.text for u in utterances))]).wer <= 0.25
    assert all(u.speech_end < u.final_at for u in utterances)
