"""`voicebot eval intents --flow`: routing as the dialog does it, the figures, and the training rows."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from fakes import FakeEmbedder
from voicebot.nlu import intents
from voicebot.training.evaluate import Routed, evaluate_flow, flow_metrics, route
from voicebot.nlu.intents import OOS, training_rows
from voicebot.nlu.paraphrase import spoken, variants

FLOW_INTENTS = {"lost_card": "lost_card", "balance": "balance"}


def test_route_mirrors_the_menu() -> None:
    assert route(None, 0.9, 0.5, FLOW_INTENTS) == "out_of_scope"
    assert route("lost_card", 0.5, 0.5, FLOW_INTENTS) == "direct"  # at the level: no confirmation
    assert route("lost_card", 0.49, 0.5, FLOW_INTENTS) == "confirm"
    assert route("help", 0.3, 0.5, FLOW_INTENTS) == "no_match"  # built-in intents are never confirmed
    assert route("help", 0.8, 0.5, FLOW_INTENTS) == "direct"


def test_flow_metrics_count_confirmations_hand_offs_and_wrong_flows() -> None:
    rows = [
        Routed("a", "lost_card", "lost_card", 0.9, "direct"),
        Routed("b", "lost_card", "lost_card", 0.4, "confirm"),
        Routed("c", "lost_card", None, 0.2, "out_of_scope"),
        Routed("d", "balance", "lost_card", 0.7, "direct"),
        Routed("e", OOS, None, 0.1, "out_of_scope"),
        Routed("f", OOS, "balance", 0.4, "confirm"),
    ]
    m = flow_metrics(rows)
    assert (m["in_scope_rows"], m["oos_rows"]) == (4, 2)
    assert m["reached"] == pytest.approx(0.5)
    assert m["reached_directly"] == pytest.approx(0.25)
    assert m["reached_after_confirmation"] == pytest.approx(0.25)
    assert m["handed_off_oos"] == pytest.approx(0.25) and m["wrong_intent"] == pytest.approx(0.25)
    assert m["oos_recall"] == pytest.approx(0.5) and m["oos_precision"] == pytest.approx(0.5)
    assert m["oos_confirmed"] == pytest.approx(0.5) and m["oos_routed_directly"] == 0
    assert m["per_intent_reached"] == {"balance": 0.0, "lost_card": pytest.approx(2 / 3)}


@dataclass
class _Settings:
    confirm_below: float = 0.5


@dataclass
class _Bundle:
    intents: dict = field(default_factory=lambda: {
        "balance": ["what is my balance", "check my balance", "how much money is in my account",
                    "tell me my balance please", "account balance"],
        "lost_card": ["I lost my card", "my card was stolen", "block my card", "someone stole my card",
                      "I can't find my card"],
    })
    oos_examples: list = field(
        default_factory=lambda: ["play some music", "what's the weather", "tell me a joke"])
    intent_flow: dict = field(default_factory=lambda: dict(FLOW_INTENTS))
    settings: _Settings = field(default_factory=_Settings)
    slot_types: dict = field(default_factory=dict)


def test_evaluate_flow_trains_the_bundle_and_routes_each_row(tmp_path) -> None:
    rows = [("what is my balance please", "balance"), ("my card was stolen yesterday", "lost_card"),
            ("zebra xylophone quantum", OOS)]
    report, routed = evaluate_flow(_Bundle(), rows, FakeEmbedder(), cache_dir=tmp_path)
    assert [r.intent for r in routed] == ["balance", "lost_card", None]
    assert report["reached"] == 1.0 and report["handed_off_oos"] == 0.0 and report["oos_recall"] == 1.0
    assert report["confirm_below"] == 0.5
    lower, _ = evaluate_flow(_Bundle(), rows, FakeEmbedder(), cache_dir=tmp_path, confirm_below=0.0)
    assert lower["reached_directly"] == 1.0  # nothing is below a confirmation level of 0


def test_variants_are_spoken_and_wrapped_deterministically() -> None:
    out = variants("I lost my card!")
    assert out[0] == spoken("I lost my card!") == "i lost my card"
    assert len(out) == 3 and all("i lost my card" in v for v in out)
    assert variants("I lost my card!") == out  # no randomness: the cache key decides everything


def test_training_rows_keep_an_example_and_its_variants_in_one_group() -> None:
    texts, labels, groups = training_rows({"lost_card": ["I lost my card"]}, ["tell me a joke"], augment=True)
    assert texts[0] == "I lost my card" and "i lost my card" in texts
    by_group: dict[int, set[str]] = {}
    for label, group in zip(labels, groups, strict=True):
        by_group.setdefault(group, set()).add(label)
    assert all(len(found) == 1 for found in by_group.values())
    assert labels.count(OOS) == 1 + len(variants("tell me a joke"))  # out-of-scope rows are wrapped too
    assert training_rows({"lost_card": ["I lost my card"]})[0] == ["I lost my card"]  # nothing by default
    commands, _, _ = training_rows({"agent": ["talk to a person"]}, augment=True)
    assert commands == ["talk to a person"]  # "agent" is not wrapped: a sure agent hands the call off


def test_the_similarity_floor_measures_against_the_examples_not_their_variants(tmp_path) -> None:
    texts, labels, groups = training_rows(
        {"a": ["check my balance", "my balance"], "b": ["lost card", "card gone"]}, augment=True)
    embedder = FakeEmbedder()
    classifier = intents.IntentClassifier.fit(embedder, embedder.embed(texts), labels, groups=groups)
    assert len(classifier.examples) == 4
