"""One utterance -> ``Understanding``: intent (with out-of-scope), confidence, entities, emotion.

``Nlu`` is built per flow bundle (its intent classifier and slot types) and shares the loaded models.
The utterance is embedded once for the intents; the emotion model runs its own fine-tuned encoder (a few ms),
weighing the call's signals (``CallerSignals``: turns not understood, the voice's arousal) when given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date

from voicebot.engines import EmotionDetector
from voicebot.nlu.entities import WRONG_LENGTH_CONFIDENCE, SlotTypeSpec, extract
from voicebot.nlu.human_request import asks_whom, find_human_request
from voicebot.nlu.intents import IntentClassifier
from voicebot.nlu.normalize import find_correction
from voicebot.runtime import InferencePool, Priority
from voicebot.types import CallerSignals, Entity, Understanding


# A request for a person (``nlu/human_request.py``) is always honoured ("zero out"), even inside a long, angry
# sentence the classifier finds out of scope: "This is ridiculous, nothing works. Get me a human now!". Said
# with words of asking, it lifts a doubtful "agent" to this; a declined one ("no, I don't need an agent")
# is no "agent".
HUMAN_REQUEST_CONFIDENCE = 0.9
# The final punctuation the recogniser writes and the flows' examples lack: "help." scored 0.58 where
# "help" scores 0.82 (logistics flow), enough to miss the help handler. Inner commas stay: they help the
# encoder read clauses ("my top up of fifty dollars failed, card ending ...").
_FINAL_PUNCTUATION = " .!?,;:"
AGENT_INTENT = "agent"


def scale_confidence(confidence: float, transcript_confidence: float) -> float:
    """Intent confidence discounted by ASR confidence: unchanged at 1.0, halved at 0.0."""
    return confidence * (0.5 + 0.5 * min(1.0, max(0.0, transcript_confidence)))


class Nlu:
    """Implements ``engines.LanguageUnderstanding`` for one flow bundle."""

    def __init__(self, classifier: IntentClassifier, slot_types: Mapping[str, SlotTypeSpec],
                 emotion: EmotionDetector | None, pool: InferencePool | None) -> None:
        self.classifier = classifier
        self.slot_types = dict(slot_types)
        self.emotion = emotion
        self.pool = pool  # None: ``understand`` runs inline (tests, ``voicebot chat``)

    async def understand(self, text: str, transcript_confidence: float = 1.0,
                         expected_slot: str | None = None, signals: CallerSignals | None = None) -> Understanding:
        if self.pool is None:
            return self.understand_sync(text, transcript_confidence, expected_slot, signals=signals)
        return await self.pool.run(self.understand_sync, text, transcript_confidence, expected_slot,
                                   signals=signals, priority=Priority.UNDERSTAND)

    def understand_sync(self, text: str, transcript_confidence: float = 1.0, expected_slot: str | None = None,
                        today: date | None = None, signals: CallerSignals | None = None) -> Understanding:
        """Blocking. ``expected_slot`` names a slot type (a key of ``slot_types``) the dialog asked for;
        ``signals``: what the call knows of the caller beyond these words (for the emotion)."""
        if not text.strip():
            return Understanding(text=text, intent=None, confidence=0.0,
                                 transcript_confidence=transcript_confidence)
        vector = self.classifier.embedder.embed([text.rstrip(_FINAL_PUNCTUATION) or text])[0]
        prediction = self.classifier.predict_vector(vector)
        intent, confidence = prediction.intent, prediction.confidence
        ranking = prediction.ranking[1:]
        request = find_human_request(text) if AGENT_INTENT in self.classifier.intents else None
        asked = request is not None and not request.declined
        # "no, I don't need an agent", "are you a real person?": no "agent"; the next best, if any
        if intent == AGENT_INTENT and ((request is not None and request.declined)
                                       or (request is None and asks_whom(text))):
            intent, confidence = (ranking[0] if ranking and ranking[0][1] >= self.classifier.threshold
                                  else (None, 0.0))
            ranking = ranking[1:]
        elif (request is not None and asked and (request.explicit or intent != AGENT_INTENT)
              and (intent in (None, AGENT_INTENT) or confidence < 0.6)):
            # a doubtful "agent" too ("put me through 10 agent": agent at 0.62)
            intent, confidence = AGENT_INTENT, max(confidence, HUMAN_REQUEST_CONFIDENCE)
        correction = find_correction(text)
        return Understanding(
            text=text,
            intent=intent,
            confidence=scale_confidence(confidence, transcript_confidence),
            entities=self.entities(text, expected_slot, today, correction),
            emotion=self.emotion.detect(text, signals) if self.emotion is not None else None,
            alternatives=tuple((name, scale_confidence(p, transcript_confidence)) for name, p in ranking),
            transcript_confidence=transcript_confidence,
            correction=correction,
            human_request=asked,
        )

    def entities(self, text: str, expected_slot: str | None = None, today: date | None = None,
                 correction: str | None = None) -> tuple[Entity, ...]:
        """The expected slot type first (read from ``correction``, the corrected part of "no, I said …",
        when there is one), then every other slot type that matches; free-text and ``expected_only`` slot
        types only when expected."""
        found: list[Entity] = []
        expected = self.slot_types.get(expected_slot) if expected_slot else None
        if expected is not None:
            corrected = correction if expected.kind != "yes_no" else None
            entity = extract(corrected, expected, today, expected=True) if corrected else None
            if entity is not None and entity.start >= 0:  # offsets into the whole utterance
                offset = text.rfind(corrected)
                entity = replace(entity, start=entity.start + offset, end=entity.end + offset)
            if entity is None or entity.confidence <= WRONG_LENGTH_CONFIDENCE:  # the whole answer may fit
                whole = extract(text, expected, today, expected=True)
                if whole is not None and (entity is None or whole.confidence > entity.confidence):
                    entity = whole
            if entity is not None:
                found.append(entity)
        for name, spec in self.slot_types.items():
            if spec is expected or spec.kind == "text" or spec.expected_only:
                continue
            if (entity := extract(text, spec, today)) is not None:
                found.append(entity)
        return tuple(found)
