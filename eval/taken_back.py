"""Digit strings taken back and said again in one breath: which number the flow keeps.

A caller reading a 7, 8 or 10 digit number slips and says it again in the same turn: "five two six nine
seven seven seven, oops, sorry, five oh six nine seven seven seven". Each line (:func:`generate`, a fixed
seed per split) is spoken by a caller voice that is not the bot's (dev: flite; **held-out**: festival, never
tuned on) over a telephone channel (dev μ-law; held-out μ-law and GSM), goes through a recognition stream of
the product recogniser with the hints of the demo slot of that length (retail ``order_number`` 7, banking
``account_number`` 8, logistics ``tracking_number`` 10) and the bundle's real NLU with that slot expected,
as a call does. The first number differs from the second in one digit; the take-back words vary ("sorry",
"no wait", "no, I mean", "actually", "let me start again", …).

Figures: ``right`` (the number said again is filled), ``first`` (the number taken back is filled: the worst
outcome, though the flow still reads it back), ``none`` (no value: the flow says what it heard and asks
again), ``other`` (another number).

Run: ``.venv/bin/python eval/taken_back.py [--split dev|heldout] [--limit N] [--json]``
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _digits_eval():
    """``eval/digits.py`` (its digit strings, spoken forms and recognition stream), without putting
    ``eval/`` on the import path."""
    spec = importlib.util.spec_from_file_location("eval_digits_for_taken_back", ROOT / "eval" / "digits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DIGITS = _digits_eval()

SLOTS = {7: ("retail", "order_number"), 8: ("banking", "account_number"),
         10: ("logistics", "tracking_number")}
TAKE_BACKS = ("sorry", "no sorry", "no wait", "no, I mean", "actually", "sorry, I mean", "no no",
              "oops, sorry", "wait, no", "let me start again")
SPLITS = {"dev": (5, ("flite-slt", "flite-rms", "flite-awb", "flite-kal"), ("ulaw",)),
          "heldout": (9, ("festival-slt", "festival-kal", "festival-ked"), ("ulaw", "gsm"))}


def grouped(digits: str, rng: random.Random) -> str:
    """``digits`` said in groups of three or four with "oh" for zero, or digit by digit."""
    if rng.random() < 0.3:
        return DIGITS.say_group(digits, "plain")
    groups, rest = [], digits
    while rest:
        size = len(rest) if len(rest) <= 4 else rng.choice((3, 4))
        groups.append(rest[:size])
        rest = rest[size:]
    return ", ".join(DIGITS.say_group(group, "oh") for group in groups)


def generate(split: str, count: int = 24) -> list[dict]:
    """``count`` lines of ``split``: voices and channels in turn, lengths 7, 8 and 10 at random."""
    seed, voices, channels = SPLITS[split]
    rng = random.Random(seed)
    items = []
    for k in range(count):
        length = rng.choice(sorted(SLOTS))
        digits = DIGITS.random_digits(length, rng)
        slip = rng.randrange(length)
        first = digits[:slip] + str((int(digits[slip]) + rng.randrange(1, 10)) % 10) + digits[slip + 1:]
        text = f"{grouped(first, rng)}, {rng.choice(TAKE_BACKS)}, {grouped(digits, rng)}"
        items.append({"id": f"{split}-{k:03d}", "digits": digits, "first": first, "text": text,
                      "voice": voices[k % len(voices)],
                      "channel": channels[k // len(voices) % len(channels)]})
    return items


async def evaluate(items: list[dict]) -> list[dict]:
    """Each item heard by the product recogniser and understood by its bundle's NLU (the slot expected)."""
    from voicebot.caller.voices import caller_audio, parse_channel, recognise
    from voicebot.config import Settings
    from voicebot.designer.conversation_tests import real_nlu_factory
    from voicebot.dialog.loader import load_bundle
    from voicebot.runtime import InferencePool
    from voicebot.speech.asr import load_recognizer
    from voicebot.types import RecognitionHints

    settings = Settings()
    pool = InferencePool(settings.inference_workers)
    recognizer = await asyncio.to_thread(load_recognizer, settings, pool)
    factory = real_nlu_factory()
    nlus = {length: factory(load_bundle(ROOT / "dialogs" / f"{bundle}.yaml")[0])
            for length, (bundle, _) in SLOTS.items()}
    rows = []
    for item in items:
        length = len(item["digits"])
        audio = await asyncio.to_thread(caller_audio, item["text"], item["voice"],
                                        parse_channel(item["channel"]), DIGITS.CACHE_DIR)
        hints = RecognitionHints(slot_type=SLOTS[length][1], kind="digits", digit_count=(length, length))
        heard, _ = await recognise(recognizer, audio.tobytes(), hints, settings)
        result = nlus[length].understand_sync(heard, expected_slot=SLOTS[length][1])
        entity = next((e for e in result.entities if e.type == SLOTS[length][1]), None)
        filled = str(entity.value) if entity is not None else None
        outcome = ("right" if filled == item["digits"] else "first" if filled == item["first"]
                   else "none" if filled is None else "other")
        rows.append({**item, "heard": heard, "filled": filled, "outcome": outcome})
    pool.shutdown()
    return rows


def summarise(rows: list[dict]) -> dict:
    counts = {outcome: sum(r["outcome"] == outcome for r in rows)
              for outcome in ("right", "first", "none", "other")}
    return {"lines": len(rows), **counts,
            "right_rate": round(counts["right"] / len(rows), 4) if rows else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=sorted(SPLITS), default="dev")
    parser.add_argument("--limit", type=int, default=24, help="lines of the split (24 by default)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = asyncio.run(evaluate(generate(args.split, args.limit)))
    report = {"split": args.split, **summarise(rows), "rows": rows}
    if args.json:
        print(json.dumps(report, indent=1))
        return
    for row in rows:
        print(f"{row['outcome']:>5}  {row['voice']:<13} {row['channel']:<5} {row['text']}")
        print(f"       heard: {row['heard']}")
    print(f"{args.split}: right {report['right']} of {report['lines']}, first number kept {report['first']}, "
          f"none {report['none']}, other {report['other']}")


if __name__ == "__main__":
    main()
