"""Another reading of the recogniser's beam stands for a best reading that means nothing (``Nlu.rescued``)."""

from __future__ import annotations

import pytest

from voicebot.nlu.entities import SlotTypeSpec
from voicebot.nlu.intents import IntentPrediction
from voicebot.nlu.understand import RESCUE_CONFIDENCE_RATIO, RESCUE_MIN_INTENT_CONFIDENCE, Nlu, classifier_text


class ScriptedClassifier:
    """Each text's prediction is given; the "embedding" of a text is the text itself."""

    intents = ("agent", "track_parcel", "check_balance")
    threshold = 0.35

    def __init__(self, predictions: dict[str, tuple[str | None, float]], far: frozenset[str] = frozenset()
                 ) -> None:
        self.predictions = predictions
        self.far = far  # texts whose prediction is a guess far from every example
        self.embedded: list[str] = []
        self.embedder = self

    def embed(self, texts: list[str]) -> list[str]:
        self.embedded += texts
        return list(texts)

    def predict_vector(self, text: str) -> IntentPrediction:
        intent, confidence = self.predictions.get(text, (None, 0.1))
        return IntentPrediction(intent, confidence, ((intent or "check_balance", confidence),),
                                far=text in self.far)


ANYTHING_ELSE = SlotTypeSpec("anything_else", "list", values={"yes": ("yes", "please"), "no": ("no", "nothing")})


def nlu(**predictions: tuple[str | None, float]) -> Nlu:
    return Nlu(ScriptedClassifier({k.replace("_", " "): v for k, v in predictions.items()}),  # type: ignore[arg-type]
               {"anything_else": ANYTHING_ELSE}, None, None)


def test_a_reading_that_is_a_known_request_stands_for_one_that_means_nothing() -> None:
    understood = nlu(wheres_my_parcel=("track_parcel", 0.8)).understand_sync(
        "Where's my power still?", 0.7, heard_otherwise=[("Where is my power still?", 0.65), ("wheres my parcel", 0.6)])
    assert (understood.intent, understood.text) == ("track_parcel", "wheres my parcel")
    assert understood.transcript_confidence == 0.6  # the rescued reading's own, so a doubtful one is confirmed
    assert understood.confidence == pytest.approx(0.8 * (0.5 + 0.5 * 0.6))


def test_readings_far_less_likely_than_the_best_are_not_read() -> None:
    model = nlu(wheres_my_parcel=("track_parcel", 0.9))
    understood = model.understand_sync("Where's my power still?", 0.7,
                                       heard_otherwise=[("wheres my parcel", 0.7 * RESCUE_CONFIDENCE_RATIO - 0.01)])
    assert understood.intent is None and understood.text == "Where's my power still?"
    assert model.classifier.embedded == ["Where's my power still"]  # type: ignore[attr-defined]


def test_a_doubtful_intent_in_another_reading_rescues_nothing() -> None:
    understood = nlu(order_a_fee=("check_balance", RESCUE_MIN_INTENT_CONFIDENCE - 0.01)).understand_sync(
        "Order a pizza", 0.6, heard_otherwise=[("order a fee", 0.55)])
    assert understood.intent is None and understood.text == "Order a pizza"


def test_a_best_reading_understood_is_kept_and_the_others_are_not_embedded() -> None:
    model = nlu(check_my_balance=("check_balance", 0.7), wheres_my_parcel=("track_parcel", 0.95))
    understood = model.understand_sync("check my balance", 0.8, heard_otherwise=[("wheres my parcel", 0.79)])
    assert understood.intent == "check_balance"
    assert model.classifier.embedded == ["check my balance"]  # type: ignore[attr-defined]


def test_a_request_for_a_person_in_another_reading_is_honoured() -> None:
    understood = nlu().understand_sync("Of the reator.", 0.5, heard_otherwise=[("Operator, please.", 0.4)])
    assert understood.intent == "agent" and understood.human_request


def test_the_first_reading_that_means_something_wins() -> None:
    understood = nlu(check_balance=("check_balance", 0.6), track_parcel=("track_parcel", 0.9)).understand_sync(
        "Talon.", 0.6, heard_otherwise=[("Talent.", 0.55), ("check balance", 0.5), ("track parcel", 0.45)])
    assert understood.intent == "check_balance"


def test_an_answer_to_the_slot_asked_for_is_kept_but_a_stray_value_does_not_stop_the_rescue() -> None:
    model = nlu(operator_please=("agent", 0.7))
    heard = "After aid or please."  # "please" is a yes to "Anything else?": at a menu, an answer to nothing asked
    assert model.understand_sync(heard, 0.57, heard_otherwise=[("operator please", 0.42)]).intent == "agent"
    answered = model.understand_sync(heard, 0.57, "anything_else", heard_otherwise=[("operator please", 0.42)])
    assert answered.intent is None and answered.entity("anything_else").value == "yes"  # type: ignore[union-attr]


@pytest.mark.parametrize(("text", "read"), [
    ("I'm calling about order two million three hundred forty five thousand six hundred seventy eight.",
     "I'm calling about order 2345678"),
    ("track parcel nine eight seven, six five four, three two one zero for me", "track parcel 9876543210 for me"),
    ("I lost one card.", "I lost one card"),  # a number of one or two digits stays as said
    ("Where's my parcel?", "Where's my parcel"),
])
def test_the_classifier_reads_a_long_number_said_in_words_as_one_numeral(text: str, read: str) -> None:
    assert classifier_text(text) == read


def test_a_reading_that_is_a_known_request_stands_for_a_guess_far_from_every_example() -> None:
    classifier = ScriptedClassifier({"Where's my power still": ("check_balance", 0.35),
                                     "wheres my parcel": ("track_parcel", 0.8)},
                                    far=frozenset({"Where's my power still"}))
    model = Nlu(classifier, {}, None, None)  # type: ignore[arg-type]
    understood = model.understand_sync("Where's my power still?", 0.7,
                                       heard_otherwise=[("wheres my parcel", 0.6)])
    assert (understood.intent, understood.far_from_examples) == ("track_parcel", False)
    alone = model.understand_sync("Where's my power still?", 0.7)
    assert (alone.intent, alone.far_from_examples) == ("check_balance", True)  # no other reading: the guess
