"""eval/wait_and_done.py: recall and false alarms of the wait and closing detectors on a labelled file."""

from __future__ import annotations

from pathlib import Path

from scripts import printed_report

SCRIPT = Path(__file__).resolve().parents[2] / "eval" / "wait_and_done.py"


def test_a_file_of_waits_and_near_misses_scores_the_wait_detector_only(tmp_path, capsys) -> None:
    data = tmp_path / "waits.csv"
    data.write_text('text,label\n"Hang on, let me find my card.",wait\n"Hmm, the moon is nice",wait\n'
                    '"I\'ve been on hold for ages",other\n')
    report = printed_report(SCRIPT, "wait_and_done", ["--data", str(data)], capsys)
    assert set(report) == {"wait"}  # no closing in the file: that detector is not scored
    assert report["wait"]["recall"] == 0.5 and report["wait"]["missed"] == ["Hmm, the moon is nice"]
    assert report["wait"]["others"] == 1 and report["wait"]["false_alarms"] == []
