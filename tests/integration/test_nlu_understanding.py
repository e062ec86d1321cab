"""Intents, out of scope, cache reuse, entities and emotion end to end with the real MiniLM model."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from voicebot.nlu.embeddings import MiniLmEmbedder
from voicebot.nlu.emotion import EmotionClassifier
from voicebot.nlu.entities import SlotTypeSpec
from voicebot.nlu.intents import IntentClassifier
from voicebot.nlu.understand import Nlu
from voicebot.runtime import InferencePool

pytestmark = pytest.mark.slow

INTENTS = ("card_arrival", "exchange_rate", "lost_or_stolen_card", "top_up_failed", "pin_blocked")


@pytest.fixture(scope="module")
def embedder() -> MiniLmEmbedder:
    return MiniLmEmbedder.load()


@pytest.fixture(scope="module")
def banking(shared_dir: Path) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """10 training examples and 4 held-out rows for each of 5 BANKING77 intents."""
    rows: dict[str, list[str]] = defaultdict(list)
    with (shared_dir / "data" / "intents" / "banking77_train.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            if row["label"] in INTENTS:
                rows[row["label"]].append(row["text"])
    train = {intent: rows[intent][:10] for intent in INTENTS}
    held_out = [(text, intent) for intent in INTENTS for text in rows[intent][10:14]]
    return train, held_out


@pytest.fixture(scope="module")
def classifier(embedder, banking, tmp_path_factory) -> IntentClassifier:
    return IntentClassifier.train(banking[0], embedder, cache_dir=tmp_path_factory.mktemp("intents"))


def test_embeddings_are_unit_vectors_and_similar_for_paraphrases(embedder) -> None:
    vectors = embedder.embed(["my card has not arrived", "I still haven't received my card", "what is the weather"])
    assert vectors.shape == (3, embedder.dimension) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


def test_held_out_rows_are_classified(classifier, banking) -> None:
    held_out = banking[1]
    predictions = classifier.predict_many([text for text, _ in held_out])
    correct = sum(p.intent == intent for p, (_, intent) in zip(predictions, held_out, strict=True))
    assert correct >= 0.8 * len(held_out)
    assert classifier.predict("my new card still hasn't come in the post").intent == "card_arrival"


def test_out_of_scope_is_rejected(classifier) -> None:
    for text in ("what's the weather like in Paris tomorrow", "play some jazz music", "tell me a joke"):
        prediction = classifier.predict(text)
        assert prediction.intent is None, (text, prediction)
        assert prediction.ranking  # the in-scope alternatives are still listed


def test_second_training_reads_the_cache(embedder, banking, tmp_path) -> None:
    first = IntentClassifier.train(banking[0], embedder, cache_dir=tmp_path)
    (cached,) = tmp_path.glob("intents-*.npz")

    class Counting:  # the same embedder, counting calls: a cache hit embeds nothing
        dimension = embedder.dimension
        fingerprint = embedder.fingerprint
        calls = 0

        def embed(self, texts):
            Counting.calls += 1
            return embedder.embed(texts)

    second = IntentClassifier.train(banking[0], Counting(), cache_dir=tmp_path)
    assert Counting.calls == 0
    assert second.labels == first.labels and second.threshold == pytest.approx(first.threshold)
    assert np.allclose(second.weights, first.weights)
    changed = {**banking[0], "card_arrival": banking[0]["card_arrival"][:-1]}
    IntentClassifier.train(changed, Counting(), cache_dir=tmp_path)
    assert Counting.calls == 1 and len(list(tmp_path.glob("intents-*.npz"))) == 2
    assert cached.exists()


def test_out_of_scope_examples_train_a_rejecting_class(embedder, banking, tmp_path) -> None:
    oos = ["can you book me a table for two", "what time does the football start", "how tall is mount everest",
           "set an alarm for six", "who won the election"]
    classifier = IntentClassifier.train(banking[0], embedder, cache_dir=tmp_path, oos_examples=oos)
    assert "oos" in classifier.labels and "oos" not in classifier.intents
    assert classifier.predict("book a table for four people tonight").intent is None
    assert classifier.predict("I lost my card yesterday").intent == "lost_or_stolen_card"


@pytest.fixture(scope="module")
def emotion() -> EmotionClassifier:
    return EmotionClassifier.load()


def test_emotion_detects_anger_and_calm(emotion) -> None:
    angry = emotion.detect("This is ridiculous, it's the third time I'm calling and nobody fixed my damn card!")
    assert angry.label in ("angry", "frustrated") and angry.sentiment < 0
    assert emotion.detect("I am absolutely furious, you people are useless idiots").label == "angry"
    assert emotion.detect("Thank you so much, that's really helpful").label == "positive"
    assert emotion.detect("I'd like to check my balance").label == "neutral"


async def test_understand_end_to_end(classifier, emotion) -> None:
    slot_types = {
        "amount": SlotTypeSpec("amount", "money"),
        "card_digits": SlotTypeSpec("card_digits", "digits", min_length=4, max_length=4),
        "confirm": SlotTypeSpec("confirm", "yes_no"),
    }
    pool = InferencePool(1)
    nlu = Nlu(classifier, slot_types, emotion, pool)
    try:
        result = await nlu.understand("my top up of fifty dollars failed, card ending four five six seven",
                                      transcript_confidence=0.9, expected_slot="card_digits")
    finally:
        pool.shutdown()
    assert result.intent == "top_up_failed"
    assert 0 < result.confidence <= 1
    assert result.entities[0].type == "card_digits" and result.entities[0].value == "4567"
    assert result.entity("amount") is not None and result.entity("amount").value == "50.00"
    assert result.emotion is not None and result.emotion.label in ("neutral", "frustrated")
    assert [name for name, _ in result.alternatives] and result.intent not in dict(result.alternatives)

    low = nlu.understand_sync("my top up failed", transcript_confidence=0.2)
    high = nlu.understand_sync("my top up failed", transcript_confidence=1.0)
    assert low.intent == high.intent == "top_up_failed" and low.confidence < high.confidence

    corrected = nlu.understand_sync("no, I said 4 5 7 8", expected_slot="card_digits", today=date(2026, 1, 5))
    entity = corrected.entities[0]
    assert entity.value == "4578" and corrected.text[entity.start:entity.end] == "4 5 7 8"


@pytest.mark.slow
def test_angry_request_for_a_human_goes_to_the_agent_intent():
    from voicebot.nlu.embeddings import MiniLmEmbedder
    from voicebot.nlu.intents import IntentClassifier
    from voicebot.nlu.understand import Nlu

    embedder = MiniLmEmbedder.load()
    classifier = IntentClassifier.train({
        "check_balance": ["what's my balance", "check my balance", "how much money do I have",
                          "balance please", "account balance", "how much is in my account"],
        "agent": ["agent", "talk to a person", "operator", "representative", "customer service",
                  "speak to someone"],
    }, embedder)
    nlu = Nlu(classifier, {}, None, None)
    understood = nlu.understand_sync("This is ridiculous. I've called three times and nothing works. "
                                     "Get me a human now")
    assert understood.intent == "agent" and understood.confidence >= 0.6


def test_the_recogniser_s_punctuation_does_not_lower_the_intent_confidence(classifier, emotion) -> None:
    """Whisper writes "My card hasn't arrived." where the examples have no punctuation."""
    nlu = Nlu(classifier, {}, emotion, None)
    plain = nlu.understand_sync("my card has not arrived yet")
    for written in ("My card has not arrived yet.", "My card has not arrived yet?!", "my card has not arrived yet ."):
        understood = nlu.understand_sync(written)
        assert understood.intent == plain.intent == "card_arrival"
        assert abs(understood.confidence - plain.confidence) < 1e-3
        assert understood.text == written  # entities and the record keep what was heard
