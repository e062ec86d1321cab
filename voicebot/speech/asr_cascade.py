"""Whisper cascade: tiny.en hears every turn fast; whisper base re-hears the ones tiny is unsure of.

The listener asks for a speculative decode at the caller's first pause (``pause()``) and the final one
when the turn ends (``finish()``, 0.35 s after the last word). tiny.en with the trimmed encoder makes
both in time; base, more accurate on sentences, does not. So every decode is tiny's, and when the final
one's confidence is under ``min_confidence``, or (free text) its beam's runner-up reading trails it by less
than :data:`RUNNER_UP_MARGIN`, the turn's audio is decoded again by base. Base starts at the end of the turn,
not at a pause: a pause inside a sentence decodes to unsure text, and a base decode started there cannot be
stopped when the caller goes on (it held the pool while the next tiny decode waited: live p50 +0.2 s). Under
the digits grammar (tuned on tiny, where base does worse) tiny's reading stands.

Who waits for base: a turn under ``min_confidence``, and a free-text answer whose words are the value (hint
kind ``text``), are answered on base's reading. At an open question (no hint kind: the answer is a request, an
intent) a turn sure enough but with a split beam and no number in it is answered on tiny's reading at once,
and base's comes later (``Transcript.later_reading``) for the turn's record and for the second hearing if
tiny's words mean nothing (``call/hearing.py``): the runner-up rule costs such a turn no time. A request that
carries a number waits for base: its digits are a value.

The more confident of the two readings is kept (both confidences are whisper's
``exp(avg_logprob)``-based score, comparable across the two models). Whichever is kept, base's reading goes
with the final (``Transcript.second_reading``), so the turn's second hearing does not decode the same audio
again. Base is waited for at most ``max_wait_s`` (``speech.second_hearing_max_s``); when the pool is too busy
for that, tiny's reading stands with an empty second reading. Figures and the threshold's choice:
eval/README.md, section ASR.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import structlog

from voicebot.speech.asr_whisper import WhisperRecognizer, WhisperStream
from voicebot.speech.turn import digit_count
from voicebot.types import SAMPLE_WIDTH, AudioFrame, RecognitionHints, Transcript

log = structlog.get_logger(__name__)

MIN_CONFIDENCE = 0.6  # tiny's confidence under which base hears the turn again (eval/README.md, ASR)
RUNNER_UP_MARGIN = 0.05  # free text: base also hears a turn whose beam's next reading is this close to tiny's best
FREE_TEXT_KINDS = (None, "text")  # questions answered in sentences, where the runner-up rule was measured


class CascadeRecognizer:
    """``engines.SpeechRecognizer`` over a fast and an accurate whisper model sharing one pool."""

    def __init__(self, fast: WhisperRecognizer, accurate: WhisperRecognizer, name: str,
                 min_confidence: float, max_wait_s: float | None = None) -> None:
        self.fast = fast
        self.accurate = accurate
        self.name = name
        self.min_confidence = min_confidence
        self.max_wait_s = max_wait_s  # how long a turn may wait for base (a busy pool); None: as long as it takes

    def warm_up(self) -> None:
        self.fast.warm_up()
        self.accurate.warm_up()

    def open_stream(self, sample_rate: int, hints: RecognitionHints) -> CascadeStream:
        return CascadeStream(self, sample_rate, hints)

    def needs_second_opinion(self, transcript: Transcript, hints: RecognitionHints) -> bool:
        """tiny's ``transcript`` is unsure enough for base to hear the audio again: its confidence is low, or, for
        free text, its beam's runner-up reading (other words, ``Transcript.alternatives``) is nearly as likely."""
        if hints.kind == "digits":
            return False
        if transcript.confidence < self.min_confidence:
            return True
        runner_up = max((confidence for _, confidence in transcript.alternatives), default=0.0)
        return hints.kind in FREE_TEXT_KINDS and runner_up >= transcript.confidence - RUNNER_UP_MARGIN


class CascadeStream:
    """One utterance: tiny decodes on ``pause()``/``finish()``; base, on a stream of its own fed the same
    audio, at ``finish()`` when tiny is unsure."""

    def __init__(self, recognizer: CascadeRecognizer, sample_rate: int, hints: RecognitionHints) -> None:
        self._rec = recognizer
        self._rate = sample_rate
        self._hints = hints
        self._fast = WhisperStream(recognizer.fast, sample_rate, hints)
        self._max_bytes = int(recognizer.accurate.max_utterance_s * sample_rate) * SAMPLE_WIDTH
        self._pcm = bytearray()

    async def accept(self, frame: AudioFrame) -> Transcript | None:
        await self._fast.accept(frame)
        room = self._max_bytes - len(self._pcm)
        if room > 0:
            self._pcm += frame.pcm[:room]
        return None

    async def pause(self) -> Transcript | None:
        return await self._fast.pause()

    async def finish(self) -> Transcript:
        fast = await self._fast.finish()
        if not self._rec.needs_second_opinion(fast, self._hints):
            return fast
        pcm = bytes(self._pcm)
        sure = fast.confidence >= self._rec.min_confidence
        if self._hints.kind is None and sure and not digit_count(fast.text):
            # sure enough to answer on, only its beam is split, at an open question (the answer is an intent,
            # not the words themselves): the dialog answers on tiny's reading at once, and the turn's record
            # takes base's when it is done. A request that carries a number ("track parcel 98765…") waits:
            # its digits are a value
            later = asyncio.ensure_future(self._heard_again(fast, pcm, in_background=True))
            return replace(fast, later_reading=later)
        return await self._heard_again(fast, pcm)

    async def _heard_again(self, fast: Transcript, pcm: bytes, in_background: bool = False) -> Transcript:
        """The turn's reading after base heard ``pcm`` again: the more confident of the two, with base's as
        its second reading (tiny's with an empty one when base did not answer within ``max_wait_s``)."""
        second = WhisperStream(self._rec.accurate, self._rate, self._hints)
        await second.accept(AudioFrame(pcm, self._rate))
        try:
            accurate = await asyncio.wait_for(second.finish(), self._rec.max_wait_s)
        except TimeoutError:  # the pool is busy: tiny's reading stands, and no second hearing waits for base
            second.cancel()
            return replace(fast, second_reading=Transcript("", 0.0, engine=self._rec.accurate.name))
        except asyncio.CancelledError:
            second.cancel()  # still queued in the pool: never runs
            raise
        except Exception as error:
            if not in_background:
                raise
            # nobody waits on this reading but the record: tiny's stands
            log.warning("second reading failed", error=repr(error))
            return replace(fast, second_reading=Transcript("", 0.0, engine=self._rec.accurate.name))
        if accurate.confidence <= fast.confidence:
            return replace(fast, second_reading=accurate)  # the second hearing decodes nothing again
        return Transcript(accurate.text, accurate.confidence, is_final=True, audio_seconds=accurate.audio_seconds,
                          engine=self._rec.name, language=accurate.language, alternatives=accurate.alternatives,
                          second_reading=accurate)

    def cancel(self) -> None:
        self._fast.cancel()
        self._pcm = bytearray()
