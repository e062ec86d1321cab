"""The digit reader: CTC decoding, the words -> digits reading, loading and the numpy model (no whisper)."""

from __future__ import annotations

import itertools
from dataclasses import replace
import math
import random

import numpy as np
import pytest

from voicebot.models import DEFAULT_MODELS_DIR, resolve
from voicebot.speech.asr_whisper import (
    Decoded,
    is_sentence_without_number,
    number_after_sentence,
    takes_reading,
    with_reading,
    words_between_numbers,
)
from voicebot.speech.digit_reader import (
    FEATURE_DIM,
    OTHER,
    STACK,
    VOCAB,
    DigitReader,
    DigitReading,
    ctc_align,
    ctc_beam,
    ctc_greedy,
    ensemble_weights,
    members_of,
    take_back_split,
    teens_for_tens,
    words_to_digits,
    words_to_text,
)
from voicebot.training.digit_reader import script


@pytest.mark.parametrize(("words", "digits"), [
    ("seven seven three three", "7733"),
    ("double four seven triple oh", "447000"),
    ("forty two seventeen ninety eight oh six", "42179806"),
    ("nine hundred one two", "90012"),  # "hundred" closes its group
    ("two thousand five", "20005"),
    ("<w> <w> <w> one two three <w> four five six", "123456"),  # "my number is ... uh ..."
    ("zero oh one", "001"),
    ("<w> <w> <w>", ""),
])
def test_words_read_as_digits(words, digits):
    assert words_to_digits(words.split()) == digits


def test_other_words_become_one_break():
    assert words_to_text([OTHER, OTHER, "one", "hundred", OTHER, "two"]) == "one hundred, two"


def posteriors_for(path: list[str]) -> np.ndarray:
    p = np.full((len(path), len(VOCAB)), 0.01)
    for t, word in enumerate(path):
        p[t, VOCAB.index(word)] = 0.9
    return p / p.sum(axis=1, keepdims=True)


def test_ctc_keeps_repeats_split_by_a_blank_and_merges_the_rest():
    words, scores = ctc_greedy(posteriors_for(["<b>", "four", "four", "<b>", "four", "<b>", "<b>", "two"]))
    assert words == ("four", "four", "two")
    assert len(scores) == 3 and all(0.5 < s < 1.0 for s in scores)


def collapsed(path: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(c for k, c in enumerate(path) if c != 0 and (k == 0 or path[k - 1] != c))


def test_the_nbest_probabilities_are_the_sums_over_all_paths():
    p = np.random.default_rng(3).dirichlet(np.ones(3), size=5)  # blank and two words, five steps
    exact: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(3), repeat=5):
        exact[collapsed(path)] = exact.get(collapsed(path), 0.0) + math.prod(p[t, c] for t, c in enumerate(path))
    nbest = ctc_beam(p, width=len(exact), floor=0.0)
    assert [labels for labels, _ in nbest] == sorted(exact, key=lambda k: -exact[k])
    for labels, log_p in nbest:
        assert math.exp(log_p) == pytest.approx(exact[labels], rel=1e-9)


def test_a_narrow_beam_keeps_the_best_sequences_first():
    p = posteriors_for(["<b>", "four", "<b>", "four", "two", "two"])
    nbest = ctc_beam(p, width=4)
    assert len(nbest) == 4
    assert [VOCAB[c] for c in nbest[0][0]] == ["four", "four", "two"]
    assert [score for _, score in nbest] == sorted((score for _, score in nbest), reverse=True)


def test_alignment_scores_each_word_on_its_own_steps():
    p = posteriors_for(["<b>", "four", "four", "<b>", "four", "<b>", "two"])
    p[4] = p[6] = 0.0
    p[4, VOCAB.index("four")], p[4, 0] = 0.4, 0.6  # a doubtful second "four"
    p[6, VOCAB.index("two")], p[6, 0] = 0.7, 0.3
    four, two = VOCAB.index("four"), VOCAB.index("two")
    assert ctc_align(p, (four, four, two)) == pytest.approx((p[1, four], 0.4, 0.7))


def reader_hearing(p: np.ndarray) -> DigitReader:
    """A reader whose network outputs ``p`` whatever it is given."""
    reader = DigitReader(small_weights(np.random.default_rng(4)))
    reader.posteriors = lambda features: p  # type: ignore[method-assign]
    return reader


