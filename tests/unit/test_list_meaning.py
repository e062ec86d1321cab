"""A list answer read by meaning (``ListMeanings``) with a bag-of-words fake encoder."""

from __future__ import annotations

import numpy as np

from fakes import FakeEmbedder
from voicebot.nlu.entities import SlotTypeSpec
from voicebot.nlu.list_meaning import MEANING_CONFIDENCE, ListMeanings

REASON = SlotTypeSpec("reason", "list", values={"damaged": ("broken", "stopped working"),
                                                "doesnt_fit": ("too small", "wrong size")})
YES_NO = SlotTypeSpec("more", "list", values={"yes": ("sure",), "no": ("nothing else",)})
SYNONYMS_ONLY = SlotTypeSpec("code", "list", values={"alpha": ("first",)}, by_meaning=False)


def nearest(meanings: ListMeanings, spec: SlotTypeSpec, text: str, embedder: FakeEmbedder):
    return meanings.nearest(spec, text, embedder.embed([text])[0])


def test_the_value_nearest_in_meaning_is_inferred() -> None:
    embedder = FakeEmbedder()
    meanings = ListMeanings({s.name: s for s in (REASON, YES_NO, SYNONYMS_ONLY)}, embedder)
    said = "it just stopped working"
    entity = nearest(meanings, REASON, said, embedder)
    assert entity is not None
    assert (entity.value, entity.inferred, entity.confidence) == ("damaged", True, MEANING_CONFIDENCE)
    assert (entity.start, entity.end, entity.text) == (0, len(said), said)


def test_nothing_when_no_value_is_near_or_two_are_as_near() -> None:
    embedder = FakeEmbedder()
    short = SlotTypeSpec("short", "list", values={"damaged": ("broken",), "doesnt_fit": ("small",)})
    meanings = ListMeanings({s.name: s for s in (REASON, short)}, embedder)
    assert nearest(meanings, REASON, "what are my options", embedder) is None
    assert nearest(meanings, short, "broken small", embedder) is None  # no value stands out


def test_yes_no_lists_and_lists_marked_synonyms_only_are_never_read_by_meaning() -> None:
    embedder = FakeEmbedder()
    meanings = ListMeanings({s.name: s for s in (YES_NO, SYNONYMS_ONLY)}, embedder)
    assert nearest(meanings, YES_NO, "sure", embedder) is None
    assert nearest(meanings, SYNONYMS_ONLY, "first", embedder) is None
    assert meanings.nearest(REASON, "broken", np.ones(FakeEmbedder.dimension, dtype=np.float32)) is None
