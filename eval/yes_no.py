"""Yes/no answers as callers give them: how the shared understanding reads them at a yes/no question.

``eval/data/yes_no_dev.csv`` and ``yes_no_heldout.csv`` (``text,label``; ``yes``, ``no`` or ``neither``) were
written by a helper who never saw the rules, as answers to "Is that right?", "Did you want to …?", "Shall I
put you through?" and "Can I text you the details?": plain, casual, regional and hesitant yeses and noes, noes
with the right value or what the caller wants instead, and answers that are neither ("I'm not sure", "what?",
"maybe", a question back, "yes and no"). Each line is read as the dialog reads an answer to a ``yes_no`` slot
(``nlu.entities.extract`` with the slot expected, i.e. ``normalize.find_yes_no``).

Figures: the share of each label read right (``neither``: no value), and the costly mistakes apart: a line
read as the opposite answer, and a ``neither`` line read as yes (a wrong value confirmed) or no.

With ``--voices`` (and ``--channels``) each line is spoken instead, by each caller voice over each channel,
and heard by the product recogniser twice: with the hints of a plain yes/no question, and with those of "Is
that right?" after a 10-digit number read back (where the recogniser also reads a number said again). A
transcript that is no answer is read as the understanding reads it then: the first of the recogniser's other
readings near it that answers yes or no (``nlu.understand.yes_no_heard_otherwise``; the product does so
unless the best reading asks for a person, which this script does not check); ``heard_otherwise`` counts
those lines. Dev voices: flite; held-out: festival.

Run: ``.venv/bin/python eval/yes_no.py [--data eval/data/yes_no_heldout.csv] [--voices festival --channels
ulaw,gsm] [--json]``
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import time
from collections import Counter
from pathlib import Path

from voicebot.caller.voices import caller_audio, hear_turn, parse_channel, parse_voices
from voicebot.nlu.entities import SlotTypeSpec, extract
from voicebot.nlu.understand import yes_no_heard_otherwise
from voicebot.types import RecognitionHints

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "eval" / "data" / "yes_no_dev.csv"
LABELS = ("yes", "no", "neither")
YES_NO = SlotTypeSpec("yes_no", "yes_no")
CACHE_DIR = Path.home() / ".cache" / "voicebot-eval" / "yes_no"
# The hints the dialog gives (dialog/prompts.py, ``yes_no_expectation``): at any yes/no question, and at the
# confirmation of a 10-digit number read back
QUESTIONS = {"yes_no": RecognitionHints(("yes", "no"), "yes_no"),
             "number_read_back": RecognitionHints(("yes", "no"), "yes_no", digit_count=(10, 10))}


def load(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="") as f:
        return [(row["text"], row["label"]) for row in csv.DictReader(f)]


def read_as(text: str) -> str:
    """``yes``, ``no`` or ``neither``: what the dialog takes from ``text`` at a yes/no question."""
    entity = extract(text, YES_NO, expected=True)
    if entity is None or not isinstance(entity.value, bool):
        return "neither"
    return "yes" if entity.value else "no"


def score(rows: list[tuple[str, str]], heard: list[str] | None = None) -> dict:
    """Per label: lines, share read right, what the others were read as, and the lines read wrong (with what
    was heard, when ``heard`` gives each line's transcript)."""
    report: dict = {}
    said = heard if heard is not None else [text for text, _ in rows]
    for label in LABELS:
        mine = [(line, text, read_as(text))
                for text, (line, lab) in zip(said, rows, strict=True) if lab == label]
        if not mine:
            continue
        wrong = [[line, heard] if text == line else [line, heard, text]
                 for line, text, heard in mine if heard != label]
        report[label] = {"lines": len(mine), "right": round(1 - len(wrong) / len(mine), 4),
                         "read_as": dict(Counter(heard for _, _, heard in mine)), "wrong": wrong}
    opposite = {"yes": "no", "no": "yes"}
    report["opposite"] = sum(report[lab]["read_as"].get(opposite[lab], 0)
                             for lab in opposite if lab in report)
    return report


async def hear(rows: list[tuple[str, str]], voices: tuple[str, ...], channels: tuple[str, ...]
               ) -> dict[str, dict]:
    """Each line spoken by each voice over each channel, heard with each question's hints and scored: a report
    per ``question/voice family/channel`` and per question."""
    from voicebot.config import Settings
    from voicebot.runtime import InferencePool
    from voicebot.speech.asr import load_recognizer

    settings = Settings()
    pool = InferencePool(settings.inference_workers)
    recognizer = await asyncio.to_thread(load_recognizer, settings, pool)
    reports: dict[str, dict] = {}
    for question, hints in QUESTIONS.items():
        every: list[str] = []
        for voice in voices:
            for channel in channels:
                heard = []
                otherwise = 0
                for text, _ in rows:
                    audio = await asyncio.to_thread(caller_audio, text, voice, parse_channel(channel),
                                                    CACHE_DIR)
                    transcript, _ = await hear_turn(recognizer, audio.tobytes(), hints, settings)
                    said = yes_no_heard_otherwise(YES_NO, transcript.text, transcript.confidence,
                                                  transcript.alternatives) \
                        if read_as(transcript.text) == "neither" else None
                    heard.append(transcript.text if said is None else said[0])
                    otherwise += said is not None
                reports[f"{question}/{voice}/{channel}"] = score(rows, heard) | {"heard_otherwise": otherwise}
                every += heard
        reports[question] = score(rows * (len(voices) * len(channels)), every) | {
            "heard_otherwise": sum(reports[f"{question}/{v}/{c}"]["heard_otherwise"]
                                   for v in voices for c in channels)}
    await asyncio.gather(*(pool.run(time.sleep, 0) for _ in range(pool.workers)))  # speculative decodes
    pool.shutdown()
    return reports


def print_report(report: dict) -> None:
    for label in LABELS:
        if label in report:
            r = report[label]
            print(f"{label}: {r['right']:.1%} of {r['lines']} read right; read as {r['read_as']}")
            for line, heard, *transcript in r["wrong"]:
                print(f"  {heard:>7}: {line}" + (f" (heard: {transcript[0]})" if transcript else ""))
    print(f"read as the opposite answer: {report['opposite']}")
    if "heard_otherwise" in report:
        print(f"read from another of the recogniser's readings: {report['heard_otherwise']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--voices", default="", help="speak each line: caller voices (flite, festival, ...)")
    parser.add_argument("--channels", default="ulaw", help="with --voices: telephone channels")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = load(args.data)
    if not args.voices:
        report = score(rows)
        if args.json:
            print(json.dumps(report, indent=1))
        else:
            print_report(report)
        return 0
    channels = tuple(c.strip() for c in args.channels.split(",") if c.strip())
    reports = asyncio.run(hear(rows, parse_voices(args.voices), channels))
    if args.json:
        print(json.dumps(reports, indent=1))
        return 0
    for name, report in reports.items():
        if "/" not in name:
            print(f"== {name} (all voices and channels)")
            print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
