"""Requests for a person, held out: recall and the false-handoff rate of ``nlu/human_request.py``, and of the
decision the dialog engine takes on the demo flows' NLU.

``eval/data/human_requests.csv`` (``text,label``): requests for a person as callers say them (``human``), and
lines that must not hand off: near-misses (``none``: "the agent I spoke to promised a refund", "are you a
real person?") and requests declined (``declined``: "no thanks, I don't need an agent"). Written for this
set, not taken from the flows' examples or the unit tests.

Figures: recall (share of ``human`` lines that ask) and false-handoff rate (share of the other lines that
would hand off). ``--nlu`` also scores, per demo bundle, the engine's step 2 (docs/flows.md): a handoff when
``Understanding.human_request`` is set or the ``agent`` intent reaches ``confirm_below``; and, to compare,
the bundle's intent classifier alone (``agent`` at ``confirm_below``).

Run: ``.venv/bin/python eval/human_requests.py [--nlu] [--json] [--out eval/results/human_requests.json]``
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from voicebot.nlu.human_request import asks_for_human

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "eval" / "data" / "human_requests.csv"
BUNDLES = ("banking", "logistics", "retail", "public_service")


def load(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="") as f:
        return [(row["text"], row["label"]) for row in csv.DictReader(f)]


def score(rows: Sequence[tuple[str, str]], hands_off: Callable[[str], bool]) -> dict:
    """Recall on ``human`` lines, false-handoff rate on the others, and the lines got wrong."""
    decided = [(text, label, hands_off(text)) for text, label in rows]
    asked = [d for d in decided if d[1] == "human"]
    other = [d for d in decided if d[1] != "human"]
    return {
        "requests": len(asked),
        "others": len(other),
        "recall": round(sum(d[2] for d in asked) / len(asked), 4),
        "false_handoff_rate": round(sum(d[2] for d in other) / len(other), 4),
        "missed": [text for text, _, handed in asked if not handed],
        "false_handoffs": [text for text, _, handed in other if handed],
    }


def nlu_scores(rows: Sequence[tuple[str, str]]) -> dict:
    """Per demo bundle: the engine's step-2 decision, and the intent classifier alone."""
    from voicebot.designer.conversation_tests import real_nlu_factory
    from voicebot.dialog.loader import load_directory

    bundles, _ = load_directory(ROOT / "dialogs")
    nlu_for = real_nlu_factory()
    figures = {}
    for name in BUNDLES:
        bundle = bundles[name]
        nlu = nlu_for(bundle)
        bar = bundle.settings.confirm_below

        def engine(text: str) -> bool:
            u = nlu.understand_sync(text)  # type: ignore[attr-defined]
            return u.human_request or (u.intent == "agent" and u.confidence >= bar)

        def classifier(text: str) -> bool:
            p = nlu.classifier.predict(text)  # type: ignore[attr-defined]
            return p.intent == "agent" and p.confidence >= bar

        figures[name] = {"engine": score(rows, engine), "classifier_alone": score(rows, classifier)}
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--nlu", action="store_true", help="also the engine's decision on the demo bundles' NLU")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    rows = load(args.data)
    result: dict = {"data": str(args.data.relative_to(ROOT) if args.data.is_relative_to(ROOT) else args.data),
                    "detector": score(rows, asks_for_human)}
    if args.nlu:
        result["bundles"] = nlu_scores(rows)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    lines = [("detector", result["detector"])]
    for name, figures in result.get("bundles", {}).items():
        lines += [(f"{name} engine", figures["engine"]),
                  (f"{name} classifier alone", figures["classifier_alone"])]
    for label, s in lines:
        print(f"{label:32} recall {s['recall']:.3f} ({s['requests']})  "
              f"false handoffs {s['false_handoff_rate']:.3f} ({s['others']})")
    for label, s in lines:
        for text in s["missed"]:
            print(f"  {label}: missed {text!r}")
        for text in s["false_handoffs"]:
            print(f"  {label}: false handoff {text!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
