"""The beam's other readings at a menu, with the real recogniser and the banking bundle's real NLU."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebot.caller.voices import caller_audio, parse_channel
from voicebot.config import Settings
from voicebot.designer.conversation_tests import real_nlu_factory
from voicebot.dialog.loader import load_bundle
from voicebot.runtime import InferencePool
from voicebot.speech.asr import load_recognizer
from voicebot.speech.asr_whisper import _to_model_rate
from voicebot.speech.wer import normalize
from voicebot.types import RecognitionHints

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def banking_nlu():
    return real_nlu_factory()(load_bundle(ROOT / "dialogs" / "banking.yaml")[0])


def test_a_free_decode_passes_on_other_readings_and_a_digits_reading_none(tmp_path) -> None:
    def audio(line: str):
        pcm = caller_audio(line, "flite-rms", parse_channel("ulaw"), cache_dir=tmp_path)
        return _to_model_rate(pcm.astype("<i2").tobytes(), 8000)

    pool = InferencePool(1)
    try:
        recognizer = load_recognizer(Settings(speech={"asr_engine": "whisper-tiny"}), pool)  # tiny's own beam
        free = recognizer.decode(audio("did my payment go through"),
                                 RecognitionHints(("check your balance", "check a transfer")))
        digits = recognizer.decode(audio("four five six seven"), RecognitionHints(slot_type="digits"))
    finally:
        pool.shutdown()
    readings = [" ".join(normalize(text)) for text, _ in free.alternatives]
    assert readings and len(set(readings)) == len(readings) and " ".join(normalize(free.text)) not in readings
    assert all(0 < confidence <= 1 for _, confidence in free.alternatives)
    assert digits.text.replace(" ", "") == "4567" and digits.alternatives == ()


def test_the_banking_menu_takes_a_reading_that_is_a_request(banking_nlu) -> None:
    """flite-rms over GSM with babble, as decoded (eval/results/menu_answers_flite_nbest.json)."""
    heard = banking_nlu.understand_sync("Keep my team in to go through it.", 0.688, heard_otherwise=[
        ("Give my payment to go through it.", 0.673), ("Get my team in to go through it.", 0.63)])
    assert heard.intent == "transfer_status" and heard.text == "Give my payment to go through it."
    assert banking_nlu.understand_sync("Keep my team in to go through it.", 0.688).intent is None


def test_an_off_topic_request_heard_right_stays_out_of_scope(banking_nlu) -> None:
    heard = banking_nlu.understand_sync("Tell me a joke.", 0.8, heard_otherwise=[
        ("Tell me a joke!", 0.7), ("Tell me the joke.", 0.6), ("Tell me a choke.", 0.5)])
    assert heard.intent is None and heard.text == "Tell me a joke."
