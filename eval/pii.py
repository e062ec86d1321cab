"""PII masking, measured: precision and recall per kind of ``nlu/pii.py`` on a set written for it.

``eval/data/pii/*.jsonl``: one caller line a row, ``{"text", "spans": [{"kind", "text"}], "form"}`` — cards,
account numbers, PINs, phone numbers, e-mail addresses, dates of birth and national ids as callers say them
(``spoken``: digit words, "double", "oh", "dot … at"), as the ASR writes them (``asr``: grouped digits,
dashes, written addresses) and keyed (``keyed``); and negatives that must stay in clear (amounts, times,
quantities, order and reference numbers). Not taken from the unit tests. ``heldout.jsonl`` (55 lines, other
phrasings, other test numbers) was written after the detectors and never tuned on; the other files (232
lines) were used while writing them (``dev``).

A found span counts for its kind when it overlaps a labelled span of the same kind. ``masked`` is the
privacy figure: the share of labelled spans covered by a mask of any kind (recall), and the share of masks
that cover personal data (precision); leaks and false masks are listed.

Run: ``voicebot eval pii [--json]`` (or ``.venv/bin/python eval/pii.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from voicebot.nlu.pii import PiiKind, PiiMasker, PiiSpan

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "eval" / "data" / "pii"
HELD_OUT = "heldout"  # the file never tuned on


@dataclass(frozen=True, slots=True)
class Row:
    text: str
    gold: tuple[PiiSpan, ...]
    form: str
    source: str


def load(folder: Path = DATA) -> list[Row]:
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            text = item["text"]
            gold = []
            for span in item["spans"]:
                start = text.index(span["text"])
                gold.append(PiiSpan(PiiKind(span["kind"]), start, start + len(span["text"]), span["text"]))
            rows.append(Row(text, tuple(gold), item.get("form", ""), path.stem))
    return rows


def _overlap(a: PiiSpan, b: PiiSpan) -> bool:
    return a.start < b.end and b.start < a.end


def score(rows: Sequence[Row], masker: PiiMasker) -> dict:
    """Per kind: true positives, false positives, false negatives, precision, recall; and ``masked``."""
    tp, fp, fn = Counter(), Counter(), Counter()
    covered = gold_total = masks_on_pii = masks = 0
    leaks, false_masks = [], []
    forms: dict[str, list[int]] = {}
    for row in rows:
        found = masker.find(row.text)
        masks += len(found)
        for span in found:
            if any(_overlap(span, g) for g in row.gold):
                masks_on_pii += 1
            else:
                false_masks.append({"text": row.text, "masked": row.text[span.start:span.end], "as": span.kind.value})
            if any(_overlap(span, g) and g.kind == span.kind for g in row.gold):
                tp[span.kind] += 1
            else:
                fp[span.kind] += 1
        for g in row.gold:
            gold_total += 1
            hit = any(_overlap(span, g) for span in found)
            covered += hit
            forms.setdefault(row.form, [0, 0])
            forms[row.form][0] += hit
            forms[row.form][1] += 1
            if not hit:
                leaks.append({"text": row.text, "kind": g.kind.value})
            if not any(_overlap(span, g) and g.kind == span.kind for span in found):
                fn[g.kind] += 1
    kinds = {}
    for kind in PiiKind:
        t, p, n = tp[kind], fp[kind], fn[kind]
        kinds[kind.value] = {"labelled": t + n, "tp": t, "fp": p, "fn": n,
                             "precision": round(t / (t + p), 3) if t + p else None,
                             "recall": round(t / (t + n), 3) if t + n else None}
    negatives = [r for r in rows if not r.gold]
    return {
        "rows": len(rows), "labelled_spans": gold_total, "negative_rows": len(negatives),
        "kinds": kinds,
        "masked": {"recall": round(covered / gold_total, 3) if gold_total else None,
                   "precision": round(masks_on_pii / masks, 3) if masks else None},
        "recall_by_form": {form: round(hit / total, 3) for form, (hit, total) in sorted(forms.items())},
        "negatives_left_clear": round(sum(not masker.find(r.text) for r in negatives) / len(negatives), 3)
        if negatives else None,
        "leaks": leaks, "false_masks": false_masks,
    }


def timing(rows: Sequence[Row], masker: PiiMasker, rounds: int = 5) -> dict:
    """Milliseconds to mask one line (``PiiMasker.mask``), best of ``rounds`` per line."""
    times = sorted(min(_elapsed(masker, row.text) for _ in range(rounds)) for row in rows)
    return {"lines": len(times), "p50_ms": round(times[len(times) // 2] * 1000, 3),
            "p95_ms": round(times[int(len(times) * 0.95)] * 1000, 3)}


def _elapsed(masker: PiiMasker, text: str) -> float:
    started = time.perf_counter()
    masker.mask(text)
    return time.perf_counter() - started


def format_report(report: dict) -> str:
    lines = [(f"{report['rows']} lines, {report['labelled_spans']} labelled spans, "
              f"{report['negative_rows']} negative lines"), f"{'kind':<12} {'n':>4} {'precision':>9} {'recall':>7}"]
    for kind, k in report["kinds"].items():
        p = "-" if k["precision"] is None else f"{k['precision']:.3f}"
        r = "-" if k["recall"] is None else f"{k['recall']:.3f}"
        lines.append(f"{kind:<12} {k['labelled']:>4} {p:>9} {r:>7}")
    masked = report["masked"]
    lines.append(f"masked (any kind): recall {masked['recall']}, precision {masked['precision']}; "
                 f"negatives left clear {report['negatives_left_clear']}")
    lines.append("recall by form: " + ", ".join(f"{f} {v}" for f, v in report["recall_by_form"].items()))
    lines += [f"LEAK  [{x['kind']}] {x['text']}" for x in report["leaks"]]
    lines += [f"FALSE [{x['as']}] {x['masked']!r} in: {x['text']}" for x in report["false_masks"]]
    return "\n".join(lines)


def run_cli(json_out: bool = False, data: Path = DATA, out: Path | None = None) -> int:
    rows, masker = load(data), PiiMasker()
    report: dict = {split: score([r for r in rows if (r.source == HELD_OUT) == (split == "heldout")], masker)
                    for split in ("heldout", "dev")}
    report["speed"] = timing(rows, masker)
    if out is not None:
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    speed = report["speed"]
    print(json.dumps(report, indent=2) if json_out else
          "\n\n".join(f"== {split}\n{format_report(report[split])}" for split in ("heldout", "dev"))
          + f"\n\nmasking one line: p50 {speed['p50_ms']} ms, p95 {speed['p95_ms']} ms ({speed['lines']} lines)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    return run_cli(args.json, args.data, args.out)


if __name__ == "__main__":
    sys.exit(main())
