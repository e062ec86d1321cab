"""Emotion: GoEmotions label mapping, call-centre cues and their combination with the head (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from fakes import FakeEmbedder
from voicebot.nlu.emotion import LABELS, EmotionClassifier, cues, map_goemotions


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


def test_vader_sentiment_pushes_to_positive(neutral_head) -> None:
    emotion = neutral_head.detect("Thank you so much, that's wonderful, I really appreciate it")
    assert emotion.label == "positive" and emotion.sentiment > 0.5
