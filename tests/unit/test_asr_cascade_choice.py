"""When the whisper cascade asks base for a second opinion."""

from voicebot.speech.asr_cascade import MIN_CONFIDENCE, CascadeRecognizer
from voicebot.types import RecognitionHints, Transcript


def test_only_unsure_free_text_goes_to_base():
    cascade = CascadeRecognizer(fast=None, accurate=None, name="whisper-cascade",
                                min_confidence=MIN_CONFIDENCE)
    free = RecognitionHints()
    assert cascade.needs_second_opinion(Transcript("the birch canoes lid", MIN_CONFIDENCE - 0.01), free)
    assert cascade.needs_second_opinion(Transcript("", 0.0), free)  # filtered as a hallucination
    assert not cascade.needs_second_opinion(Transcript("the birch canoe slid", MIN_CONFIDENCE), free)
    # the digits grammar is tiny's: base does worse there
    assert not cascade.needs_second_opinion(Transcript("4 7", 0.2), RecognitionHints(slot_type="digits"))
    assert cascade.needs_second_opinion(Transcript("yeah", 0.2), RecognitionHints(slot_type="yes_no"))
