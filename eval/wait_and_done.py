"""Requests to wait and closings: recall and false alarms of two phrase detectors.

The detectors: ``nlu/wait_request.py`` and ``normalize.says_done``.

``eval/data/wait_and_done.csv`` (``text,label``): requests to wait as callers say them (``wait``: "hang on a
sec", "give me a moment, I'm looking for it"), answers that say the caller needs nothing more (``done``:
"nope, that was all I needed"), and lines that must be neither (``other``: near-misses such as "I've been
holding on for twenty minutes", "let me get a replacement card", "that's it, I'm cancelling my account").
Written after the detectors; since the seventeenth session a dev set (its five missed waits were read), as is
``eval/data/wait_more.csv`` (eval/README.md).

``--corpora`` also runs both detectors over texts that are neither (the public intent sets in
``../shared/data/intents/``, the demo flows' examples, tests and paraphrase sets) and lists what fires:
every line there is a false alarm unless it is itself a request to wait or a closing.

``--data eval/data/wait_heldout.csv``: a held-out set written later by someone who never saw the detector or
the first set (requests to wait and near-misses only; a detector with no lines of its own is not scored).

Run: ``.venv/bin/python eval/wait_and_done.py [--data F] [--corpora] [--json]``
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import yaml

from voicebot.nlu.normalize import says_done
from voicebot.nlu.wait_request import asks_to_wait

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "eval" / "data" / "wait_and_done.csv"
INTENT_SETS = ROOT.parent / "shared" / "data" / "intents"
DETECTORS: dict[str, Callable[[str], bool]] = {"wait": asks_to_wait, "done": says_done}


def load(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="") as f:
        return [(row["text"], row["label"]) for row in csv.DictReader(f)]


def score(rows: list[tuple[str, str]], label: str, fires: Callable[[str], bool]) -> dict:
    """Recall on the ``label`` lines, false alarms on all the others."""
    mine = [text for text, lab in rows if lab == label]
    others = [text for text, lab in rows if lab != label]
    missed = [text for text in mine if not fires(text)]
    false = [text for text in others if fires(text)]
    return {"lines": len(mine), "recall": round(1 - len(missed) / len(mine), 4), "others": len(others),
            "false_alarm_rate": round(len(false) / len(others), 4), "missed": missed, "false_alarms": false}


def corpus_texts() -> Iterator[tuple[str, str]]:
    """(source, text) of the public intent sets and the demo flows' own lines."""
    for path in sorted(INTENT_SETS.glob("*.jsonl")):
        for line in path.open():
            yield path.name, json.loads(line)["text"]
    for path in sorted(INTENT_SETS.glob("*.csv")):
        with path.open(newline="") as f:
            yield from ((path.name, row["text"]) for row in csv.DictReader(f))
    for path in sorted((ROOT / "eval" / "data" / "intents").glob("*.csv")):
        with path.open(newline="") as f:
            yield from ((path.name, row["text"]) for row in csv.DictReader(f))
    for path in sorted((ROOT / "dialogs").glob("*.yaml")):
        flow = yaml.safe_load(path.read_text())
        for spec in (flow.get("intents") or {}).values():
            yield from ((path.name, text) for text in spec.get("examples", []))
        yield from ((path.name, text) for text in flow.get("out_of_scope") or [])
    for path in sorted((ROOT / "dialogs" / "tests").glob("*.yaml")):
        for test in yaml.safe_load(path.read_text()).get("tests", []):
            yield from ((path.name, turn["caller"]) for turn in test.get("turns", []) if "caller" in turn)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", action="store_true",
                        help="also scan the intent sets and the flows' lines")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--data", type=Path, default=DATA, help="the labelled lines (default: the dev set)")
    args = parser.parse_args(argv)
    rows = load(args.data)
    labels = {label for _, label in rows}
    scored = {name: fires for name, fires in DETECTORS.items() if name in labels}
    report: dict = {name: score(rows, name, fires) for name, fires in scored.items()}
    if args.corpora:
        texts = list(corpus_texts())
        hits = {name: [f"{source}: {text}" for source, text in texts if fires(text)]
                for name, fires in DETECTORS.items()}
        report["corpora"] = {"texts": len(texts), **hits}
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    for name in scored:
        r = report[name]
        print(f"{name}: recall {r['recall']:.1%} of {r['lines']}, "
              f"false alarms {r['false_alarm_rate']:.1%} of {r['others']}")
        for text in r["missed"]:
            print(f"  missed: {text}")
        for text in r["false_alarms"]:
            print(f"  false alarm: {text}")
    if args.corpora:
        print(f"corpora: {report['corpora']['texts']} texts")
        for name in DETECTORS:
            print(f"  {name} fires on {len(report['corpora'][name])}:")
            for hit in report["corpora"][name]:
                print(f"    {hit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
