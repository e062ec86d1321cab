"""A yes or no heard as other words ("no sorry" -> "you know sorry"): the understanding reads the
recogniser's other readings of the turn, with the banking bundle's real NLU."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebot.designer.conversation_tests import real_nlu_factory
from voicebot.dialog.loader import load_bundle

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def banking_nlu():
    return real_nlu_factory()(load_bundle(ROOT / "dialogs" / "banking.yaml")[0])


def answer(understanding) -> bool | None:
    entity = understanding.entity("yes_no")
    return None if entity is None else entity.value


def test_a_no_heard_as_other_words_is_read_from_the_next_reading(banking_nlu) -> None:
    """festival kal and ked over μ-law, as decoded (eval/results/yes_no_heldout3_spoken_festival.json)."""
    heard = banking_nlu.understand_sync("you know sorry", 0.69, "yes_no", heard_otherwise=[
        ("no sorry", 0.55), ("no sorry you", 0.42), ("sorry", 0.27)])
    assert answer(heard) is False and heard.text == "no sorry" and heard.transcript_confidence == 0.55
    heard = banking_nlu.understand_sync("now mate", 0.61, "yes_no", heard_otherwise=[
        ("now made", 0.53), ("no mate", 0.40)])
    assert answer(heard) is False and heard.text == "no mate"
    assert answer(banking_nlu.understand_sync("you know sorry", 0.69, "yes_no")) is None


def test_other_readings_are_not_read_when_the_best_answers_or_they_are_far_below(banking_nlu) -> None:
    heard = banking_nlu.understand_sync("no sorry", 0.82, "yes_no", heard_otherwise=[("yes sorry", 0.6)])
    assert answer(heard) is False and heard.text == "no sorry"  # the best reading answers: it stands
    heard = banking_nlu.understand_sync("now mate", 0.8, "yes_no", heard_otherwise=[("no mate", 0.3)])
    assert answer(heard) is None and heard.text == "now mate"  # under half its confidence
    heard = banking_nlu.understand_sync("you know sorry", 0.69, None, heard_otherwise=[("no sorry", 0.55)])
    assert answer(heard) is None  # no yes/no question asked


def test_only_the_answer_word_heard_otherwise_is_read(banking_nlu) -> None:
    """flite voices over μ-law, as decoded: other readings that answer but differ in more than the first
    words read answers into hedges and questions."""
    for heard, confidence, others in [("yes and no", 0.72, [("yes no", 0.51)]),
                                      ("hang on", 0.52, [("can go on", 0.39)]),
                                      ("is it the right one", 0.88, [("visit the right one", 0.59)]),
                                      ("sure what was the question", 0.66, [("sure flood was the question", 0.6)])]:
        assert answer(banking_nlu.understand_sync(heard, confidence, "yes_no", heard_otherwise=others)) is None
