"""eval/digit_repairs.py: fixes of a tracking number read back, through the logistics flow and its NLU."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripts import printed_report

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).resolve().parents[2] / "eval" / "digit_repairs.py"


def test_fixes_said_after_each_read_back_are_scored(tmp_path, capsys) -> None:
    data = tmp_path / "repairs.csv"
    data.write_text(
        "situation,heard,reply,expected\n"
        'short,286440197,"You missed a three before the seven at the end.",2864401937\n'
        'long,18366672045,"It\'s double six, not triple six.",1836672045\n'
        'confirm,8253016647,"Nearly. It ends seven four, not four seven.",8253016674\n'
        'confirm,8253016647,"Is it raining where you are?",8253016674\n')
    report = printed_report(SCRIPT, "digit_repairs", ["--data", str(data)], capsys)
    assert report["summary"]["short"] == {"rows": 1, "set_up": 1, "right": 1, "rate": 1.0}
    assert report["summary"]["long"]["right"] == 1
    assert report["summary"]["confirm"] == {"rows": 2, "set_up": 2, "right": 1, "rate": 0.5}
    assert [w["reply"] for w in report["wrong"]] == ["Is it raining where you are?"]


def test_fixes_spoken_by_a_caller_voice_are_heard_with_the_turns_hints(tmp_path, capsys) -> None:
    from voicebot.caller.voices import missing_tools

    if missing_tools():
        pytest.skip(f"missing {missing_tools()}")
    data = tmp_path / "repairs.csv"
    data.write_text("situation,heard,reply,expected\n"
                    'short,472019385,"Sorry, there\'s a six on the end.",4720193856\n'
                    'confirm,4106285939,"No, the last one is a seven.",4106285937\n')
    args = ["--data", str(data), "--voices", "flite-rms", "--channels", "ulaw"]
    report = printed_report(SCRIPT, "digit_repairs", args, capsys)
    spoken = report["summary"]["flite-rms/ulaw"]
    assert spoken["rows"] == 2 and spoken["set_up"] == 2 and spoken["right"] >= 1, report["wrong"]
