"""eval/list_answers.py --voices: short answers to a list question spoken by a flite voice over μ-law, heard by the
real recogniser under the question's hints and understood by the bundle's real NLU, beside the same lines as text."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripts import printed_report

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).resolve().parents[2] / "eval" / "list_answers.py"


def test_list_answers_spoken_over_a_phone_line_fill_the_slot_the_question_asks_for(capsys) -> None:
    report = printed_report(SCRIPT, "list_answers", [
        "--split", "values_heldout", "--limit", "3", "--voices", "flite-rms", "--channels", "ulaw"], capsys)
    # the set's first lines name the debit card: "debit", "my debit card", "it's the debit one"
    assert report["text"]["lines"] == report["channels"]["ulaw"]["lines"] == 3
    assert report["text"]["right"] == 1.0
    spoken = report["channels"]["ulaw"]
    assert spoken["right"] >= 2 / 3 - 0.001  # plain words from a clear voice: at most one lost on the line
    assert all(m["channel"] == "ulaw" and m["voice"] == "flite-rms" and m["slot"] == "card_kind"
               for m in report["mistakes"])
    assert len(report["mistakes"]) == round(3 * (1 - spoken["right"]))


def test_the_question_hints_are_the_ones_the_flow_listens_with() -> None:
    from scripts import imported_script

    with imported_script(SCRIPT, "list_answers") as script:
        hints = script.question_hints("banking", "card_kind")
    assert hints.slot_type == "card_kind" and hints.kind == "list"
    assert {"debit", "credit"} <= set(hints.phrases)
