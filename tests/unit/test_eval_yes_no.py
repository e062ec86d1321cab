"""eval/yes_no.py: yes/no answers read as the dialog reads them, scored per label."""

from __future__ import annotations

from pathlib import Path

from scripts import printed_report

SCRIPT = Path(__file__).resolve().parents[2] / "eval" / "yes_no.py"


def test_each_label_is_scored_and_an_opposite_reading_is_counted(tmp_path, capsys) -> None:
    data = tmp_path / "answers.csv"
    data.write_text('text,label\n"yep, go on",yes\n"nope",no\n"no idea",neither\n"what?",neither\n'
                    '"not correct",yes\n')
    report = printed_report(SCRIPT, "yes_no", ["--data", str(data)], capsys)
    assert report["yes"] == {"lines": 2, "right": 0.5, "read_as": {"yes": 1, "no": 1},
                             "wrong": [["not correct", "no"]]}
    assert report["no"]["right"] == 1.0 and report["opposite"] == 1
    assert report["neither"]["lines"] == 2
