"""The demo flows' paraphrase sets spoken: requests as callers say them, heard over a phone line and routed.

``voicebot eval intents --flow`` measures the bundles' understanding of
``eval/data/intents/<bundle>.<split>.csv`` as text. Here each row is spoken instead, by one caller voice of
the family given (the rows take the voices in turn, so every voice speaks a share of every intent) over each
channel (``voicebot/caller/voices.py``), heard as a call hears the menu's answer — the product's recogniser
with its default settings, streamed in 20 ms frames with the listener's pre-roll and first pause
(``hear_turn``), under the hints of the bundle's first menu — understood by the bundle's own NLU with the
recogniser's confidence and other readings, heard again by the second hearing when it means nothing
(``call/hearing.understand_turn``), and routed as the menu routes it (``training/evaluate.route``: directly,
after a confirmation, or to the out-of-scope handler).

Figures per bundle and pooled, for the text (the row as written, confidence 1) and per channel: in-scope rows
reaching the right flow (directly or after one confirmation), handed off as out of scope, sent to a wrong
intent, and out-of-scope recall — so what the line costs is the difference between the text and a channel.
Each spoken row also keeps the recogniser's confidence and the flow nearest to what was heard (``nearest``,
with the classifier's probability), and the first reading with its confidence and its beam's other readings
(``first_heard``, ``first_confidence``, ``heard_otherwise``), for rules tried offline on a run's rows.

Run: ``.venv/bin/python eval/spoken_requests.py --split dev --voices flite --channels ulaw,gsm [--bundles …]
[--limit N] [--json] [--out F]`` (dev voices and rows: flite, ``dev``; held out: festival, ``test``).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import time
from pathlib import Path

from menu_answers import BUNDLES, ROOT, _nlus, menu_hints

from voicebot.call.hearing import understand_turn
from voicebot.caller.voices import caller_audio, hear_turn, parse_channel, parse_voices
from voicebot.config import Settings
from voicebot.dialog.loader import load_bundle
from voicebot.nlu.intents import OOS
from voicebot.nlu.understand import classifier_text
from voicebot.runtime import InferencePool
from voicebot.speech.asr import load_recognizer, load_second_hearing
from voicebot.training.evaluate import Routed, flow_metrics, route
from voicebot.types import AudioFrame, RecognitionHints

CACHE_DIR = Path("/tmp/voicebot-caller-audio")
SHOWN = ("reached", "reached_directly", "handed_off_oos", "wrong_intent", "oos_recall", "oos_precision")


def load_rows(bundle: str, split: str) -> list[tuple[str, str]]:
    with (ROOT / "eval" / "data" / "intents" / f"{bundle}.{split}.csv").open(newline="") as handle:
        return [(row["text"], row["label"]) for row in csv.DictReader(handle)]


async def run(menus: dict[str, RecognitionHints], split: str, voices: tuple[str, ...], channels: list[str],
              limit: int | None = None) -> dict:
    """Every bundle's rows (the first ``limit`` of each; ``menus``: each bundle's first menu's hints) as text
    and spoken over each channel: ``flow_metrics`` per bundle × condition and pooled per condition, and every
    spoken row with what was heard."""
    settings = Settings()
    pool = InferencePool(settings.inference_workers)
    recognizer = await asyncio.to_thread(load_recognizer, settings, pool)
    second = load_second_hearing(settings, pool, recognizer)
    bundles = list(menus)
    nlus = _nlus(bundles)
    routed: dict[str, dict[str, list[Routed]]] = {}
    rows: list[dict] = []
    for bundle in bundles:
        loaded = load_bundle(ROOT / "dialogs" / f"{bundle}.yaml")[0]
        confirm_below, flows = loaded.settings.confirm_below, loaded.intent_flow
        hints, nlu = menus[bundle], nlus[bundle]
        per = routed.setdefault(bundle, {})
        for i, (text, gold) in enumerate(load_rows(bundle, split)[:limit]):
            said = await nlu.understand(text, 1.0, hints.slot_type)
            per.setdefault("text", []).append(
                Routed(text, gold, said.intent, said.confidence, route(said.intent, said.confidence,
                                                                        confirm_below, flows)))
            voice = voices[i % len(voices)]
            for channel in channels:
                audio = await asyncio.to_thread(caller_audio, text, voice, parse_channel(channel), CACHE_DIR)
                pcm = audio.astype("<i2").tobytes()
                transcript, _ = await hear_turn(recognizer, pcm, hints, settings)
                # the turn's own transcript: the cascade's base reading, when made, is the second hearing
                understood = await understand_turn(nlu, transcript, hints, audio=AudioFrame(pcm, 8000),
                                                   second_hearing=second)
                u = understood.understanding
                outcome = route(u.intent, u.confidence, confirm_below, flows)
                # the flow nearest to what was heard, however far (a reading routed out of scope too)
                nearest = nlu.classifier.predict(classifier_text(understood.transcript.text)).ranking[:1]
                per.setdefault(channel, []).append(Routed(text, gold, u.intent, u.confidence, outcome))
                rows.append({"bundle": bundle, "voice": voice, "channel": channel, "text": text, "gold": gold,
                             "heard": understood.transcript.text, "heard_again": understood.heard_again,
                             "intent": u.intent or OOS, "confidence": round(u.confidence, 3),
                             "outcome": outcome, "text_intent": said.intent or OOS,
                             "heard_confidence": round(understood.transcript.confidence, 3),
                             "nearest": [[name, round(p, 3)] for name, p in nearest],
                             "first_heard": transcript.text,
                             "first_confidence": round(transcript.confidence, 3),
                             "heard_otherwise": [[t, round(c, 3)] for t, c in transcript.alternatives]})
    await asyncio.gather(*(pool.run(time.sleep, 0) for _ in range(pool.workers)))  # speculative decodes
    pool.shutdown()
    summary: dict[str, dict] = {}
    for condition in ["text", *channels]:
        for bundle in bundles:
            summary[f"{bundle}/{condition}"] = _shown(flow_metrics(routed[bundle][condition]))
        summary[f"all/{condition}"] = _shown(flow_metrics([r for b in bundles for r in routed[b][condition]]))
    return {"split": split, "voices": list(voices), "channels": channels, "summary": summary, "rows": rows}


def _shown(metrics: dict) -> dict:
    return {key: None if metrics.get(key) is None else round(metrics[key], 3) for key in SHOWN} \
        | {"in_scope_rows": metrics["in_scope_rows"], "oos_rows": metrics["oos_rows"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="dev", choices=("dev", "test"))
    parser.add_argument("--bundles", default=",".join(BUNDLES))
    parser.add_argument("--voices", default="flite", help="voices or families; the rows take them in turn")
    parser.add_argument("--channels", default="ulaw,gsm")
    parser.add_argument("--limit", type=int, help="only the first N rows of each bundle")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    menus = {bundle: menu_hints(bundle) for bundle in args.bundles.split(",")}  # each runs its own event loop
    report = asyncio.run(run(menus, args.split, parse_voices(args.voices),
                             [c.strip() for c in args.channels.split(",") if c.strip()], args.limit))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    for name, figures in report["summary"].items():
        print(f"{name:28} " + "  ".join(f"{k} {'n/a' if v is None else f'{100 * v:.1f}'}"
                                        for k, v in figures.items() if k in SHOWN))
    for row in report["rows"]:
        if row["intent"] != row["gold"] or (row["outcome"] == "out_of_scope") != (row["gold"] == OOS):
            print(f"  {row['bundle']}/{row['channel']} {row['voice']}: {row['gold']} -> {row['intent']} "
                  f"({row['outcome']}): {row['text']!r} heard {row['heard']!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
