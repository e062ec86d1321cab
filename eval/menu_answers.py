"""Answers to a menu question spoken by caller voices over telephone lines: WER, and the intent reached.

The lines are the demo flows' conversation-test lines whose intent a test checks (a turn with
``intent:``, out of scope included; each distinct line once per bundle): requests, global commands ("what
can I say", "repeat that please", "can I talk to a real person"), complaints, off-topic requests. Each is spoken by a caller voice
over a channel (``voicebot/caller/voices.py``), preceded by 0.2 s and followed by 0.1 s of silence (the
listener's pre-roll and first pause), decoded by the product recogniser with the hints the bundle's menu
gives (its intents' labels), and, with ``--intents``, understood by the bundle's own NLU at that
transcript's confidence and with the recogniser's other readings (its beam: ``Nlu.rescued``). This isolates
the menu's hearing from end of turn, load and dialog: one decode per line, no call.

Figures: WER and exact lines per voice × channel and per family; with ``--intents`` the share of lines
understood as the test's intent (out of scope when the test expects ``None``).

With ``--second-hearing`` (and ``--intents``) a line tiny's readings leave meaning nothing is heard again by whisper
base and understood again, as a call does (``call/hearing.py``); rows note ``heard_again``.

With ``--commands`` the lines are instead :data:`COMMANDS`, the global commands said bare ("operator please",
"help", "say that again"), each to reach its built-in intent. With ``--keys`` they are the menu's keys said as
words ("two", "two please", "press two", "option two"), each right when the turn reads as that key (the
``menu_choice`` value the menu takes). The hints are the ones the product gives at the bundle's first menu
(its labels, then its keys as words); ``--labels-only`` gives the labels alone, as before the keys were added.
With ``--survey`` they are :data:`SURVEY_LINES`, answers to the bundle's closing survey ("on a scale of one to
five…"): ratings said as callers say them, the global commands, and declines, heard with the hints the product
gives at that survey; a rating is right when the turn fills it, a command when it reaches its intent, a
decline when it fills no rating and asks for no person.

Run: ``.venv/bin/python eval/menu_answers.py --voices flite --channels ulaw,gsm+babble10 --intents
[--out eval/results/menu_answers_flite.json]`` (dev voices: flite; held-out: festival).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml

from voicebot.call.hearing import understand_turn
from voicebot.caller.voices import caller_audio, parse_channel, parse_voices
from voicebot.config import Settings
from voicebot.dialog.bundle import MENU_CHOICE_TYPE, SURVEY_TYPE
from voicebot.dialog.prompts import KEY_WORDS
from voicebot.runtime import InferencePool
from voicebot.speech.asr import load_recognizer, load_second_hearing
from voicebot.speech.asr_whisper import _to_model_rate
from voicebot.speech.wer import wer
from voicebot.types import AudioFrame, CallStart, Listen, RecognitionHints, Transcript

ROOT = Path(__file__).resolve().parents[1]
BUNDLES = ("banking", "logistics", "retail", "public_service")
PRE_ROLL_S, PAUSE_S = 0.2, 0.1
# ``--commands``: the global commands said bare at a menu, as callers say them (not the tests' lines), and
# the built-in intent each should reach
COMMANDS = {
    "operator": "agent", "operator please": "agent", "operator, please": "agent", "an operator": "agent",
    "agent": "agent", "agent please": "agent", "representative": "agent", "a person please": "agent",
    "help": "help", "help me": "help", "help please": "help",
    "repeat": "repeat", "repeat that": "repeat", "say that again": "repeat",
}
# ``--survey``: answers to "on a scale of one to five, how happy were you?" and what each should give: a
# rating, a built-in intent, or None (a decline: no rating, no person)
SURVEY_LINES: dict[str, int | str | None] = {
    "five": 5, "four": 4, "three": 3, "two": 2, "one": 1, "five please": 5, "I'd say four": 4, "a three": 3,
    "four out of five": 4, "probably a two": 2, "five, it was great": 5, "one, that was useless": 1,
    "operator": "agent", "agent please": "agent", "can I talk to a person": "agent",
    "representative": "agent",
    "help": "help", "say that again": "repeat",
    "no thanks": None, "I'd rather not": None, "not right now": None,
}


def menu_hints(bundle: str) -> RecognitionHints:
    """What the product listens for at the bundle's first menu: the hints of the call's first Listen."""
    from voicebot.dialog.actions import ActionRunner
    from voicebot.dialog.engine import DialogEngine
    from voicebot.dialog.loader import load_bundle

    engine = DialogEngine(load_bundle(ROOT / "dialogs" / f"{bundle}.yaml")[0], ActionRunner())
    result = asyncio.run(engine.step(engine.start("menu-answers"), CallStart()))
    return next(a for a in result.actions if isinstance(a, Listen)).expect.hints


def survey_hints(bundle: str) -> RecognitionHints:
    """What the product listens for at the bundle's survey step."""
    from voicebot.dialog.engine import DialogEngine
    from voicebot.dialog.loader import load_bundle
    from voicebot.dialog.prompts import Prompts
    from voicebot.dialog.questions import Questions
    from voicebot.dialog.schema import SurveyStep

    loaded = load_bundle(ROOT / "dialogs" / f"{bundle}.yaml")[0]
    step = next(s for flow in loaded.flows.values() for s in flow.steps if isinstance(s, SurveyStep))
    state = DialogEngine(loaded, None).start("survey-answers")  # type: ignore[arg-type]
    return Prompts(loaded, Questions(loaded)).expectation(state, step).hints


