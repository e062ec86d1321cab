"""eval/yes_no.py --voices: yes/no answers spoken by a caller voice, heard with the hints of a plain yes/no
question and of the confirmation of a number read back."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripts import printed_report

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).resolve().parents[2] / "eval" / "yes_no.py"


def test_spoken_answers_are_heard_and_scored_per_question(tmp_path, capsys) -> None:
    from voicebot.caller.voices import missing_tools

    if missing_tools():
        pytest.skip(f"missing {missing_tools()}")
    data = tmp_path / "answers.csv"
    data.write_text('text,label\n"Yes, that\'s right.",yes\n"No, that\'s wrong.",no\n'
                    '"What was the question?",neither\n')
    args = ["--data", str(data), "--voices", "flite-rms", "--channels", "ulaw"]
    reports = printed_report(SCRIPT, "yes_no", args, capsys)
    assert set(reports) == {"yes_no", "number_read_back", "yes_no/flite-rms/ulaw",
                            "number_read_back/flite-rms/ulaw"}
    for question in ("yes_no", "number_read_back"):
        report = reports[question]
        assert [report[label]["lines"] for label in ("yes", "no", "neither")] == [1, 1, 1]
        assert report["yes"]["right"] == 1.0 and report["no"]["right"] == 1.0, report
        assert report["opposite"] == 0


def test_a_no_heard_as_other_words_is_read_from_another_reading(tmp_path, capsys) -> None:
    """festival kal's "no sorry" is heard "you know sorry" (no answer); the beam's "no sorry" is read."""
    from voicebot.caller.voices import missing_tools

    if missing_tools():
        pytest.skip(f"missing {missing_tools()}")
    data = tmp_path / "answers.csv"
    data.write_text("text,label\nno sorry,no\n")
    args = ["--data", str(data), "--voices", "festival-kal", "--channels", "ulaw"]
    report = printed_report(SCRIPT, "yes_no", args, capsys)["yes_no"]
    assert report["no"]["right"] == 1.0 and report["heard_otherwise"] == 1, report
