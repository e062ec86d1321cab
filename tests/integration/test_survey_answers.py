"""Answers to the closing survey by flite callers over μ-law, heard with the hints the product gives there and
understood by the bundle's real NLU (``eval/menu_answers.py --survey``; figures: eval/README.md, "Survey
answers"). Accuracy thresholds, not fixed outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scripts import imported_script

from voicebot.caller.voices import missing_tools

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_survey_answers_by_other_voices_reach_a_rating_or_a_person(tmp_path) -> None:
    if missing_tools():
        pytest.skip(f"missing {missing_tools()}")
    out = tmp_path / "survey.json"
    with imported_script(ROOT / "eval" / "menu_answers.py", "menu_answers") as script:
        hints = script.survey_hints("logistics")
        assert hints.kind == "number" and hints.phrases == ("one", "two", "three", "four", "five")
        script.main(["--survey", "--intents", "--bundles", "logistics", "--voices", "flite-awb,flite-rms",
                     "--channels", "ulaw", "--cache", str(tmp_path), "--out", str(out)])
        lines = script.SURVEY_LINES
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 2 * len(lines)
    answered = [r for r in rows if r["intent"] is not None]
    right = sum(r["understood"] == r["intent"] for r in answered)
    # with the generic prompt and no rating said before a comment, these two voices got 31 of 36
    missed = [(r["line"], r["heard"], r["understood"]) for r in answered if r["understood"] != r["intent"]]
    assert right >= 33, missed
    declines = [r for r in rows if r["intent"] is None]
    assert declines and all(r["understood"] is None for r in declines)  # no rating and no person made up
