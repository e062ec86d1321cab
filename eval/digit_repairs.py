"""Repairs of a digit string read back, as callers say them, through the logistics flow in text.

``eval/data/digit_repairs_dev.csv`` and ``digit_repairs_heldout.csv`` (``situation,heard,reply,expected``)
were written by a helper who never saw the rules. The caller wants the 10-digit tracking number ``expected``;
the bot heard ``heard`` and read it back: ``short`` (9 digits: "That's 9 digits, and I need 10. Say the rest,
or just the part to fix …"), ``long`` (11 digits) or ``confirm`` (10 digits, one wrong: "I have …. Is that
right?"). ``reply`` is the caller's fix in words ("no, the last one is zero", "you missed a five at the
start", the whole number again).

Each row is a conversation with the real ``logistics`` bundle and its NLU (the text driver of ``voicebot
test``): "track my parcel", ``heard`` said digit by digit (the set-up: the bot must read it back as the row's
situation says, else the row is counted as set-up failed), then ``reply``; right when the tracking number slot
then holds ``expected``.

With ``--voices`` (and ``--channels``) each fix is spoken instead: by each caller voice over each channel
(``voicebot/caller/voices.py``), heard by the product recogniser with the hints the bot gives at that turn
(the digits grammar with the repair words after a read-back, yes/no after "Is that right?"), and what it heard
is the caller's turn. Dev voices: flite; held-out: festival.

Run: ``.venv/bin/python eval/digit_repairs.py [--data eval/data/digit_repairs_heldout.csv] [--voices flite
--channels ulaw,gsm] [--json [--all-rows]]`` (``--all-rows``: every row with what was heard, so that a spoken
run's transcripts can be read again in text).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from voicebot.caller.voices import caller_audio, parse_channel, parse_voices, recognise
from voicebot.designer.conversation_tests import (
    ConversationTest,
    ConversationTurn,
    TextDriver,
    TurnExpect,
    real_nlu_factory,
    run_test,
)
from voicebot.dialog.loader import load_bundle

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "eval" / "data" / "digit_repairs_dev.csv"
SLOT = "tracking_number"
CACHE_DIR = Path.home() / ".cache" / "voicebot-eval" / "digits"  # spoken lines, as eval/digits.py
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
READ_BACK = {"short": "I need 10", "long": "I need 10", "confirm": "is that right"}


def load(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def conversation(row: dict[str, str], number: int) -> ConversationTest:
    """The row as a conversation test: the request, the number as heard, the caller's fix."""
    heard = " ".join(DIGIT_WORDS[int(d)] for d in row["heard"])
    return ConversationTest(f"repair {number}", "logistics", turns=(
        ConversationTurn("caller", "track my parcel", TurnExpect()),
        ConversationTurn("caller", heard, TurnExpect(bot_says=(READ_BACK[row["situation"]],))),
        ConversationTurn("caller", row["reply"], TurnExpect(slots={SLOT: row["expected"]})),
    ))


class Hearing:
    """The caller's fix spoken by a voice over a channel and heard by the product recogniser with the hints
    the bot gives at that turn."""

    def __init__(self) -> None:
        from voicebot.config import Settings
        from voicebot.runtime import InferencePool
        from voicebot.speech.asr import load_recognizer

        self.settings = Settings()
        self.pool = InferencePool(self.settings.inference_workers)
        self.recognizer = load_recognizer(self.settings, self.pool)

    async def heard(self, bundle, nlu, test: ConversationTest, voice: str, channel: str) -> str:
        driver = TextDriver(bundle, nlu)
        try:
            await driver.begin(test)
            for turn in test.turns[:-1]:
                await driver.turn(turn)
            assert driver.expectation is not None
            hints = driver.expectation.hints
        finally:
            await driver.end()
        audio = await asyncio.to_thread(caller_audio, test.turns[-1].value, voice, parse_channel(channel),
                                        CACHE_DIR)
        text, _ = await recognise(self.recognizer, audio.tobytes(), hints, self.settings)
        return text


async def evaluate(rows: list[dict[str, str]], voices: tuple[str, ...] = (), channels: tuple[str, ...] = ()
                   ) -> list[dict]:
    bundle = load_bundle(ROOT / "dialogs" / "logistics.yaml")[0]
    nlu = real_nlu_factory()(bundle)
    hearing = await asyncio.to_thread(Hearing) if voices else None
    callers = [(v, c) for v in voices for c in channels] if voices else [("text", "")]
    results = []
    for number, row in enumerate(rows, 1):
        for voice, channel in callers:
            results.append(await _one(bundle, nlu, row, number, hearing, voice, channel))
    if hearing is not None:  # let decodes still queued (speculative ones nobody awaits) finish first
        await asyncio.gather(*(hearing.pool.run(time.sleep, 0) for _ in range(hearing.pool.workers)))
        hearing.pool.shutdown()
    return results


async def _one(bundle, nlu, row: dict[str, str], number: int, hearing: Hearing | None, voice: str,
               channel: str) -> dict:
    test = conversation(row, number)
    transcript = row["reply"]
    if hearing is not None:
        transcript = await hearing.heard(bundle, nlu, test, voice, channel)
        test = replace(test, turns=(*test.turns[:-1], replace(test.turns[-1], value=transcript)))
    result = await run_test(test, TextDriver(bundle, nlu))
    set_up = not any(f.startswith("turn 2 ") for f in result.failures)
    last = max(i for i, (who, _) in enumerate(result.transcript) if who == "caller")
    then = " ".join(text for _, text in result.transcript[last + 1:])
    return {**row, "voice": voice, "channel": channel, "transcript": transcript, "set_up": set_up,
            "right": result.passed, "bot_then": then, "failures": result.failures}


def summarise(results: list[dict]) -> dict:
    """Per situation and overall: rows, rows whose set-up held, and the share of those put right."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        for key in (r["situation"], "all", *((f"{r['voice']}/{r['channel']}",) if r["channel"] else ())):
            groups[key].append(r)
    summary = {}
    for name, members in groups.items():
        usable = [r for r in members if r["set_up"]]
        right = sum(r["right"] for r in usable)
        summary[name] = {"rows": len(members), "set_up": len(usable), "right": right,
                         "rate": round(right / len(usable), 4) if usable else None}
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--voices", default="", help="speak each fix: caller voices (flite, festival, ...)")
    parser.add_argument("--channels", default="ulaw", help="with --voices: telephone channels")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--all-rows", action="store_true",
                        help="with --json: every row with what was heard, not only the wrong ones")
    args = parser.parse_args(argv)
    voices = parse_voices(args.voices) if args.voices else ()
    results = asyncio.run(evaluate(load(args.data), voices, tuple(args.channels.split(","))))
    report = {"summary": summarise(results), "wrong": [r for r in results if not r["right"]]}
    if args.all_rows:
        report["rows"] = results
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    for name, s in report["summary"].items():
        print(f"{name}: {s['right']} of {s['set_up']} put right ({s['rows']} rows)")
    for r in report["wrong"]:
        what = "set-up failed" if not r["set_up"] else f"bot: {r['bot_then'][:140]}"
        spoken = f" heard {r['transcript']!r} ({r['voice']}/{r['channel']})" if r["channel"] else ""
        print(f"  [{r['situation']}] {r['heard']} + {r['reply']!r}{spoken} -> want {r['expected']}; {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
