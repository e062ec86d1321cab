"""Yes/no answers as callers give them: how the shared understanding reads them at a yes/no question.

``eval/data/yes_no_dev.csv`` and ``yes_no_heldout.csv`` (``text,label``; ``yes``, ``no`` or ``neither``) were
written by a helper who never saw the rules, as answers to "Is that right?", "Did you want to …?", "Shall I
put you through?" and "Can I text you the details?": plain, casual, regional and hesitant yeses and noes, noes
with the right value or what the caller wants instead, and answers that are neither ("I'm not sure", "what?",
"maybe", a question back, "yes and no"). Each line is read as the dialog reads an answer to a ``yes_no`` slot
(``nlu.entities.extract`` with the slot expected, i.e. ``normalize.find_yes_no``).

Figures: the share of each label read right (``neither``: no value), and the costly mistakes apart: a line
read as the opposite answer, and a ``neither`` line read as yes (a wrong value confirmed) or no.

Run: ``.venv/bin/python eval/yes_no.py [--data eval/data/yes_no_heldout.csv] [--json]``
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

from voicebot.nlu.entities import SlotTypeSpec, extract

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "eval" / "data" / "yes_no_dev.csv"
LABELS = ("yes", "no", "neither")
YES_NO = SlotTypeSpec("yes_no", "yes_no")


def load(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="") as f:
        return [(row["text"], row["label"]) for row in csv.DictReader(f)]


def read_as(text: str) -> str:
    """``yes``, ``no`` or ``neither``: what the dialog takes from ``text`` at a yes/no question."""
    entity = extract(text, YES_NO, expected=True)
    if entity is None or not isinstance(entity.value, bool):
        return "neither"
    return "yes" if entity.value else "no"


def score(rows: list[tuple[str, str]]) -> dict:
    """Per label: lines, share read right, what the others were read as, and the lines read wrong."""
    report: dict = {}
    for label in LABELS:
        mine = [(text, read_as(text)) for text, lab in rows if lab == label]
        if not mine:
            continue
        wrong = [[text, heard] for text, heard in mine if heard != label]
        report[label] = {"lines": len(mine), "right": round(1 - len(wrong) / len(mine), 4),
                         "read_as": dict(Counter(heard for _, heard in mine)), "wrong": wrong}
    opposite = {"yes": "no", "no": "yes"}
    report["opposite"] = sum(report[lab]["read_as"].get(opposite[lab], 0)
                             for lab in opposite if lab in report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = score(load(args.data))
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    for label in LABELS:
        if label in report:
            r = report[label]
            print(f"{label}: {r['right']:.1%} of {r['lines']} read right; read as {r['read_as']}")
            for text, heard in r["wrong"]:
                print(f"  {heard:>7}: {text}")
    print(f"read as the opposite answer: {report['opposite']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
