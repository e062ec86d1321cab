"""The second hearing with the real models: whisper base hears a menu answer's audio again, the banking bundle's
real NLU understands it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from voicebot.call.hearing import understand_turn
from voicebot.caller.voices import caller_audio, parse_channel
from voicebot.config import Settings
from voicebot.designer.conversation_tests import real_nlu_factory
from voicebot.dialog.loader import load_bundle
from voicebot.runtime import InferencePool
from voicebot.speech.asr import load_recognizer, load_second_hearing
from voicebot.speech.asr_whisper import WhisperRecognizer
from voicebot.types import AudioFrame, RecognitionHints, Transcript

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
MENU = RecognitionHints(("check your balance", "report a lost or stolen card", "check a transfer"))


def test_a_menu_answer_read_as_nothing_is_heard_again_by_base_and_understood(tmp_path) -> None:
    pcm = caller_audio("I want to check my balance", "flite-awb", parse_channel("ulaw"), cache_dir=tmp_path)
    audio = AudioFrame(np.concatenate([np.zeros(1600, np.int16), pcm.astype(np.int16),
                                       np.zeros(800, np.int16)]).astype("<i2").tobytes(), 8000)
    nlu = real_nlu_factory()(load_bundle(ROOT / "dialogs" / "banking.yaml")[0])
    pool = InferencePool(1)
    try:
        settings = Settings()
        tiny = load_recognizer(settings, pool)
        base = load_second_hearing(settings, pool, tiny)
        assert isinstance(base, WhisperRecognizer) and base.name == "whisper-base" and base is not tiny
        assert load_second_hearing(Settings(speech={"second_hearing": "none"}), pool, tiny) is None
        # tiny's reading as it goes wrong over a bad line ("balance" -> "Finally."): no request
        misheard = Transcript("Finally.", 0.45)
        understood = asyncio.run(understand_turn(nlu, misheard, MENU, audio=audio, second_hearing=base))
    finally:
        pool.shutdown()
    assert understood.heard_again and understood.understanding.intent == "check_balance"
    assert "balance" in understood.transcript.text.lower() and understood.transcript.engine == "whisper-base"
