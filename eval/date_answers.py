"""Answers to a date question spoken by caller voices over telephone lines: the date the flow would read.

Each line of :data:`LINES` (written for this eval as callers answer "Which day?" and "What's your date of birth?":
days, weekdays, dates with and without a year) is spoken by a caller voice over a channel
(``voicebot/caller/voices.py``) as a turn (``menu_answers.caller_turn``), decoded by the product
recogniser with the hints of a date question, and read with the product's date extraction. A line is right when
that date equals the one read from the line's own text (relative days against a fixed today).

``--baseline`` decodes with no hints (the generic prompt), as the recogniser heard date answers before date
questions had hints of their own.

Run: ``.venv/bin/python eval/date_answers.py --voices flite --channels ulaw,gsm+babble10 [--json] [--out F]``
(dev voices: flite; held-out: festival).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from menu_answers import by_voice_and_channel, caller_turn

from voicebot.caller.voices import parse_voices
from voicebot.config import Settings
from voicebot.nlu.entities import SlotTypeSpec, extract
from voicebot.runtime import InferencePool
from voicebot.speech.asr import load_recognizer
from voicebot.speech.asr_whisper import _to_model_rate
from voicebot.types import RecognitionHints

LINES = (
    "tomorrow", "tomorrow please", "the day after tomorrow", "today if possible", "on Monday", "next Tuesday",
    "Wednesday", "this Friday", "Saturday please", "Sunday would be good", "the twentieth of March",
    "March twentieth", "the third of June", "December the first", "the twenty second of April",
    "the fourth of July nineteen eighty", "March fourteenth nineteen eighty five",
    "the second of February two thousand and one", "twelfth of October nineteen seventy two",
    "nineteenth of May nineteen ninety", "August thirtieth nineteen sixty nine", "it's the ninth of November",
)
TODAY = date(2026, 12, 5)
DATE = SlotTypeSpec("day", "date")
DATE_QUESTION = RecognitionHints(slot_type="day", kind="date")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--voices", default="flite")
    parser.add_argument("--channels", default="ulaw,gsm+babble10")
    parser.add_argument("--baseline", action="store_true", help="decode with no hints (the generic prompt)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/voicebot-caller-audio"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    hints = RecognitionHints() if args.baseline else DATE_QUESTION
    recognizer = load_recognizer(Settings(speech={"asr_engine": "whisper-tiny"}), InferencePool(1))  # tiny's readings
    rows = []
    for voice in parse_voices(args.voices):
        for channel in args.channels.split(","):
            for line in LINES:
                truth = extract(line, DATE, TODAY, expected=True)
                heard = recognizer.decode(_to_model_rate(caller_turn(line, voice, channel, args.cache), 8000), hints)
                read = extract(heard.text, DATE, TODAY, expected=True)
                rows.append({"voice": voice, "family": voice.split("-")[0], "channel": channel, "line": line,
                             "heard": heard.text, "date": read.value if read else None,
                             "right": read is not None and truth is not None and read.value == truth.value})
    report = summarise(rows)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for key, entry in report.items():
            print(f"{key:28} {entry['right']:4d} / {entry['lines']:4d}  {entry['accuracy']:.1%}")
    if args.out:
        args.out.write_text(json.dumps({"summary": report, "baseline": args.baseline, "rows": rows}, indent=1) + "\n")
    return 0


def summarise(rows: list[dict]) -> dict[str, dict[str, float | int]]:
    """Lines read as the right date per voice × channel, family × channel, and all."""
    return {key: {"lines": len(members), "right": sum(r["right"] for r in members),
                  "accuracy": round(sum(r["right"] for r in members) / len(members), 3)}
            for key, members in by_voice_and_channel(rows).items()}


if __name__ == "__main__":
    sys.exit(main())