def test_the_expected_count_takes_a_near_hypothesis_that_has_it():
    path = ["<b>", "seven", "<b>", "seven", "<b>", "three", "<b>", "<b>", "three"]
    p = posteriors_for(path) ** 2  # other words far below the margin
    p /= p.sum(axis=1, keepdims=True)
    seven = VOCAB.index("seven")
    p[3, seven], p[3, 0] = 0.4, 0.6  # the second "seven" is doubtful: the best path drops it
    features = np.zeros((2 * len(path), FEATURE_DIM), np.float32)
    reader = reader_hearing(p)
    assert reader.read(features).digits == "733"
    assert reader.read(features, (3, 3)).digits == "733"
    heard = reader.read(features, (4, 4))
    assert heard.digits == "7733" and heard.words == ("seven", "seven", "three", "three")
    assert heard.confidence == pytest.approx(0.4)
    p[3, seven], p[3, 0] = 1e-5, 1 - 1e-5  # no hypothesis near the best has the count: the best path stands
    assert reader_hearing(p).read(features, (4, 4)).digits == "733"


def doubtful_reading(word: str, heard_as: str, doubt: float) -> tuple[np.ndarray, np.ndarray]:
    """Posteriors of "seven three <word> one" whose third word is ``heard_as`` (0.9 - ``doubt``) or ``word``
    (``doubt``), and features of the right length."""
    path = ["<b>", "seven", "<b>", "three", "<b>", word, "<b>", "one"]
    p = posteriors_for(path) ** 2
    p /= p.sum(axis=1, keepdims=True)
    p[5] = 1e-4
    p[5, VOCAB.index(heard_as)], p[5, VOCAB.index(word)] = 0.9 - doubt, doubt
    p /= p.sum(axis=1, keepdims=True)
    return p, np.zeros((2 * len(path), FEATURE_DIM), np.float32)


def test_a_number_the_caller_said_is_wrong_is_heard_otherwise_when_said_again():
    p, features = doubtful_reading("six", heard_as="eight", doubt=0.3)  # "six" read as "eight" again
    reader = reader_hearing(p)
    assert reader.read(features, (4, 4)).digits == "7381"
    assert reader.read(features, (4, 4), ruled_out=("7381",)).digits == "7361"
    again = reader.read(features, None, ruled_out=("7381",))  # no length: the length of the number ruled out
    assert again.digits == "7361" and again.confidence == pytest.approx(p[5, VOCAB.index("six")])
    p, features = doubtful_reading("six", heard_as="eight", doubt=1e-5)  # nothing else near: it stands
    assert reader_hearing(p).read(features, (4, 4), ruled_out=("7381",)).digits == "7381"


def test_a_number_taken_back_splits_at_the_last_other_words_before_numbers_only():
    said = ["<b>", "one", "<b>", "two", "<w>", "<w>", "<b>", "three", "<w>", "<b>", "four", "<b>", "five"]
    assert take_back_split(posteriors_for(said)) == (8, 9)  # the "<w>" at step 8; after it only numbers
    assert take_back_split(posteriors_for(["one", "two", "<w>", "<b>", "<w>", "three"])) == (2, 5)
    assert take_back_split(posteriors_for(["<w>", "<w>", "one", "two"])) is None  # nothing said before
    assert take_back_split(posteriors_for(["one", "two", "<w>"])) is None  # nothing said again after
    assert take_back_split(posteriors_for(["one", "<b>", "two"])) is None


def test_a_number_taken_back_is_read_as_two_whole_numbers():
    path = ["one", "<b>", "one", "two", "three", "four", "<w>", "<w>", "<b>",
            "one", "two", "<b>", "two", "three", "five"]
    features = np.zeros((2 * len(path), FEATURE_DIM), np.float32)
    reader = reader_hearing(posteriors_for(path))
    taken_back = reader.read_taken_back(features, (5, 5))
    assert (taken_back.before.digits, taken_back.after.digits) == ("11234", "12235")
    assert (taken_back.between_start_s, taken_back.between_end_s) == (6 * STACK / 50, 8 * STACK / 50)
    assert reader.read_taken_back(features) is not None  # the length unknown: both about as long
    assert reader.read_taken_back(features, (8, 8)) is None  # the number after is not as long as asked
    short = ["one", "two", "three", "four", "five", "six", "<w>", "seven", "eight", "nine", "one"]
    assert reader_hearing(posteriors_for(short)).read_taken_back(
        np.zeros((2 * len(short), FEATURE_DIM), np.float32)) is None  # 6 then 4: not the same number again


