"""Piper TTS (piper-tts 1.8, ONNX) with the packaged en_US "joe" medium voice.

One :class:`PiperSynthesizer` is loaded at start-up and shared by all calls. Each sentence is one
onnxruntime run in the shared :class:`~voicebot.runtime.InferencePool`; the session uses one intra-op
thread, so two pool workers synthesize two sentences (or a sentence and an ASR decode) in parallel on
two cores instead of fighting over them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import onnxruntime
from piper.config import PiperConfig, SynthesisConfig
from piper.voice import AudioChunk, PiperVoice

from voicebot.audio.codecs import resample
from voicebot.models import resolve
from voicebot.runtime import InferencePool, Priority

# Piper scales every sentence to full scale; a little headroom keeps resampler overshoot from clipping.
_VOLUME = 0.9


def _next_pcm(chunks: Iterator[AudioChunk]) -> bytes | None:
    """Synthesize the next sentence (runs in the pool): int16 PCM, or None at the end."""
    chunk = next(chunks, None)
    return None if chunk is None else chunk.audio_int16_bytes


_WARM_UP = ("Thank you for calling; I can help you check a balance, track a parcel or an order, reset a password, "
            "or put you through to one of our agents, so just tell me in a few words what you need today.")


class PiperSynthesizer:
    """A loaded Piper voice. Yields native-rate (22 050 Hz) int16 PCM, one chunk per sentence."""

    def __init__(self, voice: PiperVoice, pool: InferencePool, name: str, fingerprint: str,
                 config: SynthesisConfig) -> None:
        self._voice = voice
        self._pool = pool
        self._config = config
        self.name = name
        self.fingerprint = fingerprint  # changes when the model file or the synthesis settings change
        self.sample_rate: int = voice.config.sample_rate

    @classmethod
    def load(cls, pool: InferencePool, model_path: Path | None = None, length_scale: float = 1.0,
             threads: int = 1) -> PiperSynthesizer:
        """Load the voice (default: the ``tts_voice`` model package) and warm it with one sentence.

        Blocking (≈ 0.5 s): call it at start-up. ``length_scale`` < 1 speaks faster.
        """
        model_path = Path(model_path) if model_path else resolve("tts_voice")
        config = PiperConfig.from_dict(json.loads(Path(f"{model_path}.json").read_text(encoding="utf-8")))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.enable_cpu_mem_arena = False
        session = onnxruntime.InferenceSession(str(model_path), sess_options=options,
                                               providers=["CPUExecutionProvider"])
        stat = model_path.stat()
        synthesizer = cls(
            PiperVoice(session=session, config=config),
            pool,
            name=f"piper:{model_path.name.removesuffix('.onnx')}",
            fingerprint=f"{model_path.name}:{stat.st_size}:{stat.st_mtime_ns}:ls={length_scale}:v={_VOLUME}",
            config=SynthesisConfig(length_scale=length_scale, volume=_VOLUME),
        )
        synthesizer.warm_up()
        return synthesizer

    def warm_up(self) -> None:
        """The first runs in a thread make onnxruntime's buffers: make them now, for a long sentence."""
        self.synthesize_pcm(_WARM_UP, self.sample_rate)

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        """Native-rate PCM, one chunk per sentence as soon as it is ready; the work runs in the pool."""
        chunks = iter(self._voice.synthesize(text, self._config))
        while (pcm := await self._pool.run(_next_pcm, chunks, priority=Priority.SPEAK)) is not None:
            yield pcm

    def synthesize_pcm(self, text: str, sample_rate: int) -> bytes:
        """Blocking: the whole text at ``sample_rate`` (for the caller simulator and tests)."""
        pcm = b"".join(chunk.audio_int16_bytes for chunk in self._voice.synthesize(text, self._config))
        return resample(pcm, self.sample_rate, sample_rate)
