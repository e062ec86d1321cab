"""eval/pii.py's counting: per kind, a found span overlapping a labelled span of its kind is a true positive;
``masked`` credits any kind; negatives left in clear; the set on disk loads with every span found in its line."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from voicebot.nlu.pii import PiiKind, PiiMasker, PiiSpan

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("eval_pii_under_test", ROOT / "eval" / "pii.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Masker(PiiMasker):
    """Finds what it is told to, to check the counting."""

    def __init__(self, found: dict[str, list[PiiSpan]]) -> None:
        super().__init__()
        self.found = found

    def find(self, text: str) -> list[PiiSpan]:
        return self.found.get(text, [])


def test_counting() -> None:
    pii = _script()
    rows = [pii.Row("card 4111", (PiiSpan(PiiKind.CARD, 5, 9, "4111"),), "asr", "dev"),
            pii.Row("acct 1234", (PiiSpan(PiiKind.ACCOUNT, 5, 9, "1234"),), "asr", "dev"),
            pii.Row("mail x@y.z", (PiiSpan(PiiKind.EMAIL, 5, 10, "x@y.z"),), "spoken", "dev"),
            pii.Row("it costs 50", (), "asr", "dev")]
    masker = Masker({"card 4111": [PiiSpan(PiiKind.CARD, 5, 9, "4111")],
                     "acct 1234": [PiiSpan(PiiKind.PHONE, 5, 9, "1234")],  # masked, as the wrong kind
                     "it costs 50": [PiiSpan(PiiKind.ACCOUNT, 9, 11, "50")]})  # a false mask
    report = pii.score(rows, masker)
    assert report["kinds"]["card"] == {"labelled": 1, "tp": 1, "fp": 0, "fn": 0, "precision": 1.0, "recall": 1.0}
    assert report["kinds"]["account"]["fn"] == 1 and report["kinds"]["account"]["fp"] == 1
    assert report["kinds"]["phone"]["fp"] == 1 and report["kinds"]["email"]["recall"] == 0.0
    assert report["masked"] == {"recall": round(2 / 3, 3), "precision": round(2 / 3, 3)}
    assert report["negatives_left_clear"] == 0.0
    assert report["recall_by_form"] == {"asr": 1.0, "spoken": 0.0}
    assert [leak["kind"] for leak in report["leaks"]] == ["email"]


def test_the_set_on_disk() -> None:
    rows = _script().load()
    assert len(rows) >= 150 and sum(1 for r in rows if r.source == "heldout") == 55
    assert {r.form for r in rows} == {"spoken", "asr", "keyed"}
    assert {s.kind for r in rows for s in r.gold} == set(PiiKind)
    assert sum(1 for r in rows if not r.gold) >= 90
