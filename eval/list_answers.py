"""Answers to a list question in the caller's own words: which value the bundle's NLU fills.

``eval/data/list_answers/{dev,heldout,heldout2}.csv`` (``bundle,slot,value,text``): what callers say when a
flow asks for a list slot (a lost card's kind, a redelivery window, a return reason, a complaint's category),
in their own words ("the one I use at the cash point", "sometime after the school run"), and answers that fit
no value (``value`` empty: "I'm not sure, what's the difference?"). ``dev.csv`` was written by the developer
and used to choose the rule; ``heldout.csv`` was written by a helper that saw the questions and the values'
meanings, never the flows' synonyms, and was not used to choose anything; ``heldout2.csv`` likewise by another
helper, after the flows' list ``examples`` were written (it never saw them either). ``values_heldout.csv``,
written by a helper that saw only the questions and the options they offer, holds the other way of answering:
the option named, short, with a carrier, a hesitation or a small rewording ("um, debit", "for an ID card",
"it's about noise", "the street lamps") and lines naming none ("what was the second one?").

Each line is understood by the bundle's real NLU (``Nlu.understand_sync`` with the slot expected), as a
call does after the recogniser. Figures per slot and overall: ``right`` (the value filled is the one
expected; ``right_inferred`` of the lines, read by meaning, so the flow confirms it first: "So that's
damaged. Is that right?"), ``wrong`` (another value filled; ``wrong_unconfirmed``: a synonym said, so the flow
goes on with it, the worst outcome; the rest were inferred and the caller can refuse them), ``missed`` (no
value: the flow asks again with its options), and for the lines that fit no value, ``false_fills`` (of
which ``false_fills_unconfirmed``).

With ``--voices`` (and ``--channels``) each line is spoken instead, by one caller voice of the family given
(the lines take the voices in turn) over each channel, heard as a call hears the answer to that list question
— the product's recogniser under the hints the flow's question gives (``hear_turn``) — and understood as a
call understands it, with the second hearing when the reading fills nothing
(``call/hearing.understand_turn``).
The same figures per channel, with what was heard on every line. Dev voices: flite; held-out: festival.

Run: ``.venv/bin/python eval/list_answers.py [--split dev|heldout|heldout2|values_heldout] [--voices flite
--channels ulaw,gsm] [--limit N] [--json] [--out F]``
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "eval" / "data" / "list_answers"
CACHE_DIR = Path("/tmp/voicebot-caller-audio")


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


def question_hints(bundle: str, slot: str):
    """What the product listens for when the bundle's flow asks for a value of the list ``slot``."""
    from voicebot.dialog.engine import DialogEngine
    from voicebot.dialog.loader import load_bundle
    from voicebot.dialog.prompts import Prompts
    from voicebot.dialog.questions import Questions
    from voicebot.dialog.schema import AskStep

    loaded = load_bundle(ROOT / "dialogs" / f"{bundle}.yaml")[0]
    step = next(s for flow in loaded.flows.values() for s in flow.steps
                if isinstance(s, AskStep) and loaded.slot_type_of(s) == slot)
    state = DialogEngine(loaded, None).start("list-answers")  # type: ignore[arg-type]
    return Prompts(loaded, Questions(loaded)).expectation(state, step).hints


