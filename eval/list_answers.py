"""Answers to a list question in the caller's own words: which value the bundle's NLU fills.

``eval/data/list_answers/{dev,heldout,heldout2}.csv`` (``bundle,slot,value,text``): what callers say when a
flow asks for a list slot (a lost card's kind, a redelivery window, a return reason, a complaint's category),
in their own words ("the one I use at the cash point", "sometime after the school run"), and answers that fit
no value (``value`` empty: "I'm not sure, what's the difference?"). ``dev.csv`` was written by the developer
and used to choose the rule; ``heldout.csv`` was written by a helper that saw the questions and the values'
meanings, never the flows' synonyms, and was not used to choose anything; ``heldout2.csv`` likewise by another
helper, after the flows' list ``examples`` were written (it never saw them either).

Each line is understood by the bundle's real NLU (``Nlu.understand_sync`` with the slot expected), as a
call does after the recogniser. Figures per slot and overall: ``right`` (the value filled is the one
expected; ``right_inferred`` of the lines, read by meaning, so the flow confirms it first: "So that's
damaged. Is that right?"), ``wrong`` (another value filled; ``wrong_unconfirmed``: a synonym said, so the flow
goes on with it, the worst outcome; the rest were inferred and the caller can refuse them), ``missed`` (no
value: the flow asks again with its options), and for the lines that fit no value, ``false_fills`` (of
which ``false_fills_unconfirmed``).

Run: ``.venv/bin/python eval/list_answers.py [--split dev|heldout|heldout2] [--json]``
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "eval" / "data" / "list_answers"


def load(split: str) -> list[dict[str, str]]:
    with (DATA / f"{split}.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def understood(rows: list[dict[str, str]]) -> list[dict]:
    """Each row with the value the bundle's NLU filled for its slot (None: none) and its confidence."""
    from voicebot.designer.conversation_tests import real_nlu_factory
    from voicebot.dialog.loader import load_bundle

    factory = real_nlu_factory()
    nlus = {name: factory(load_bundle(ROOT / "dialogs" / f"{name}.yaml")[0])
            for name in sorted({row["bundle"] for row in rows})}
    out = []
    for row in rows:
        result = nlus[row["bundle"]].understand_sync(row["text"], expected_slot=row["slot"])
        entity = next((e for e in result.entities if e.type == row["slot"]), None)
        out.append({**row, "filled": entity.value if entity else None,
                    "confidence": round(entity.confidence, 3) if entity else None,
                    "inferred": bool(entity and entity.inferred)})
    return out


def score(results: list[dict]) -> dict:
    """right / wrong / missed over the lines with a value, false fills over those without."""
    valued = [r for r in results if r["value"]]
    empty = [r for r in results if not r["value"]]
    right = [r for r in valued if r["filled"] == r["value"]]
    wrong = [r for r in valued if r["filled"] not in (None, r["value"])]
    false = [r for r in empty if r["filled"] is not None]

    def share(rows: list[dict], of: list[dict]) -> float:
        return round(len(rows) / max(1, len(of)), 3)

    return {"lines": len(valued), "right": share(right, valued),
            "right_inferred": share([r for r in right if r["inferred"]], valued),
            "wrong": share(wrong, valued),
            "wrong_unconfirmed": share([r for r in wrong if not r["inferred"]], valued),
            "missed": round(1 - share(right, valued) - share(wrong, valued), 3),
            "no_value_lines": len(empty), "false_fills": share(false, empty),
            "false_fills_unconfirmed": share([r for r in false if not r["inferred"]], empty)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="dev", choices=("dev", "heldout", "heldout2"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = understood(load(args.split))
    by_slot: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        by_slot[f"{r['bundle']}/{r['slot']}"].append(r)
    report = {"split": args.split, "all": score(results),
              "slots": {name: score(members) for name, members in sorted(by_slot.items())},
              "mistakes": [r for r in results if r["filled"] != (r["value"] or None)]}
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    for name, figures in [("all", report["all"]), *report["slots"].items()]:
        print(f"{name}: right {figures['right']:.1%} ({figures['right_inferred']:.1%} inferred, confirmed), "
              f"wrong {figures['wrong']:.1%} ({figures['wrong_unconfirmed']:.1%} unconfirmed), "
              f"missed {figures['missed']:.1%} of {figures['lines']}; "
              f"false fills {figures['false_fills']:.1%} "
              f"({figures['false_fills_unconfirmed']:.1%} unconfirmed) of {figures['no_value_lines']}")
    for r in report["mistakes"]:
        print(f"  {r['bundle']}/{r['slot']}: {r['text']!r} expected {r['value'] or None}, "
              f"filled {r['filled']}"
              f"{' (inferred)' if r['inferred'] else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