def test_the_take_back_read_as_a_digit_next_to_it_is_left_out_when_the_length_is_known():
    path = ["one", "two", "<b>", "three", "four", "<w>", "<w>", "eight", "<b>", "one", "two", "three", "five"]
    features = np.zeros((2 * len(path), FEATURE_DIM), np.float32)  # "actually" read as "<w> eight"
    reader = reader_hearing(posteriors_for(path))
    taken_back = reader.read_taken_back(features, (4, 4))
    assert (taken_back.before.digits, taken_back.after.digits) == ("1234", "1235")
    assert reader.read_taken_back(features, (5, 5)).after.digits == "81235"  # the eight makes the length
    leaked = ["one", "two", "three", "four", "six", "<w>", "<b>", "one", "two", "three", "five"]
    taken_back = reader_hearing(posteriors_for(leaked)).read_taken_back(
        np.zeros((2 * len(leaked), FEATURE_DIM), np.float32), (4, 4))
    assert (taken_back.before.digits, taken_back.after.digits) == ("1234", "1235")


def test_whispers_teen_corrects_the_readers_ten_and_nothing_else():
    path = ["<b>", "sixteen", "<b>", "six", "<b>", "forty", "four", "<b>", "seventy", "<b>"]
    p = posteriors_for(path) ** 2
    p /= p.sum(axis=1, keepdims=True)
    seventy, seventeen = VOCAB.index("seventy"), VOCAB.index("seventeen")
    p[8, seventy], p[8, seventeen] = p[8, seventy] * 0.6, p[8, seventy] * 0.4  # "seventeen" a close second
    features = np.zeros((2 * len(path), FEATURE_DIM), np.float32)
    reader = reader_hearing(p)
    assert reader.read(features).digits == "1664470"
    assert reader.read(features, (7, 7), heard="16 6 44 17").words[-1] == "seventeen"
    assert reader.read(features, (7, 7), heard="16 6 44 17").digits == "1664417"
    assert reader.read(features, None, heard="16, 6, 44, 17.").digits == "1664417"
    assert reader.read(features, (7, 7), heard="16 6 45 17").digits == "1664470"  # whisper differs elsewhere too
    assert reader.read(features, (7, 7), heard="I'm not sure").digits == "1664470"


@pytest.mark.parametrize(("words", "other", "swapped"), [
    ("seventeen eight", "seventy eight", True),
    ("thirty six seventy", "thirteen six seventeen", True),
    ("seventy eight", "seventy eight", False),  # the same words
    ("seventy eight", "sixty eight", False),
    ("twelve", "twenty", False),  # not a teen and its ten
    ("seventy", "seventy one", False),
])
def test_teens_for_tens(words, other, swapped):
    assert teens_for_tens(tuple(words.split()), tuple(other.split())) is swapped


