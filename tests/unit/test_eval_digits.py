"""eval/digits.py: the repair turn is heard with the hints the product listens with after the first turn."""

from __future__ import annotations

from pathlib import Path

from scripts import imported_script

from voicebot.dialog.prompts import REPAIR_WORDS
from voicebot.types import RecognitionHints

SCRIPT = Path(__file__).resolve().parents[2] / "eval" / "digits.py"


def test_the_repair_turn_rules_out_a_number_said_to_be_wrong_and_reads_a_whole_one_for_its_length():
    with imported_script(SCRIPT, "eval_digits") as digits:
        known = RecognitionHints(slot_type="digits", digit_count=(8, 8))
        confirmed = digits.repair_hints(known, "12345670")  # confirmed, then "no"
        assert confirmed.ruled_out == ("12345670",) and confirmed.digit_count is None
        assert confirmed.whole_count == (8, 8) and set(REPAIR_WORDS) <= set(confirmed.phrases)
        read_back = digits.repair_hints(known, "1234567")  # the wrong length: read back, nothing ruled out
        assert read_back.ruled_out == () and read_back.whole_count == (8, 8)
        assert digits.repair_hints(known, "").ruled_out == ()
        unknown = digits.repair_hints(RecognitionHints(slot_type="digits"), "1234567")  # any length fits
        assert unknown.ruled_out == ("1234567",) and unknown.whole_count is None and unknown.phrases == ()
