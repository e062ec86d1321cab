"""A list answer read by meaning (``ListMeanings``) with a bag-of-words fake encoder."""

from __future__ import annotations

import numpy as np

from fakes import FakeEmbedder
from voicebot.nlu.entities import SlotTypeSpec
from voicebot.nlu.list_meaning import MEANING_CONFIDENCE, ListMeanings
from voicebot.types import Entity

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
    assert nearest(meanings, REASON, "I'm not sure, it stopped working I think", embedder) is None  # unsure
    assert nearest(meanings, short, "broken small", embedder) is None  # no value stands out


def test_yes_no_lists_and_lists_marked_synonyms_only_are_never_read_by_meaning() -> None:
    embedder = FakeEmbedder()
    meanings = ListMeanings({s.name: s for s in (YES_NO, SYNONYMS_ONLY)}, embedder)
    assert nearest(meanings, YES_NO, "sure", embedder) is None
    assert nearest(meanings, SYNONYMS_ONLY, "first", embedder) is None
    assert meanings.nearest(REASON, "broken", np.ones(FakeEmbedder.dimension, dtype=np.float32)) is None


def test_a_synonym_said_is_overruled_by_a_value_clearly_nearer_in_meaning() -> None:
    embedder = FakeEmbedder()
    spec = SlotTypeSpec("about", "list",
                        values={"roads": ("road",), "lighting": ("lights off on my road at night",)})
    meanings = ListMeanings({spec.name: spec}, embedder)
    text = "lights are off all night on my road"
    vector = embedder.embed([text])[0]
    said = Entity(type="about", value="roads", text="road", start=31, end=35)
    overruled = meanings.overruled(said, spec, text, vector)
    assert overruled is not None and (overruled.value, overruled.inferred) == ("lighting", True)
    # what the caller said that is no synonym (a time for a part of the day, a word heard apart) stands
    heard_apart = Entity(type="about", value="roads", text="the rode")
    assert meanings.overruled(heard_apart, spec, text, vector) is None
    # nor is a synonym overruled by its own value
    assert meanings.overruled(Entity(type="about", value="lighting", text="road"), spec, text, vector) is None


def test_a_values_examples_are_read_by_meaning_and_never_overruled_as_words() -> None:
    embedder = FakeEmbedder()
    described = SlotTypeSpec("reason", "list", values={"damaged": ("broken",), "doesnt_fit": ("too small",)},
                             examples={"damaged": ("it arrived in pieces with a crack",)})
    meanings = ListMeanings({described.name: described}, embedder)
    plain = ListMeanings({REASON.name: REASON}, embedder)
    said = "the box arrived in pieces"
    assert nearest(plain, REASON, said, embedder) is None  # no synonym near it
    entity = nearest(meanings, described, said, embedder)
    assert entity is not None and (entity.value, entity.inferred) == ("damaged", True)
    example = Entity(type="reason", value="damaged", text="it arrived in pieces with a crack", start=0,
                     end=33)
    assert meanings.overruled(example, described, "too small", embedder.embed(["too small"])[0]) is None