def test_the_shipped_reader_loads_and_reads_the_vocabulary():
    reader = DigitReader.load(resolve("digits", DEFAULT_MODELS_DIR))
    assert len(reader.networks) == 2  # the default network and one fine-tuned from it (train-digits --join)
    features = np.random.default_rng(0).normal(0, 1, (100, FEATURE_DIM)).astype(np.float32)
    p = reader.posteriors(features)
    assert p.shape == (100 // STACK, len(VOCAB))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert reader.read(features[:1]) == DigitReading((), "", 0.0)  # too short for one step


def small_weights(rng: np.random.Generator, width: int = 8, kernel: int = 3) -> dict[str, np.ndarray]:
    return {"proj.weight": rng.normal(0, 0.05, (width, FEATURE_DIM * STACK)), "proj.bias": rng.normal(0, 0.1, width),
            "conv.0.weight": rng.normal(0, 0.3, (width, width, kernel)), "conv.0.bias": rng.normal(0, 0.1, width),
            "out.weight": rng.normal(0, 0.3, (len(VOCAB), width)), "out.bias": rng.normal(0, 0.1, len(VOCAB))}


def test_the_numpy_model_is_the_trained_network():
    """proj + ReLU, a residual ReLU convolution with zero padding, then softmax: written out step by step."""
    rng = np.random.default_rng(1)
    weights = small_weights(rng)
    features = rng.normal(0, 1, (10, FEATURE_DIM)).astype(np.float32)
    x = np.maximum(features.reshape(5, -1) @ weights["proj.weight"].T + weights["proj.bias"], 0)
    padded = np.vstack([np.zeros((1, 8)), x, np.zeros((1, 8))])
    conv = np.array([[sum(weights["conv.0.weight"][o, i, k] * padded[t + k, i] for i in range(8) for k in range(3))
                      for o in range(8)] for t in range(5)]) + weights["conv.0.bias"]
    logits = (x + np.maximum(conv, 0)) @ weights["out.weight"].T + weights["out.bias"]
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(DigitReader(weights).posteriors(features), expected, rtol=1e-4, atol=1e-6)


def test_an_ensemble_averages_its_networks_probabilities():
    """One file holds the networks ("0/proj.weight", …); the reader's posteriors are the mean of theirs."""
    rng = np.random.default_rng(3)
    first, second = small_weights(rng), small_weights(rng)
    features = rng.normal(0, 1, (12, FEATURE_DIM)).astype(np.float32)
    p1, p2 = DigitReader(first).posteriors(features), DigitReader(second).posteriors(features)
    expected = (p1 + p2) / 2
    ensemble = DigitReader(ensemble_weights(first, second))
    assert len(ensemble.networks) == 2
    np.testing.assert_allclose(ensemble.posteriors(features), expected, rtol=1e-4, atol=1e-6)


def test_an_ensemble_joins_readers_in_order():
    rng = np.random.default_rng(5)
    readers = [small_weights(rng) for _ in range(3)]
    networks = members_of(ensemble_weights(readers[0], ensemble_weights(readers[1], readers[2])))
    assert len(networks) == 3
    for network, weights in zip(networks, readers, strict=True):
        assert network.keys() == weights.keys()
        assert all(np.array_equal(network[k], weights[k]) for k in weights)
    assert members_of(readers[0]) == [readers[0]]  # a file of one network: as before


def test_weights_of_another_vocabulary_are_refused():
    weights = small_weights(np.random.default_rng(2))
    weights["out.weight"] = weights["out.weight"][:-1]
    with pytest.raises(ValueError, match="vocabulary"):
        DigitReader(weights)


@pytest.mark.parametrize(("reading", "count", "takes"), [
    (DigitReading(("one", "two"), "12", 0.9), None, True),
    (DigitReading(("one", "two"), "12", 0.9), (2, 2), True),
    (DigitReading(("one", "two"), "12", 0.9), (3, 8), False),  # a miscount: whisper's grammar decides
    (DigitReading((OTHER, OTHER), "", 0.9), None, False),  # no digits: whisper's grammar decides
])
def test_when_the_reading_stands(reading, count, takes):
    assert takes_reading(reading, count) is takes


@pytest.mark.parametrize("pairs", [1, 3])
def test_training_scripts_label_every_word(pairs):
    rng = random.Random(5)
    for _ in range(200):
        said = script(rng, pairs)
        assert len(said.labels) == len(said.text.replace("-", " ").split())
        assert all(label in VOCAB[1:] for label in said.labels)


def test_a_sentence_with_one_number_word_is_no_reading():
    """ "I don't have one": the free-text decode and whisper's grammar decide, as without the reader."""
    assert not takes_reading(DigitReading((OTHER, OTHER, OTHER, "one"), "1", 0.95), None)
    assert takes_reading(DigitReading((OTHER, OTHER, *["one"] * 7), "1111111", 0.95), None)


def test_a_number_inside_a_sentence_takes_the_readers_digits():
    free = Decoded("Yeah, my account number is 6-0-0-0-0-0-3-1, thanks.", 0.8, -0.2, 0.1, 4.0)
    reading = DigitReading((OTHER,) * 5 + ("six", "oh", "oh", "oh", "oh", "three", "one", "eight"), "60000318", 0.9)
    assert with_reading(free, reading, (8, 8)).text == "Yeah, my account number is 6 0 0 0 0 3 1 8, thanks."
    assert with_reading(free, reading, (9, 9)) == free  # not the expected count: whisper's text stays
    looped = Decoded("Aye, aye, aye, aye, aye, aye, aye, aye.", 0.5, -0.7, 0.1, 4.0)  # FSDD "five five five …"
    assert with_reading(looped, reading, (8, 8)).text == "6 0 0 0 0 3 1 8"
    assert with_reading(looped, reading, None) == looped  # no expected count: the free text stays
    no_number = Decoded("I don't have one.", 0.9, -0.1, 0.1, 1.0)
    assert with_reading(no_number, DigitReading((OTHER, OTHER, OTHER, "one"), "1", 0.9), None) == no_number


def test_a_number_after_a_sentence_whisper_stopped_at_is_the_readers():
    """Whisper's end of text after "Hang on, let me read it off the label." drops the number said next."""
    free = Decoded("Hang on, let me read it off the label.", 0.86, -0.15, 0.1, 6.4)
    said = ("zero", "four", "eight", "two", "six", "five", "seven", "three", "one", "nine")
    reading = DigitReading((OTHER,) * 9 + said, "0482657319", 0.6)
    assert number_after_sentence(free, reading).text == \
        "Hang on, let me read it off the label. 0 4 8 2 6 5 7 3 1 9"
    erm = DigitReading((OTHER,) * 4 + said[:6] + (OTHER,) + said[6:], "0482657319", 0.6)  # "…, erm, …"
    assert number_after_sentence(replace(free, text="Let me start over."), erm) is not None
    # not: a sentence the reader hears with digits among its words, too few digits, talk after the number,
    # a free text that has a number already, or far fewer words than the reader heard before the number
    scattered = DigitReading((OTHER, "four", OTHER, OTHER, "two", OTHER, "one", "one", "five", "six"),
                             "421156", 0.4)
    assert number_after_sentence(free, scattered) is None
    assert number_after_sentence(free, DigitReading((OTHER,) * 9 + said[:3], "048", 0.6)) is None
    talk_after = DigitReading((OTHER,) * 9 + said + (OTHER, OTHER), "0482657319", 0.6)
    assert number_after_sentence(free, talk_after) is None
    assert number_after_sentence(replace(free, text="It's 0 4 8."), reading) is None
    assert number_after_sentence(replace(free, text="Hang on."), reading) is None


def test_words_between_the_numbers_keep_the_free_text():
    """A fix of a number read back ("double six, not triple six"): the reader's digits would drop words."""
    free = Decoded("It's double six, not triple six.", 0.6, -0.5, 0.1, 2.0)
    reading = DigitReading(("six", "six", OTHER, "triple", "six"), "66666", 0.8)
    assert words_between_numbers(reading)
    assert with_reading(free, reading, None) == free
    grouped = Decoded("It's 9 8 7, uh, 6 5 4.", 0.8, -0.2, 0.1, 3.0)  # a filler between groups: one number
    reading = DigitReading((OTHER, "nine", "eight", "seven", OTHER, "six", "five", "four"), "987654", 0.9)
    assert not words_between_numbers(DigitReading((OTHER, OTHER, "nine", "oh", "five"), "905", 0.9))
    assert with_reading(grouped, reading, None).text == "It's 9 8 7 6 5 4."


def test_a_network_trained_from_a_reader_joins_it_as_an_ensemble(tmp_path):
    """``train-digits --init R --join R``: the new network starts from R's weights and is written after R's."""
    from voicebot.training.digit_reader import TrainConfig, build

    rng = np.random.default_rng(6)
    start = tmp_path / "reader.npz"
    weights = {k: v.astype(np.float16) for k, v in small_weights(rng).items()}
    np.savez(start, **weights)
    labels = [[VOCAB.index("one"), VOCAB.index("two")], [VOCAB.index("nine")]]
    np.savez(tmp_path / "shard_0000.npz", features=rng.normal(0, 1, (60, FEATURE_DIM)).astype(np.float16),
             lengths=np.array([30, 30]), labels=np.array(sum(labels, []), np.int16), label_lengths=np.array([2, 1]))
    out = tmp_path / "joined.npz"
    build(tmp_path, out, 2, tmp_path, TrainConfig(epochs=1, width=8, kernel=3, layers=1, held_out=0.5, threads=1),
          workers=1, progress=lambda _: None, init=start, join=start)
    with np.load(out) as data:
        networks = members_of(dict(data))
    assert len(networks) == 2
    assert all(np.array_equal(networks[0][k], weights[k]) for k in weights)
    assert all(np.allclose(networks[1][k], weights[k], atol=0.01) for k in weights)  # one short step from there


def test_a_sentence_with_no_number_is_not_read_as_digits():
    """An angry sentence at a PIN question, read by the reader as four digits, stays a sentence; a number whisper
    misheard as words has fewer words than digits and is still the reader's."""
    pin = DigitReading(("oh", OTHER, "seven", "five", "oh"), "0750", 0.6)
    assert is_sentence_without_number("This is the worst service ever. I'm serious.", pin)
    assert not is_sentence_without_number("Aye, aye, aye, aye.", pin)
    assert not is_sentence_without_number("Viewer, Viewer, A-A-A-A-A-A-A-A-A-", pin)  # a loop: two words
    assert not is_sentence_without_number("It's 0 7 5 0, I think.", pin)  # a number: the reader reads it
    assert not is_sentence_without_number("For only $1.49, 9.56.", DigitReading(("four",) * 9, "4" * 9, 0.9))
