"""Emotion: GoEmotions label mapping, call-centre cues and their combination with the head (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from fakes import FakeEmbedder
from voicebot.nlu.emotion import EKMAN, LABELS, EmotionClassifier, as_read, combine, cues, map_goemotions
from voicebot.types import CallerSignals


@pytest.mark.parametrize(("labels", "ours"), [
    (["anger"], "angry"), (["annoyance", "joy"], "frustrated"), (["disgust", "neutral"], "angry"),
    (["gratitude"], "positive"), (["neutral"], "neutral"), (["fear"], None), (["curiosity", "neutral"], "neutral"),
])
def test_goemotions_mapping(labels: list[str], ours: str | None) -> None:
    assert map_goemotions(labels) == ours


@pytest.mark.parametrize(("text", "found"), [
    ("This is ridiculous", ["frustration"]),
    ("it's the third time I'm calling about this", ["frustration"]),
    ("I want to speak to a real person", ["frustration"]),
    ("I have called three times already", ["frustration"]),
    ("this is outrageous", ["frustration"]),
    ("frankly it's a disgrace", ["frustration"]),
    ("what the hell is going on", ["swearing"]),
    ("WHY IS THIS NOT WORKING", ["frustration", "shouting"]),
    ("I'd like to check my balance", []),
    ("can I call you again tomorrow", []),
    ("thanks so much!!", []),
])
def test_call_centre_cues(text: str, found: list[str]) -> None:
    assert cues(text) == found


@pytest.fixture
def neutral_head() -> EmotionClassifier:
    """A head that always says neutral (bias only): what changes the label is VADER and the cues."""
    bias = np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32)
    return EmotionClassifier(FakeEmbedder(), np.zeros((4, FakeEmbedder.dimension), np.float32), bias, LABELS)


def test_plain_request_stays_neutral(neutral_head) -> None:
    emotion = neutral_head.detect("I would like to check my balance")
    assert emotion.label == "neutral" and 0 < emotion.score <= 1 and -1 <= emotion.sentiment <= 1


def test_swearing_and_cues_push_to_angry_and_frustrated(neutral_head) -> None:
    assert neutral_head.detect("this is fucking ridiculous, you useless idiots").label == "angry"
    frustrated = neutral_head.detect("This is ridiculous, it's the third time I'm calling")
    assert frustrated.label == "frustrated" and frustrated.sentiment < 0


def test_anger_said_in_so_many_words_is_angry(neutral_head) -> None:
    said = neutral_head.detect("This is ridiculous. I've been waiting for ages and I'm really angry.")
    assert said.label == "angry" and "anger said" in said.cues
    assert "anger said" in cues("this makes me furious") and "anger said" in cues("I'm getting really livid")
    assert "anger said" not in cues("I'm not angry, just confused")
    assert "anger said" not in cues("the angry customer before me") and "anger said" not in cues("I'm mad about it")


def test_vader_sentiment_pushes_to_positive(neutral_head) -> None:
    emotion = neutral_head.detect("Thank you so much, that's wonderful, I really appreciate it")
    assert emotion.label == "positive" and emotion.sentiment > 0.5


def test_repeated_no_match_pushes_to_frustrated(neutral_head) -> None:
    text = "I want to pay my bill"
    assert neutral_head.detect(text, CallerSignals(no_matches=1)).label == "neutral"
    emotion = neutral_head.detect(text, CallerSignals(no_matches=3))
    assert emotion.label == "frustrated" and emotion.cues == ("no_match",)


def test_raised_voice_pushes_negative_words_to_angry_not_positive_ones(neutral_head) -> None:
    text = "my card still doesn't work"
    calm = neutral_head.detect(text, CallerSignals(arousal=0.2))
    raised = neutral_head.detect(text, CallerSignals(arousal=3.0))
    assert "arousal" not in calm.cues and "arousal" in raised.cues
    assert raised.label == "angry" and calm.label != "angry"
    happy = neutral_head.detect("Thank you so much, that's wonderful", CallerSignals(arousal=3.0))
    assert happy.label == "positive" and "arousal" not in happy.cues


def test_combine_is_a_distribution_over_the_text_labels() -> None:
    emotion = combine({"neutral": 0.1, "positive": 0.1, "frustrated": 0.2, "angry": 0.6}, -0.5, ["swearing"])
    assert emotion.label == "angry" and 0.6 < emotion.score <= 1 and emotion.cues == ("swearing",)
    assert combine(dict.fromkeys(LABELS, 0.25), 0.0, []).cues == ()


def test_ekman_labels_over_threshold_else_the_likeliest() -> None:
    weights = np.zeros((len(EKMAN), FakeEmbedder.dimension), np.float32)
    bias = np.full(len(EKMAN), -3.0, np.float32)
    bias[EKMAN.index("joy")], bias[EKMAN.index("surprise")] = 2.0, 0.5  # p = 0.88, 0.62
    thresholds = np.full(len(EKMAN), 0.5, np.float32)
    head = EmotionClassifier(FakeEmbedder(), np.zeros((4, FakeEmbedder.dimension), np.float32),
                             np.zeros(4, np.float32), LABELS, weights, bias, thresholds)
    vectors = FakeEmbedder().embed(["wow"])
    assert head.ekman(vectors) == [("joy", "surprise")]
    head.ekman_thresholds = np.full(len(EKMAN), 0.95, np.float32)
    assert head.ekman(vectors) == [("joy",)]


def test_a_polite_request_is_not_liking(neutral_head) -> None:
    assert neutral_head.detect("I'd like to check my balance").sentiment < 0.1
    assert neutral_head.detect("I would like to block my card").sentiment <= 0
    assert neutral_head.detect("I like this service").sentiment > 0.3


def test_the_text_model_reads_a_request_s_like_as_wanting() -> None:
    """The encoder is given the words as read: "I'd like to ..." as "I'd want to ...", liking left alone."""
    seen: list[str] = []

    class Recording(FakeEmbedder):
        def embed(self, texts):
            seen.extend(texts)
            return super().embed(texts)

    head = EmotionClassifier(Recording(), np.zeros((4, FakeEmbedder.dimension), np.float32), np.zeros(4, np.float32))
    head.detect("I'd like to check my balance")
    head.detect("Would you like to help me")
    head.detect("I like this service")
    assert seen == ["I'd want to check my balance", "Would you want to help me", "I like this service"]
    assert as_read("We would LIKE a refund") == "We would want a refund"
