"""A caller's turn understood: the recogniser's reading, and a second hearing when it means nothing.

tiny.en hears every turn fast. When what it heard, and the other readings of its beam (``Nlu.rescued``), is
no request (or only a guess from words far from every example), no request for a person and no value, the
turn's audio is heard again by a second, more accurate recogniser (whisper base) and understood again; that
reading is taken when it means something. Only turns that would otherwise go down the out-of-scope path or to
a "Did you want to …?" on a guess (a whole turn) wait for it, and a turn the dialog understands costs what
tiny alone costs. Asking base when the *understanding* fails gains more than
asking it when tiny's confidence is low, for fewer base decodes (eval/README.md, "Menu answers"). Under a
digits grammar the digit reader has read the number: no second hearing. With ``whisper-cascade`` base may have
heard the turn already (tiny was unsure): its reading (``Transcript.second_reading``) is taken, not decoded again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

import structlog

from voicebot.engines import LanguageUnderstanding, SpeechRecognizer
from voicebot.types import AudioFrame, CallerSignals, RecognitionHints, Transcript, Understanding

log = structlog.get_logger(__name__)
# The second reading's intent is taken at this confidence or more (after the transcript's discount); a value
# or a request for a person at any. Chosen on the flite voices' menu answers (eval/README.md, "Menu answers").
SECOND_READING_MIN_CONFIDENCE = 0.4


@dataclass(frozen=True, slots=True)
class Understood:
    """A turn's understanding and the reading it came from; ``heard_again``: from the second hearing."""

    understanding: Understanding
    transcript: Transcript
    heard_again: bool = False


def tells_nothing(understanding: Understanding, expected_slot: str | None) -> bool:
    """No intent (or only a guess from words far from every example), no request for a person or to wait and,
    when the dialog asked for a value (``expected_slot``), no value: the dialog can only say it did not
    understand, or ask whether the guess is right. A number alone at a menu ("And you track a five, five, …")
    is no request."""
    if (understanding.intent is not None and not understanding.far_from_examples) \
            or understanding.human_request or understanding.wait_request:
        return False
    return expected_slot is None or not understanding.entities


async def hear_again(recognizer: SpeechRecognizer, audio: AudioFrame, hints: RecognitionHints) -> Transcript:
    """``audio`` decoded once more by ``recognizer``, with the same hints."""
    stream = recognizer.open_stream(audio.sample_rate, hints)
    try:
        await stream.accept(audio)
        return await stream.finish()
    except asyncio.CancelledError:
        stream.cancel()  # still queued in the pool: never runs
        raise


async def settled_reading(transcript: Transcript) -> Transcript:
    """The turn's best reading: ``transcript``, or the reading it gets later (``Transcript.later_reading``)
    once that is made. Awaiting it never cancels the making: the turn's record still takes it."""
    if transcript.later_reading is None:
        return transcript
    return await asyncio.shield(transcript.later_reading)


async def understand_turn(nlu: LanguageUnderstanding, transcript: Transcript, hints: RecognitionHints,
                          signals: CallerSignals | None = None, audio: AudioFrame | None = None,
                          second_hearing: SpeechRecognizer | None = None, max_wait_s: float | None = None,
                          ) -> Understood:
    """``transcript`` understood under ``hints`` (what the dialog asked); when that tells nothing and
    ``second_hearing`` is given with the turn's ``audio``, the audio heard again and understood again. A second
    hearing not done within ``max_wait_s`` is given up (the caller is waiting in silence): the first reading
    stands."""
    understanding = await nlu.understand(transcript.text, transcript.confidence, hints.slot_type, signals=signals,
                                         heard_otherwise=transcript.alternatives)
    first = Understood(understanding, transcript)
    if second_hearing is None or audio is None or hints.kind == "digits" \
            or not tells_nothing(understanding, hints.slot_type):
        return first
    again = transcript.second_reading  # the cascade's base already heard it
    if again is None:
        try:
            if transcript.later_reading is not None:  # or is hearing it now
                again = (await asyncio.wait_for(settled_reading(transcript), max_wait_s)).second_reading
            if again is None:
                again = await asyncio.wait_for(hear_again(second_hearing, audio, hints), max_wait_s)
        except TimeoutError:
            log.info("second hearing too slow: the first reading stands", waited_s=max_wait_s)
            return first
        except Exception as error:  # the first reading stands: a failed second opinion is no failed turn
            log.warning("second hearing failed", error=repr(error))
            return first
    if not again.text.strip() or again.text.strip() == transcript.text.strip():
        return first
    # base's best reading only: its beam's other readings turned off-topic requests into requests ("Order a
    # pizza." -> "I'll remember our fees."), and a doubtful intent from it is more often wrong than right
    second = await nlu.understand(again.text, again.confidence, hints.slot_type, signals=signals)
    if tells_nothing(second, hints.slot_type) or (
            second.intent is not None and not second.human_request
            and second.confidence < SECOND_READING_MIN_CONFIDENCE):
        return first
    return Understood(second, replace(again, voice=transcript.voice), heard_again=True)
