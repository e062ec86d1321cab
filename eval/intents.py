"""Intent accuracy on the development data: the figures in eval/README.md, section "Intents".

Sets (../shared/data/intents; never the held-out test files):

* ``banking77``        - BANKING77 train split 80/20 per label (seed 0): train on 80 %, test on 20 %;
* ``banking77-10shot`` - 10 rows per label from the same 80 %, same 20 % test;
* ``clinc150``         - CLINC150 train (with its 100 ``oos`` rows) -> val (in-scope accuracy, oos P/R);
* ``hwu64``            - HWU64 train -> val.

Run: ``python eval/intents.py [--mode accurate|fast] [--sets banking77,clinc150] [--json]``; writes
``eval/results/intents_<mode>.json``. The checker-facing command is ``voicebot eval intents``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from voicebot.training.evaluate import evaluate_rows, format_report, holdout, read_rows

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "intents"
SETS = ("banking77", "banking77-10shot", "clinc150", "hwu64")


def load_set(name: str, data: Path = DATA):
    """(train rows, test rows, shots) of a development set."""
    if name.startswith("banking77"):
        train, dev = holdout(read_rows(data / "banking77_train.csv"))
        return train, dev, (10 if name.endswith("10shot") else None)
    if name == "clinc150":
        return read_rows(data / "clinc150_train.jsonl"), read_rows(data / "clinc150_val.jsonl"), None
    if name == "hwu64":
        return read_rows(data / "hwu64_train.csv"), read_rows(data / "hwu64_val.csv"), None
    raise ValueError(f"unknown set {name}; known: {', '.join(SETS)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="accurate", choices=("accurate", "fast"))
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    reports = {}
    for name in args.sets.split(","):
        train, test, shots = load_set(name)
        reports[name] = evaluate_rows(train, test, shots, args.mode, args.threads)
        if not args.json:
            print(f"== {name}\n{format_report(reports[name])}", flush=True)
    out = ROOT / "eval" / "results" / f"intents_{args.mode}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(reports, indent=2) + "\n")
    if args.json:
        json.dump(reports, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