def survey_result(understanding) -> int | str | None:
    """What a survey turn gave: the rating, else a built-in intent asked for, else None."""
    rating = understanding.entity(SURVEY_TYPE)
    if rating is not None:
        return int(rating.value)
    return understanding.intent if understanding.intent in ("agent", "help", "repeat") else None


def key_lines(hints: RecognitionHints) -> list[tuple[str, str]]:
    """The menu's keys said as words, four ways each, and the key each should read as."""
    keys = [w for w in hints.phrases if w in KEY_WORDS]
    return [(form.format(word), str(KEY_WORDS.index(word))) for word in keys
            for form in ("{}", "{} please", "press {}", "option {}")]


def menu_lines(bundle: str) -> tuple[tuple[str, ...], list[tuple[str, str | None]]]:
    """The bundle's menu phrases (its intents' labels) and its tests' (line, expected intent or None) pairs."""
    flow = yaml.safe_load((ROOT / "dialogs" / f"{bundle}.yaml").read_text())
    labels = tuple((spec or {}).get("label") or name.replace("_", " ") for name, spec in flow["intents"].items())
    tests = yaml.safe_load((ROOT / "dialogs" / "tests" / f"{bundle}.test.yaml").read_text())["tests"]
    lines = {turn["caller"]: turn["intent"] for test in tests for turn in test["turns"]
             if "caller" in turn and "intent" in turn}
    return labels, list(lines.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--voices", default="flite")
    parser.add_argument("--channels", default="ulaw,gsm+babble10")
    parser.add_argument("--bundles", default=",".join(BUNDLES))
    parser.add_argument("--intents", action="store_true", help="also understand each transcript (bundle NLU)")
    parser.add_argument("--commands", action="store_true", help="bare global commands instead of the tests' lines")
    parser.add_argument("--keys", action="store_true", help="the menu's keys said as words instead")
    parser.add_argument("--survey", action="store_true", help="answers to the bundle's survey instead")
    parser.add_argument("--labels-only", action="store_true", help="hints: the menu's labels without its keys")
    parser.add_argument("--second-hearing", action="store_true",
                        help="hear a line again with whisper base when it means nothing (with --intents)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/voicebot-caller-audio"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    pool = InferencePool(1)
    tiny = Settings(speech={"asr_engine": "whisper-tiny"})  # tiny's readings: the cascade's first, every turn
    recognizer = load_recognizer(tiny, pool)
    second = load_second_hearing(tiny, pool, recognizer) if args.second_hearing else None
    nlus = _nlus(args.bundles.split(",")) if args.intents else {}
    hints_of = survey_hints if args.survey else menu_hints
    product_hints = {bundle: hints_of(bundle) for bundle in args.bundles.split(",")}  # one engine start each
    rows = []
    for voice in parse_voices(args.voices):
        for channel in args.channels.split(","):
            for bundle in args.bundles.split(","):
                labels, lines = menu_lines(bundle)
                hints = replace(product_hints[bundle], phrases=labels) if args.labels_only else product_hints[bundle]
                if args.commands:
                    lines = list(COMMANDS.items())
                if args.keys:
                    lines = key_lines(product_hints[bundle])
                if args.survey:
                    lines = list(SURVEY_LINES.items())
                for line, intent in lines:
                    pcm = caller_turn(line, voice, channel, args.cache)
                    heard = recognizer.decode(_to_model_rate(pcm, 8000), hints)
                    score = wer([(line, heard.text)])
                    row = {"bundle": bundle, "voice": voice, "family": voice.split("-")[0], "channel": channel,
                           "line": line, "heard": heard.text, "confidence": round(heard.confidence, 3),
                           "errors": score.errors, "words": score.reference_words, "intent": intent,
                           "alternatives": [[text, round(conf, 3)] for text, conf in heard.alternatives]}
                    if nlus:
                        transcript = Transcript(heard.text, heard.confidence, alternatives=heard.alternatives)
                        understood = asyncio.run(understand_turn(nlus[bundle], transcript, hints,
                                                                 audio=AudioFrame(pcm, 8000), second_hearing=second))
                        key = understood.understanding.entity(MENU_CHOICE_TYPE)
                        row["understood"] = (str(key.value) if key is not None else None) if args.keys \
                            else survey_result(understood.understanding) if args.survey \
                            else understood.understanding.intent
                        row["heard_again"] = understood.transcript.text if understood.heard_again else None
                    rows.append(row)
    report = summarise(rows)
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps({"summary": report, "rows": rows}, indent=1) + "\n")
    return 0


def caller_turn(line: str, voice: str, channel: str, cache: Path) -> bytes:
    """``line`` spoken by ``voice`` over ``channel`` as the recogniser gets a turn: 8 kHz PCM with the listener's
    pre-roll before it and its first pause after."""
    pcm = caller_audio(line, voice, parse_channel(channel), cache_dir=cache).astype(np.int16)
    silence = [np.zeros(int(seconds * 8000), np.int16) for seconds in (PRE_ROLL_S, PAUSE_S)]
    return np.concatenate([silence[0], pcm, silence[1]]).astype("<i2").tobytes()


def by_voice_and_channel(rows: list[dict]) -> dict[str, list[dict]]:
    """Rows (each with ``voice``, ``family``, ``channel``) grouped per voice × channel, family × channel, and all."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        for key in (f"{row['voice']}/{row['channel']}", f"{row['family']}/{row['channel']}", "all"):
            groups[key].append(row)
    return groups


def summarise(rows: list[dict]) -> dict[str, dict[str, float | int]]:
    """WER, exact lines and (when understood) intent accuracy per voice × channel, family × channel, all."""
    report = {}
    for key, members in by_voice_and_channel(rows).items():
        entry: dict[str, float | int] = {
            "lines": len(members),
            "wer": round(sum(r["errors"] for r in members) / max(1, sum(r["words"] for r in members)), 3),
            "exact": round(sum(r["errors"] == 0 for r in members) / len(members), 3)}
        if "understood" in members[0]:
            entry["intent"] = round(sum(r["understood"] == r["intent"] for r in members) / len(members), 3)
        report[key] = entry
    return report


def _nlus(bundles: list[str]) -> dict:
    from voicebot.designer.conversation_tests import real_nlu_factory
    from voicebot.dialog.loader import load_bundle

    factory = real_nlu_factory()
    return {name: factory(load_bundle(ROOT / "dialogs" / f"{name}.yaml")[0]) for name in bundles}


if __name__ == "__main__":
    sys.exit(main())