async def heard(rows: list[dict[str, str]], voices: tuple[str, ...], channels: list[str]
                ) -> dict[str, list[dict]]:
    """Each row spoken (the rows take ``voices`` in turn) over each channel, heard under its question's hints
    and understood with the second hearing: per channel, the rows as :func:`understood` gives them, with
    ``heard`` (what the understanding read)."""
    from voicebot.call.hearing import understand_turn
    from voicebot.caller.voices import caller_audio, hear_turn, parse_channel
    from voicebot.config import Settings
    from voicebot.designer.conversation_tests import real_nlu_factory
    from voicebot.dialog.loader import load_bundle
    from voicebot.runtime import InferencePool
    from voicebot.speech.asr import load_recognizer, load_second_hearing
    from voicebot.types import AudioFrame

    settings = Settings()
    pool = InferencePool(settings.inference_workers)
    recognizer = await asyncio.to_thread(load_recognizer, settings, pool)
    second = load_second_hearing(settings, pool, recognizer)
    factory = real_nlu_factory()
    nlus = {name: factory(load_bundle(ROOT / "dialogs" / f"{name}.yaml")[0])
            for name in sorted({row["bundle"] for row in rows})}
    questions = {(row["bundle"], row["slot"]): question_hints(row["bundle"], row["slot"]) for row in rows}
    out: dict[str, list[dict]] = {channel: [] for channel in channels}
    for i, row in enumerate(rows):
        voice = voices[i % len(voices)]
        hints = questions[(row["bundle"], row["slot"])]
        for channel in channels:
            audio = await asyncio.to_thread(caller_audio, row["text"], voice, parse_channel(channel),
                                            CACHE_DIR)
            pcm = audio.astype("<i2").tobytes()
            transcript, _ = await hear_turn(recognizer, pcm, hints, settings)
            result = await understand_turn(nlus[row["bundle"]], transcript, hints,
                                           audio=AudioFrame(pcm, 8000), second_hearing=second)
            entity = result.understanding.entity(row["slot"])
            out[channel].append({**row, "voice": voice, "heard": result.transcript.text,
                                 "filled": entity.value if entity else None,
                                 "confidence": round(entity.confidence, 3) if entity else None,
                                 "inferred": bool(entity and entity.inferred)})
    await asyncio.gather(*(pool.run(time.sleep, 0) for _ in range(pool.workers)))  # speculative decodes
    pool.shutdown()
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
    parser.add_argument("--split", default="dev", choices=("dev", "heldout", "heldout2", "values_heldout"))
    parser.add_argument("--voices", help="speak the lines: voices or families (the lines take them in turn)")
    parser.add_argument("--channels", default="ulaw,gsm")
    parser.add_argument("--limit", type=int, help="only the first N lines")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    rows = load(args.split)[:args.limit]
    if args.voices:
        from voicebot.caller.voices import parse_voices

        channels = [c.strip() for c in args.channels.split(",") if c.strip()]
        spoken = asyncio.run(heard(rows, parse_voices(args.voices), channels))
        report = {"split": args.split, "voices": args.voices, "text": score(understood(rows)),
                  "channels": {channel: score(results) for channel, results in spoken.items()},
                  "mistakes": [r | {"channel": channel} for channel, results in spoken.items()
                               for r in results if r["filled"] != (r["value"] or None)]}
        shown = {"text": report["text"], **report["channels"]}
    else:
        results = understood(rows)
        by_slot: dict[str, list[dict]] = defaultdict(list)
        for r in results:
            by_slot[f"{r['bundle']}/{r['slot']}"].append(r)
        report = {"split": args.split, "all": score(results),
                  "slots": {name: score(members) for name, members in sorted(by_slot.items())},
                  "mistakes": [r for r in results if r["filled"] != (r["value"] or None)]}
        shown = {"all": report["all"], **report["slots"]}
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    for name, figures in shown.items():
        print(f"{name}: {_line(figures)}")
    for r in report["mistakes"]:
        where = f"{r['channel']} {r['voice']} " if "channel" in r else ""
        said = f"{r['text']!r}" + (f" heard {r['heard']!r}" if "heard" in r else "")
        print(f"  {where}{r['bundle']}/{r['slot']}: {said} expected {r['value'] or None}, "
              f"filled {r['filled']}{' (inferred)' if r['inferred'] else ''}")
    return 0


def _line(figures: dict) -> str:
    return (f"right {figures['right']:.1%} ({figures['right_inferred']:.1%} inferred, confirmed), "
            f"wrong {figures['wrong']:.1%} ({figures['wrong_unconfirmed']:.1%} unconfirmed), "
            f"missed {figures['missed']:.1%} of {figures['lines']}; "
            f"false fills {figures['false_fills']:.1%} "
            f"({figures['false_fills_unconfirmed']:.1%} unconfirmed) of {figures['no_value_lines']}")


if __name__ == "__main__":
    sys.exit(main())
