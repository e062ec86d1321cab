"""eval/taken_back.py: its lines are numbers taken back one digit off, spoken by the split's voices."""

from __future__ import annotations

from pathlib import Path

from scripts import imported_script

from voicebot.nlu.normalize import find_restatement

SCRIPT = Path(__file__).resolve().parents[2] / "eval" / "taken_back.py"


def test_lines_take_back_a_number_one_digit_off_in_the_splits_voices():
    with imported_script(SCRIPT, "eval_taken_back") as taken_back:
        heldout = taken_back.generate("heldout")
        assert heldout == taken_back.generate("heldout")  # a fixed seed
        assert len(heldout) == 24
        assert {i["voice"] for i in heldout} == {"festival-slt", "festival-kal", "festival-ked"}
        assert {i["channel"] for i in heldout} == {"ulaw", "gsm"}
        assert {i["voice"].split("-")[0] for i in taken_back.generate("dev")} == {"flite"}
        for item in heldout:
            assert len(item["digits"]) in taken_back.SLOTS and len(item["first"]) == len(item["digits"])
            assert sum(a != b for a, b in zip(item["first"], item["digits"], strict=True)) == 1
            assert find_restatement(item["text"]) is not None, item["text"]  # heard right, the NLU sees it
        rows = [{"outcome": o} for o in ("right", "right", "first", "none")]
        assert taken_back.summarise(rows) == {"lines": 4, "right": 2, "first": 1, "none": 1, "other": 0,
                                              "right_rate": 0.5}
