"""The other readings of whisper's beam that a free decode passes on (``asr_whisper.alternatives``)."""

from __future__ import annotations

from voicebot.speech.asr_whisper import alternatives


def test_other_readings_best_first_each_once_without_the_chosen_one() -> None:
    texts = ["Where's my power still?", "Where's my power still.", "Where's my parcel?", "where's my parcel",
             "Where is my parcel?"]
    assert alternatives(texts, [0.7, 0.69, 0.6, 0.55, 0.5], chosen=0) == (
        ("Where's my parcel?", 0.6), ("Where is my parcel?", 0.5))


def test_a_chosen_reading_other_than_the_first_leaves_the_first_as_an_alternative() -> None:
    assert alternatives(["Oh.", "4 5 6", "Oh!"], [0.5, 0.4, 0.3], chosen=1) == (("Oh.", 0.5),)


def test_empty_readings_are_no_alternatives() -> None:
    assert alternatives(["Help.", "", "..."], [0.5, 0.4, 0.3], chosen=0) == ()
