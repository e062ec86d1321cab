"""A flow bundle's NLU, built one way for the service and for the designer and evaluation tools."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from voicebot.engines import EmotionDetector, SentenceEmbedder
from voicebot.nlu.entities import SlotTypeSpec
from voicebot.nlu.intents import IntentClassifier
from voicebot.nlu.understand import Nlu
from voicebot.runtime import InferencePool


class NluSource(Protocol):
    """What a bundle's NLU is built from (``dialog.bundle.Bundle`` has these)."""

    @property
    def intents(self) -> Mapping[str, Sequence[str]]: ...

    @property
    def oos_examples(self) -> Sequence[str]: ...

    @property
    def slot_types(self) -> Mapping[str, SlotTypeSpec]: ...


def build_nlu(bundle: NluSource, embedder: SentenceEmbedder, emotion: EmotionDetector | None,
              pool: InferencePool | None, cache_dir: Path | None = None) -> Nlu:
    """The bundle's ``Nlu``: its intent classifier trained from the examples and out-of-scope examples (or
    read from ``cache_dir``), its slot types, the shared emotion detector. Blocking (trains on a cache miss);
    ``pool=None`` makes ``understand`` run inline."""
    classifier = IntentClassifier.train(bundle.intents, embedder, cache_dir=cache_dir,
                                        oos_examples=bundle.oos_examples)
    return Nlu(classifier, bundle.slot_types, emotion, pool)
