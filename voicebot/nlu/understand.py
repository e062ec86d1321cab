"""One utterance -> ``Understanding``: intent (with out-of-scope), confidence, entities, emotion.

``Nlu`` is built per flow bundle (its intent classifier and slot types) and shares the loaded models.
The utterance is embedded once for the intents; the emotion model runs its own fine-tuned encoder (a few ms),
weighing the call's signals (``CallerSignals``: turns not understood, the voice's arousal) when given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np

from voicebot.engines import EmotionDetector
from voicebot.nlu.entities import WRONG_LENGTH_CONFIDENCE, SlotTypeSpec, extract
from voicebot.nlu.human_request import asks_whom, find_human_request
from voicebot.nlu.intents import IntentClassifier
from voicebot.nlu.list_meaning import ListMeanings
from voicebot.nlu.normalize import find_correction, find_digit_runs, find_restatement, tokens
from voicebot.nlu.wait_request import asks_to_wait
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
# When the recogniser's best reading means nothing here, another reading of its beam may stand for it
# (``Nlu.rescued``): within this ratio of the best one's confidence, the first this many, and understood as
# an intent at this confidence or more (before the transcript's discount; the demo bundles' out-of-scope
# thresholds are 0.33-0.40). A rescued intent carries that reading's lower confidence, so a doubtful one is
# confirmed ("Did you want to …?"). Chosen on the flite voices (eval/README.md, "Menu answers").
RESCUE_CONFIDENCE_RATIO = 0.5
RESCUE_MAX_READINGS = 4
RESCUE_MIN_INTENT_CONFIDENCE = 0.4


@dataclass(frozen=True, slots=True)
class IntentReading:
    """What one text asks for: the intent (None: out of scope), its confidence before the transcript's
    discount, the next intents, whether it asks for a person, and whether the intent is a guess from words
    far from every example (``IntentPrediction.far``)."""

    intent: str | None
    confidence: float
    ranking: tuple[tuple[str, float], ...]
    human_request: bool
    far: bool = False


def _unpunctuated(text: str) -> str:
    return text.rstrip(_FINAL_PUNCTUATION) or text


def classifier_text(text: str) -> str:
    """What the intent classifier reads of ``text``: no final punctuation, and a number of three or more digits
    said in words written as one numeral ("about order two million three hundred forty five thousand six hundred
    seventy eight" -> "about order 2345678"): spelled out, its words outweigh the request's (order_status 0.3
    -> 0.9)."""
    text = _unpunctuated(text)
    for run in reversed(find_digit_runs(text)):
        if len(run.value) >= 3:
            text = text[:run.start] + run.value + text[run.end:]
    return text


def scale_confidence(confidence: float, transcript_confidence: float) -> float:
    """Intent confidence discounted by ASR confidence: unchanged at 1.0, halved at 0.0."""
    return confidence * (0.5 + 0.5 * min(1.0, max(0.0, transcript_confidence)))


class Nlu:
    """Implements ``engines.LanguageUnderstanding`` for one flow bundle."""

    def __init__(self, classifier: IntentClassifier, slot_types: Mapping[str, SlotTypeSpec],
                 emotion: EmotionDetector | None, pool: InferencePool | None) -> None:
        self.classifier = classifier
        self.slot_types = dict(slot_types)
        self.list_meanings = ListMeanings(self.slot_types, classifier.embedder)
        self.emotion = emotion
        self.pool = pool  # None: ``understand`` runs inline (tests, ``voicebot chat``)

    async def understand(self, text: str, transcript_confidence: float = 1.0, expected_slot: str | None = None,
                         signals: CallerSignals | None = None,
                         heard_otherwise: Sequence[tuple[str, float]] = ()) -> Understanding:
        if self.pool is None:
            return self.understand_sync(text, transcript_confidence, expected_slot, signals=signals,
                                        heard_otherwise=heard_otherwise)
        return await self.pool.run(self.understand_sync, text, transcript_confidence, expected_slot,
                                   signals=signals, heard_otherwise=heard_otherwise, priority=Priority.UNDERSTAND)

    def understand_sync(self, text: str, transcript_confidence: float = 1.0, expected_slot: str | None = None,
                        today: date | None = None, signals: CallerSignals | None = None,
                        heard_otherwise: Sequence[tuple[str, float]] = ()) -> Understanding:
        """Blocking. ``expected_slot`` names a slot type (a key of ``slot_types``) the dialog asked for;
        ``signals``: what the call knows of the caller beyond these words (for the emotion);
        ``heard_otherwise``: the recogniser's other readings of the same audio, best first, with their
        confidences (``Transcript.alternatives``): one may stand for ``text`` (:meth:`rescued`)."""
        if not text.strip():
            return Understanding(text=text, intent=None, confidence=0.0,
                                 transcript_confidence=transcript_confidence)
        vector = self.classifier.embedder.embed([classifier_text(text)])[0]
        reading = self.read_intent(text, vector)
        correction = find_correction(text)
        entities = self.entities(text, expected_slot, today, correction, vector)
        expected = self.slot_types.get(expected_slot) if expected_slot else None
        answered = expected is not None and any(entity.type == expected.name for entity in entities)
        if expected is not None and expected.kind == "yes_no" and not reading.human_request and not answered \
                and (said := yes_no_heard_otherwise(expected, text, transcript_confidence, heard_otherwise)) \
                is not None:
            return self.understand_sync(said[0], said[1], expected_slot, today=today, signals=signals)
        if (reading.intent is None or reading.far) and not reading.human_request and not answered \
                and heard_otherwise:
            rescue = self.rescued(transcript_confidence, heard_otherwise)
            if rescue is not None:
                (text, transcript_confidence), reading = rescue
                correction = find_correction(text)
                entities = self.entities(text, expected_slot, today, correction)
        return Understanding(
            text=text,
            intent=reading.intent,
            confidence=scale_confidence(reading.confidence, transcript_confidence),
            entities=entities,
            emotion=self.emotion.detect(text, signals) if self.emotion is not None else None,
            alternatives=tuple((name, scale_confidence(p, transcript_confidence)) for name, p in reading.ranking),
            transcript_confidence=transcript_confidence,
            correction=correction,
            human_request=reading.human_request,
            wait_request=asks_to_wait(text),
            far_from_examples=reading.far,
        )

    def rescued(self, transcript_confidence: float, heard_otherwise: Sequence[tuple[str, float]]
                ) -> tuple[tuple[str, float], IntentReading] | None:
        """The first of the recogniser's other readings, best first, that is a request this bundle knows (an
        intent at :data:`RESCUE_MIN_INTENT_CONFIDENCE` or more) or a request for a person, for a best reading
        that is neither and answers no slot the dialog asked for: "Where's my power still?" -> "Where's my
        parcel?". Only readings whose confidence is within :data:`RESCUE_CONFIDENCE_RATIO` of the best one's
        are read, in one batch (eval/README.md, "Menu answers")."""
        candidates = near_readings(transcript_confidence, heard_otherwise)
        if not candidates:
            return None
        vectors = self.classifier.embedder.embed([classifier_text(text) for text, _ in candidates])
        for candidate, vector in zip(candidates, vectors, strict=True):
            reading = self.read_intent(candidate[0], vector)
            if reading.human_request or (reading.intent is not None and not reading.far
                                         and reading.confidence >= RESCUE_MIN_INTENT_CONFIDENCE):
                return candidate, reading
        return None

    def read_intent(self, text: str, vector: np.ndarray) -> IntentReading:
        """The intent of ``text`` (embedded as ``vector``), a request for a person deciding over the classifier."""
        prediction = self.classifier.predict_vector(vector)
        intent, confidence, far = prediction.intent, prediction.confidence, prediction.far
        ranking = prediction.ranking[1:]
        request = find_human_request(text) if AGENT_INTENT in self.classifier.intents else None
        asked = request is not None and not request.declined
        # "no, I don't need an agent", "are you a real person?": no "agent"; the next best, if any
        if intent == AGENT_INTENT and ((request is not None and request.declined)
                                       or (request is None and asks_whom(text))):
            intent, confidence = (ranking[0] if ranking and ranking[0][1] >= self.classifier.threshold
                                  and not far else (None, 0.0))
            ranking, far = ranking[1:], False
        elif (request is not None and asked and (request.explicit or intent != AGENT_INTENT)
              and (intent in (None, AGENT_INTENT) or confidence < 0.6)):
            # a doubtful "agent" too ("put me through 10 agent": agent at 0.62)
            intent, confidence, far = AGENT_INTENT, max(confidence, HUMAN_REQUEST_CONFIDENCE), False
        return IntentReading(intent, confidence, tuple(ranking), asked, far)

    def entities(self, text: str, expected_slot: str | None = None, today: date | None = None,
                 correction: str | None = None, vector: np.ndarray | None = None) -> tuple[Entity, ...]:
        """The expected slot type first (read from ``correction``, the corrected part of "no, I said …",
        when there is one), then every other slot type that matches; free-text and ``expected_only`` slot
        types only when expected. A list value in the corrected part is read as where its list is asked
        ("No, I said pop holes." for potholes): the dialog takes a correction only for the slot it corrects.
        An expected list answer with no synonym in it takes the value nearest in meaning, and a synonym said
        may be overruled by it (``ListMeanings``; ``vector``: the text as the intent classifier embedded it,
        embedded here when not given)."""
        found: list[Entity] = []
        expected = self.slot_types.get(expected_slot) if expected_slot else None

        def in_correction(spec: SlotTypeSpec) -> Entity | None:
            entity = extract(correction, spec, today, expected=True) if correction else None
            if entity is not None and entity.start >= 0:  # offsets into the whole utterance
                offset = text.rfind(correction)
                entity = replace(entity, start=entity.start + offset, end=entity.end + offset)
            return entity

        def restated(spec: SlotTypeSpec) -> Entity | None:
            """The value said again after a take-back ("4 pm, no, 5 pm"), when a whole value was said before it
            ("5 5 8, no, 4 5 7 7" for a 7-digit number: an "oh" heard as "no"). Digits said again one short or
            one over the length are the value too (the dialog reads them back: the number taken back is not
            kept); fewer are something else ("1 2 3 4 5 6 7 8, actually that's 8 digits")."""
            parts = find_restatement(text) if spec.kind not in ("yes_no", "text") else None
            before = extract(parts[0], spec, today, expected=True) if parts is not None else None
            if parts is None or before is None or before.confidence <= WRONG_LENGTH_CONFIDENCE:
                return None
            entity = extract(parts[1], spec, today, expected=True)
            if entity is None or entity.confidence <= WRONG_LENGTH_CONFIDENCE and not (
                    (spec.min_length or 1) - 1 <= len(str(entity.value)) <= (spec.max_length or 64) + 1):
                return None
            if entity.start >= 0:
                entity = replace(entity, start=entity.start + len(parts[0]), end=entity.end + len(parts[0]))
            return entity

        if expected is not None:
            entity = in_correction(expected) if expected.kind != "yes_no" else None
            if entity is None or entity.confidence <= WRONG_LENGTH_CONFIDENCE:  # the whole answer may fit
                whole = extract(text, expected, today, expected=True)
                whole = restated(expected) or whole
                if whole is not None and (entity is None or whole.confidence > entity.confidence):
                    entity = whole
            if expected.kind == "list":
                if vector is None:
                    vector = self.classifier.embedder.embed([classifier_text(text)])[0]
                entity = (self.list_meanings.nearest(expected, text, vector) if entity is None
                          else self.list_meanings.overruled(entity, expected, text, vector) or entity)
            if entity is not None:
                found.append(entity)
        for spec in self.slot_types.values():
            if spec is expected or spec.kind == "text" or spec.expected_only:
                continue
            entity = extract(text, spec, today) or (in_correction(spec) if spec.kind == "list" else None)
            if entity is not None:
                found.append(entity)
        return tuple(found)


def yes_no_heard_otherwise(spec: SlotTypeSpec, heard: str, transcript_confidence: float,
                           heard_otherwise: Sequence[tuple[str, float]]) -> tuple[str, float] | None:
    """At a yes/no question (``spec``), for a best reading ``heard`` that is no answer and no request for a
    person (an intent it seems to have is read again from the reading taken: "you know sorry" is a "repeat"):
    the first of the recogniser's other readings within :data:`RESCUE_CONFIDENCE_RATIO` of its confidence
    that is ``heard`` with its first one or two words (no yes or no among them) heard as one yes or no word,
    and answers, with its confidence ("you know sorry" -> "no sorry", "now mate" -> "no mate": a short "no"
    or "nah" heard as other words). Any other reading that answers was no help: it read as many answers
    into questions and hedges ("yes and no" -> "yes no"; eval/README.md, "Yes and no as callers say them")."""
    for text, confidence in near_readings(transcript_confidence, heard_otherwise):
        entity = extract(text, spec, expected=True)
        if entity is not None and isinstance(entity.value, bool) and _answer_word_misheard(heard, text):
            return text, confidence
    return None


def near_readings(transcript_confidence: float, heard_otherwise: Sequence[tuple[str, float]]
                  ) -> list[tuple[str, float]]:
    """The recogniser's other readings that may stand for the best one: the first
    :data:`RESCUE_MAX_READINGS` within :data:`RESCUE_CONFIDENCE_RATIO` of its confidence, best first."""
    floor = transcript_confidence * RESCUE_CONFIDENCE_RATIO
    return [(text, confidence) for text, confidence in heard_otherwise
            if confidence >= floor and text.strip()][:RESCUE_MAX_READINGS]


_ANSWER_WORDS = frozenset(("yes", "yeah", "yep", "yup", "no", "nope", "nah"))


def _answer_word_misheard(heard: str, other: str) -> bool:
    """``other`` is ``heard`` with its first one or two words, none a yes or no word, as one yes or no
    word."""
    a, b = ([t.text for t in tokens(text) if t.text[0].isalnum()] for text in (heard, other))
    same = 0
    while same < min(len(a), len(b)) and a[len(a) - 1 - same] == b[len(b) - 1 - same]:
        same += 1
    head, answer = a[:len(a) - same], b[:len(b) - same]
    return len(answer) == 1 and answer[0] in _ANSWER_WORDS and 1 <= len(head) <= 2 \
        and not _ANSWER_WORDS & set(head)
