"""eval/spoken_requests.py: paraphrase rows spoken by a flite voice over μ-law, heard by the real recogniser
and routed by the bundle's real NLU, beside the same rows as text."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripts import printed_report

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).resolve().parents[2] / "eval" / "spoken_requests.py"


def test_requests_spoken_over_a_phone_line_are_heard_and_routed_as_at_the_menu(capsys, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(SCRIPT.parent))  # (it imports menu_answers beside it)
    report = printed_report(SCRIPT, "spoken_requests", [
        "--bundles", "logistics", "--limit", "3", "--voices", "flite-rms", "--channels", "ulaw"], capsys)
    rows = report["rows"]
    assert [(row["channel"], row["voice"], row["gold"]) for row in rows] == \
        [("ulaw", "flite-rms", "track_parcel")] * 3
    assert all(row["heard"].strip() and row["outcome"] in ("direct", "confirm", "out_of_scope", "no_match")
               for row in rows)
    # "the tracking hasn't moved since tuesday" and "where my package is": plain requests, heard and reached
    assert sum(row["intent"] == "track_parcel" for row in rows) >= 2
    text, spoken = report["summary"]["logistics/text"], report["summary"]["logistics/ulaw"]
    assert text["in_scope_rows"] == spoken["in_scope_rows"] == 3 and text["reached"] == 1.0
    reached = [row["intent"] == "track_parcel" and row["outcome"] in ("direct", "confirm") for row in rows]
    assert spoken["reached"] == round(sum(reached) / 3, 3)
