"""Whisper cascade: tiny.en hears every turn fast; whisper base re-hears the ones tiny is unsure of.

The listener asks for a speculative decode at the caller's first pause (``pause()``) and the final one
when the turn ends (``finish()``, 0.35 s after the last word). tiny.en with the trimmed encoder makes
both in time; base, more accurate on sentences, does not. So every decode is tiny's first, and when its
confidence is under ``min_confidence`` the same audio is decoded again by base, started as soon as
tiny's speculative result is known: only the unsure turns wait for base. Under the digits grammar
(tuned on tiny, where base does worse) tiny's reading stands.

The more confident of the two readings is kept (both confidences are whisper's
``exp(avg_logprob)``-based score, comparable across the two models). Figures and the threshold's choice:
eval/README.md, section ASR.
"""

from __future__ import annotations

import asyncio

from voicebot.speech.asr_whisper import WhisperRecognizer, WhisperStream
from voicebot.types import SAMPLE_WIDTH, AudioFrame, RecognitionHints, Transcript

MIN_CONFIDENCE = 0.7  # tiny's confidence under which base hears the turn again (eval/README.md, ASR)


class CascadeRecognizer:
    """``engines.SpeechRecognizer`` over a fast and an accurate whisper model sharing one pool."""

    def __init__(self, fast: WhisperRecognizer, accurate: WhisperRecognizer, name: str,
                 min_confidence: float) -> None:
        self.fast = fast
        self.accurate = accurate
        self.name = name
        self.min_confidence = min_confidence

    def warm_up(self) -> None:
        self.fast.warm_up()
        self.accurate.warm_up()

    def open_stream(self, sample_rate: int, hints: RecognitionHints) -> CascadeStream:
        return CascadeStream(self, sample_rate, hints)

    def needs_second_opinion(self, transcript: Transcript, hints: RecognitionHints) -> bool:
        """tiny's ``transcript`` is unsure enough for base to hear the audio again."""
        return hints.kind != "digits" and transcript.confidence < self.min_confidence


class CascadeStream:
    """One utterance: tiny decodes on ``pause()``/``finish()``; base, on a stream of its own holding the
    same audio, when tiny is unsure."""

    def __init__(self, recognizer: CascadeRecognizer, sample_rate: int, hints: RecognitionHints) -> None:
        self._rec = recognizer
        self._rate = sample_rate
        self._hints = hints
        self._fast = WhisperStream(recognizer.fast, sample_rate, hints)
        self._max_bytes = int(recognizer.accurate.max_utterance_s * sample_rate) * SAMPLE_WIDTH
        self._pcm = bytearray()
        # base's decode of the audio so far: its stream and the task awaiting the result
        self._second: tuple[WhisperStream, asyncio.Task[Transcript]] | None = None

    async def accept(self, frame: AudioFrame) -> Transcript | None:
        await self._fast.accept(frame)
        room = self._max_bytes - len(self._pcm)
        if room > 0:
            self._pcm += frame.pcm[:room]
        self._drop_second()  # more audio: base's decode is stale
        return None

    async def pause(self) -> Transcript | None:
        transcript = await self._fast.pause()
        if transcript is not None and self._rec.needs_second_opinion(transcript, self._hints):
            self._start_second()
        return transcript

    async def finish(self) -> Transcript:
        fast = await self._fast.finish()
        if not self._rec.needs_second_opinion(fast, self._hints):
            self._drop_second()
            return fast
        if self._second is None:
            self._start_second()
        assert self._second is not None
        accurate = await self._second[1]
        if accurate.confidence <= fast.confidence:
            return fast
        return Transcript(accurate.text, accurate.confidence, is_final=True, audio_seconds=accurate.audio_seconds,
                          engine=self._rec.name, language=accurate.language)

    def cancel(self) -> None:
        self._drop_second()
        self._fast.cancel()
        self._pcm = bytearray()

    def _start_second(self) -> None:
        if self._second is None:
            stream = WhisperStream(self._rec.accurate, self._rate, self._hints)
            self._second = (stream, asyncio.ensure_future(self._decode(stream, bytes(self._pcm))))

    async def _decode(self, stream: WhisperStream, pcm: bytes) -> Transcript:
        await stream.accept(AudioFrame(pcm, self._rate))
        return await stream.finish()

    def _drop_second(self) -> None:
        if self._second is not None:
            stream, task = self._second
            stream.cancel()  # a decode still queued in the pool never runs
            task.cancel()
            self._second = None
