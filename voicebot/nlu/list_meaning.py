"""A list answer in the caller's own words: the value nearest in meaning, when no synonym is said.

"The one I use at the cash point" names no synonym of ``debit``; "it won't turn on" none of ``damaged``. A
flow's list values, their synonyms and their ``examples`` (answers in callers' own words, read only this way)
are embedded once with the bundle's sentence encoder; an answer that the synonym rules (``nlu/entities.py``)
leave empty takes the value whose phrase is nearest to it, when that phrase is near enough and nearer than any
other value's; a synonym said gives way to a value clearly nearer in meaning ("the lights on my road are off"
says "road"). Either is inferred: the dialog confirms it. Lists of yes and no (``anything_else``) and lists a
flow marks ``by_meaning: false`` are never read this way. Chosen on ``eval/data/list_answers/dev.csv``
(eval/README.md, "List answers in the caller's words").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from voicebot.engines import SentenceEmbedder
from voicebot.nlu.entities import SlotTypeSpec
from voicebot.types import Entity

# The nearest phrase's cosine similarity, and its lead over the nearest phrase of any other value.
MIN_SIMILARITY = 0.4
MIN_LEAD = 0.08
# A synonym said is overruled (and the value meant is confirmed) when another value is this much nearer in
# meaning: "the lights on my road have been off" says "road" and means street lighting.
OVERRULE_LEAD = 0.05
# An answer that says the caller does not know is no value, however near its words ("And I am not sure." was
# heard for "um, I'm not sure" and came nearest to "all").
_UNSURE = re.compile(r"\b(?:not (?:sure|certain)|(?:don'?t|do not) know|no idea|no clue|dunno|"
                     r"can'?t (?:remember|recall|say))\b", re.IGNORECASE)

# What the entity carries: below a synonym said (1.0) and a synonym heard apart (0.8).
MEANING_CONFIDENCE = 0.7


@dataclass(frozen=True, slots=True)
class _Phrases:
    values: tuple[str, ...]  # the canonical value of each row of ``vectors``
    phrases: frozenset[str]  # the synonyms (and canonical values), lower case: what may be overruled
    vectors: np.ndarray


def _readable_by_meaning(spec: SlotTypeSpec) -> bool:
    return spec.kind == "list" and spec.by_meaning and not {"yes", "no"} <= spec.values.keys()


class ListMeanings:
    """The list slot types' values as phrase vectors. Blocking (embeds): build and call through the pool."""

    def __init__(self, slot_types: Mapping[str, SlotTypeSpec], embedder: SentenceEmbedder) -> None:
        self._phrases: dict[str, _Phrases] = {}
        for name, spec in slot_types.items():
            if not _readable_by_meaning(spec):
                continue
            rows = [(canonical, phrase) for canonical, synonyms in spec.values.items()
                    for phrase in (canonical.replace("_", " "), *synonyms)]
            overrulable = frozenset(phrase.lower() for _, phrase in rows)
            rows += [(canonical, answer) for canonical, answers in spec.examples.items()
                     for answer in answers]
            if rows:
                self._phrases[name] = _Phrases(tuple(value for value, _ in rows), overrulable,
                                               np.asarray(embedder.embed([phrase for _, phrase in rows])))

    def nearest(self, spec: SlotTypeSpec, text: str, vector: np.ndarray) -> Entity | None:
        """The value of ``spec`` that ``text`` (embedded as ``vector``) means; None when none stands out."""
        if _UNSURE.search(text):
            return None
        best = self._similarities(spec, vector)
        ranked = sorted(best.values(), reverse=True) + [-1.0]
        value = max(best, key=best.__getitem__, default=None)
        if value is None or best[value] < MIN_SIMILARITY or best[value] - ranked[1] < MIN_LEAD:
            return None
        return self._inferred(spec, value, text)

    def overruled(self, said: Entity, spec: SlotTypeSpec, text: str, vector: np.ndarray) -> Entity | None:
        """The value ``text`` means when it is not the synonym ``said`` and clearly nearer in meaning. Only a
        synonym said is overruled (not a time said for a part of the day, not a word heard apart)."""
        phrases = self._phrases.get(spec.name)
        if phrases is None or said.text.lower() not in phrases.phrases:
            return None
        best = self._similarities(spec, vector)
        value = max(best, key=best.__getitem__, default=None)
        if value is None or value == said.value or best[value] < MIN_SIMILARITY \
                or best[value] - best.get(said.value, -1.0) < OVERRULE_LEAD:
            return None
        return self._inferred(spec, value, text)

    def _similarities(self, spec: SlotTypeSpec, vector: np.ndarray) -> dict[str, float]:
        """Each value's nearest phrase's cosine similarity to ``vector`` (empty: not read by meaning)."""
        phrases = self._phrases.get(spec.name)
        if phrases is None:
            return {}
        best: dict[str, float] = {}
        for value, score in zip(phrases.values, (phrases.vectors @ vector).tolist(), strict=True):
            best[value] = max(score, best.get(value, -1.0))
        return best

    @staticmethod
    def _inferred(spec: SlotTypeSpec, value: str, text: str) -> Entity:
        return Entity(type=spec.name, value=value, text=text, start=0, end=len(text),
                      confidence=MEANING_CONFIDENCE, inferred=True)
