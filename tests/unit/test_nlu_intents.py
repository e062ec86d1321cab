"""Intent classifier logic (head, out-of-scope threshold, cache, Nlu wiring) with a bag-of-words fake embedder."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from fakes import FakeEmbedder
from voicebot.nlu.entities import WRONG_LENGTH_CONFIDENCE, SlotTypeSpec
from voicebot.training.evaluate import few_shot, metrics
from voicebot.nlu.intents import (FAR_CONFIDENCE, FAR_MIN_PROBABILITY, OOS, IntentClassifier,
                                  calibrate_threshold)
from voicebot.nlu.understand import Nlu, scale_confidence
from voicebot.types import Emotion

EXAMPLES = {
    "balance": ["what is my balance", "check my balance", "how much money is in my account",
                "tell me my balance please", "account balance"],
    "lost_card": ["I lost my card", "my card was stolen", "block my card", "someone stole my card",
                  "I can't find my card"],
    "transfer": ["send money to my brother", "transfer money", "make a transfer", "move money to savings",
                 "send fifty dollars to john"],
}


@pytest.fixture
def classifier(tmp_path) -> IntentClassifier:
    return IntentClassifier.train(EXAMPLES, FakeEmbedder(), cache_dir=tmp_path)


def test_predicts_trained_intents_with_a_ranking(classifier) -> None:
    prediction = classifier.predict("what's my balance")
    assert prediction.intent == "balance"
    assert prediction.ranking[0][0] == "balance"
    assert [name for name, _ in prediction.ranking] == sorted(
        [name for name, _ in prediction.ranking], key=lambda n: -dict(prediction.ranking)[n])
    assert 0 < prediction.confidence <= 1


def test_words_never_seen_are_out_of_scope(classifier) -> None:
    prediction = classifier.predict("zebra xylophone quantum")
    assert prediction.intent is None and prediction.ranking


def _three_intents() -> IntentClassifier:
    """A hand-made head on 4-d vectors: "refund", "track" and "balance" along the first three axes, one
    example on each; the fourth axis is words no example has."""
    weights = 4.0 * np.eye(4)[:3]
    return IntentClassifier(FakeEmbedder(), ("refund", "track", "balance"), weights, np.zeros(3), 0.1,
                            examples=np.eye(4)[:3], similarity_floor=0.4)


@pytest.mark.parametrize(("vector", "intent", "far"), [
    ((0.6, 0.0, 0.0, 0.8), "refund", False),  # near enough an example (0.6): as the head says
    ((0.35, 0.0, 0.0, 0.94), "refund", True),  # far (0.35) but plainly one intent (0.67): to be confirmed
    ((0.35, 0.33, 0.0, 0.88), None, True),  # far and split between two (0.46, 0.43): out of scope
    ((0.25, 0.0, 0.0, 0.97), None, True),  # further than FAR_SIMILARITY_FLOOR: out of scope however sure
])
def test_an_utterance_far_from_every_example_is_out_of_scope_unless_plainly_one_intent(
        vector: tuple[float, ...], intent: str | None, far: bool) -> None:
    classifier = _three_intents()
    v = np.array(vector, dtype=np.float32)
    prediction = classifier.decide(classifier.probabilities(v[None, :])[0], v)
    assert prediction.intent == intent
    if intent is not None and far:
        assert prediction.confidence == FAR_CONFIDENCE < FAR_MIN_PROBABILITY <= prediction.ranking[0][1]
    elif intent is not None:
        assert prediction.confidence == pytest.approx(prediction.ranking[0][1])


def test_oos_rows_train_a_class_that_is_never_reported(tmp_path) -> None:
    classifier = IntentClassifier.train(EXAMPLES, FakeEmbedder(), cache_dir=tmp_path,
                                        oos_examples=["play some music", "what's the weather", "tell me a joke"])
    assert OOS in classifier.labels and OOS not in classifier.intents
    assert classifier.predict("play music").intent is None
    assert all(name != OOS for name, _ in classifier.predict("play music").ranking)


def test_cache_is_reused_and_keyed_by_examples(tmp_path) -> None:
    embedder = FakeEmbedder()
    first = IntentClassifier.train(EXAMPLES, embedder, cache_dir=tmp_path)
    calls = embedder.calls
    second = IntentClassifier.train(EXAMPLES, embedder, cache_dir=tmp_path)
    assert embedder.calls == calls  # read from the cache: nothing embedded
    assert second.labels == first.labels and np.allclose(second.weights, first.weights)
    assert second.threshold == pytest.approx(first.threshold)
    IntentClassifier.train({**EXAMPLES, "greeting": ["hello", "hi there"]}, embedder, cache_dir=tmp_path)
    assert embedder.calls > calls and len(list(tmp_path.glob("intents-*.npz"))) == 2


def test_saved_artifact_has_no_pickle(classifier, tmp_path) -> None:
    path = tmp_path / "head.npz"
    classifier.save(path)
    with np.load(path, allow_pickle=False) as data:
        assert set(data.files) >= {"labels", "weights", "bias", "threshold"}


def test_threshold_calibration_with_out_of_scope_rows() -> None:
    classes = ("a", "b", OOS)
    probs = np.array([[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.1, 0.85, 0.05],  # confident in-scope
                      [0.4, 0.35, 0.25], [0.3, 0.4, 0.3]])  # out of scope, unsure
    labels = np.array(["a", "a", "b", OOS, OOS])
    threshold = calibrate_threshold(probs, labels, classes)
    assert 0.4 < threshold <= 0.8


def test_threshold_without_out_of_scope_rows_keeps_most_in_scope() -> None:
    probs = np.array([[p, 1 - p] for p in np.linspace(0.5, 1.0, 40)])
    labels = np.array(["a"] * 40)
    threshold = calibrate_threshold(probs, labels, ("a", "b"))
    assert (probs[:, 0] >= threshold).mean() >= 0.9


def test_asr_confidence_scales_intent_confidence() -> None:
    assert scale_confidence(0.8, 1.0) == pytest.approx(0.8)
    assert scale_confidence(0.8, 0.0) == pytest.approx(0.4)
    assert scale_confidence(0.8, 0.5) < scale_confidence(0.8, 0.9)


class ConstantEmotion:
    def detect(self, text: str, signals: object = None) -> Emotion:
        return Emotion("frustrated", 0.7, -0.5)


async def test_nlu_puts_the_expected_slot_first(classifier) -> None:
    slot_types = {"amount": SlotTypeSpec("amount", "money"), "pin": SlotTypeSpec("pin", "digits", 4, 4),
                  "note": SlotTypeSpec("note", "text")}
    nlu = Nlu(classifier, slot_types, ConstantEmotion(), None)
    result = await nlu.understand("send fifty dollars to pin one two three four", 0.9, expected_slot="pin")
    assert result.intent == "transfer"
    assert [e.type for e in result.entities] == ["pin", "amount"]  # free text only when expected
    assert result.entities[0].value == "1234" and result.entity("amount").value == "50.00"
    assert result.emotion == Emotion("frustrated", 0.7, -0.5)
    assert result.transcript_confidence == 0.9
    assert nlu.understand_sync("", 1.0).intent is None


def test_nlu_reads_a_correction_first(classifier) -> None:
    nlu = Nlu(classifier, {"pin": SlotTypeSpec("pin", "digits", 4, 4)}, None, None)
    result = nlu.understand_sync("no not 1 2 3 4, I said 4 3 2 1", expected_slot="pin", today=date(2026, 1, 1))
    assert result.entities[0].value == "4321"
    assert result.text[result.entities[0].start:result.entities[0].end] == "4 3 2 1"


@pytest.mark.parametrize(("slot", "text", "value", "said"), [
    (SlotTypeSpec("account", "digits", 8, 8), "4 5 6 7 1 2 3 4, no wait, 4 5 6 7 1 2 3 5.", "45671235",
     "4 5 6 7 1 2 3 5"),
    (SlotTypeSpec("account", "digits", 8, 8), "3 4 5 6 7 8 9 0, I mean 3 4 5 6 7 8 9 1.", "34567891",
     "3 4 5 6 7 8 9 1"),
    (SlotTypeSpec("day", "date"), "Tuesday, no sorry, Wednesday.", "2026-12-09", "Wednesday"),
    (SlotTypeSpec("day", "date"), "The 10th, actually make it the 11th.", "2026-12-11", "the 11th"),
    (SlotTypeSpec("at", "time"), "Three pm, no, four pm.", "16:00", "four pm"),
    (SlotTypeSpec("rating", "number", 1, 5), "Four, no, five.", 5, "five"),
    (SlotTypeSpec("amount", "money"), "Fifty pounds, sorry, sixty pounds.", "60.00", "sixty pounds"),
])
def test_nlu_keeps_the_value_said_again_after_a_take_back(classifier, slot, text, value, said) -> None:
    nlu = Nlu(classifier, {slot.name: slot}, None, None)
    entity = nlu.understand_sync(text, expected_slot=slot.name, today=date(2026, 12, 7)).entities[0]
    assert (entity.value, text[entity.start:entity.end]) == (value, said)


@pytest.mark.parametrize(("slot", "text", "value"), [
    (SlotTypeSpec("day", "date"), "Tuesday, no later than noon.", "2026-12-08"),
    (SlotTypeSpec("day", "date"), "No, Tuesday.", "2026-12-08"),
    (SlotTypeSpec("account", "digits", 8, 8), "1 2 3 4 5 6 7 8, actually that's 8 digits.", "12345678"),
    (SlotTypeSpec("account", "digits", 8, 8), "5 5 8, no, 4 5 7 7.", "5584577"),  # "oh" heard as "no"
])
def test_a_take_back_without_a_whole_value_on_each_side_is_none(classifier, slot, text, value) -> None:
    nlu = Nlu(classifier, {slot.name: slot}, None, None)
    entity = nlu.understand_sync(text, expected_slot=slot.name, today=date(2026, 12, 7)).entities[0]
    assert entity.value == value


def test_a_number_said_again_one_digit_short_is_read_back_not_the_one_taken_back(classifier) -> None:
    slot = SlotTypeSpec("order", "digits", 7, 7)
    nlu = Nlu(classifier, {slot.name: slot}, None, None)
    entity = nlu.understand_sync("3, 7, 7, 6, 1, 3, 5. No, no, 7, 7, 6, 1, 3, 5.", expected_slot="order").entities[0]
    assert entity.value == "776135" and entity.confidence <= WRONG_LENGTH_CONFIDENCE  # the dialog reads it back


def test_metrics_and_few_shot() -> None:
    figures = metrics(["a", "b", OOS, OOS], ["a", "a", OOS, "b"])
    assert figures["accuracy"] == pytest.approx(0.5)
    assert figures["in_scope_accuracy"] == pytest.approx(0.5)
    assert figures["oos_recall"] == pytest.approx(0.5) and figures["oos_precision"] == pytest.approx(1.0)
    rows = [(f"t{i}", "x" if i % 2 else "y") for i in range(20)]
    assert sorted(r[1] for r in few_shot(rows, 3)) == ["x"] * 3 + ["y"] * 3
    assert few_shot(rows, 3) == few_shot(rows, 3)  # fixed seed


def test_explicit_requests_for_a_human_are_recognised():
    from voicebot.nlu.human_request import asks_for_human

    for text in ("This is ridiculous, nothing works. Get me a human now!", "I want to speak to a person",
                 "put me through to someone please", "can I talk to a live agent", "transfer me to an operator",
                 "I need a manager"):
        assert asks_for_human(text), text
    for text in ("I want to check my balance", "my card was stolen", "a person stole my card",
                 "human resources called me"):
        assert not asks_for_human(text), text


def test_lexical_member_learns_words_and_joins_the_ensemble(classifier) -> None:
    from voicebot.training.ensemble import IntentEnsemble
    from voicebot.training.lexical import LexicalClassifier

    texts = [t for intent in sorted(EXAMPLES) for t in EXAMPLES[intent]]
    labels = [intent for intent in sorted(EXAMPLES) for _ in EXAMPLES[intent]]
    lexical = LexicalClassifier.fit(texts, labels)
    assert lexical.labels == classifier.labels == tuple(sorted(EXAMPLES))
    probs = lexical.probabilities_of(["my card got stolen", "transfer fifty dollars", "balance please"])
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert [lexical.labels[i] for i in probs.argmax(axis=1)] == ["lost_card", "transfer", "balance"]
    ensemble = IntentEnsemble([classifier, lexical], threshold=0.0, weights=(1.0, 0.5))
    assert np.allclose(ensemble.probabilities_of(["block my card"]).sum(), 1.0)
    assert ensemble.predict("someone stole my card").intent == "lost_card"
    assert ensemble.weights.tolist() == [1.0, 0.5]
    binary = LexicalClassifier.fit(texts[:10], labels[:10])  # two labels: sklearn's one-row head, made two-way
    probs = binary.probabilities_of(["what is my balance", "someone stole my card"])
    assert np.allclose(probs.sum(axis=1), 1.0) and probs.argmax(axis=1).tolist() == [0, 1]


def test_a_request_for_a_human_is_honoured_when_the_classifier_is_only_fairly_sure() -> None:
    """Heard "put me through 10 agent": the classifier's "agent" at 0.62 would fall under the flows' bar."""
    from voicebot.nlu.intents import IntentPrediction
    from voicebot.nlu.understand import HUMAN_REQUEST_CONFIDENCE

    class FairlySure:
        intents = ("agent", "check_balance")
        embedder = type("Embedder", (), {"embed": staticmethod(lambda texts: [[0.0] for _ in texts])})()

        def predict_vector(self, vector) -> IntentPrediction:
            return IntentPrediction("agent", 0.62, (("agent", 0.62), ("check_balance", 0.2)))

    nlu = Nlu(FairlySure(), {}, None, None)  # type: ignore[arg-type]
    assert nlu.understand_sync("actually, put me through 10 agent").confidence == HUMAN_REQUEST_CONFIDENCE
    assert nlu.understand_sync("agent please").confidence == pytest.approx(0.62)  # no request words: as classified
