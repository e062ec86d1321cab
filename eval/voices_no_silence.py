"""A caller whose line sends no frames while silent, against one who sends silence frames: the bot's silence
after the caller stops (end of caller input -> first voiced bot audio), per turn, both ways.

Run ``.venv/bin/python eval/voices_no_silence.py [--rounds 3] [--script eval/scripts/balance.yaml] [--json]
[--out eval/results/no_silence_ab.json]``: starts one ``voicebot serve`` on free ports (a temporary SQLite store)
and places the script's call once per mode per round, one call at a time, alternating, so both modes see the
same load. Asterisk sends no frames in silence with Local channels and phones with silence suppression; the
issue's target is no silence over 2 s from the bot after the caller stops (``MAX_SILENCE_MS``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from voicebot.caller.launcher import serving
from voicebot.caller.script import load_script
from voicebot.caller.simulator import AudioRenderer, place_call, prepare_script

ROOT = Path(__file__).resolve().parents[1]
MAX_SILENCE_MS = 2000


async def measure(rounds: int, script_path: Path) -> list[dict[str, Any]]:
    """One row per caller turn: round, mode, kind, latency (None: unanswered)."""
    script = load_script(script_path)
    prepared = await asyncio.to_thread(prepare_script, script, 8000, AudioRenderer(None), -45.0)
    rows: list[dict[str, Any]] = []
    async with serving(Path(tempfile.mkdtemp(prefix="voicebot-no-silence-")), {}, ready_timeout=600) as service:
        for r in range(rounds):
            for frames in (True, False):
                call = await place_call("127.0.0.1", service.audiosocket_port, prepared, timeout=120,
                                        silence_frames=frames)
                rows += [{"round": r, "silence_frames": frames, "kind": t.kind, "ok": call.ok,
                          "latency_ms": None if t.latency_s is None else round(t.latency_s * 1000),
                          "bot_speaking_at_end": t.bot_speaking_at_end} for t in call.turns]
                print(f"round {r} silence_frames={frames}: ok={call.ok} "
                      f"{[(t.kind, None if t.latency_s is None else round(t.latency_s * 1000)) for t in call.turns]}",
                      file=sys.stderr)
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per mode: turns measured (the bot not still talking when the caller stopped), unanswered, p50, max, and
    how many exceed ``MAX_SILENCE_MS``."""
    out = {}
    for frames in (True, False):
        mine = [r for r in rows if r["silence_frames"] is frames]
        lat = sorted(r["latency_ms"] for r in mine if r["latency_ms"] is not None and not r["bot_speaking_at_end"])
        out["frames" if frames else "no_frames"] = {
            "turns": len(lat), "unanswered": sum(r["latency_ms"] is None for r in mine),
            "p50_ms": lat[len(lat) // 2] if lat else None, "max_ms": lat[-1] if lat else None,
            f"over_{MAX_SILENCE_MS}_ms": sum(v > MAX_SILENCE_MS for v in lat)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--script", type=Path, default=ROOT / "eval/scripts/balance.yaml")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    args = parser.parse_args(argv)
    rows = asyncio.run(measure(args.rounds, args.script))
    report = {"script": str(args.script), "rounds": args.rounds, "summary": summary(rows), "turns": rows}
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for mode, s in report["summary"].items():
            print(f"{mode}: {s['turns']} turns, {s['unanswered']} unanswered, p50 {s['p50_ms']} ms, "
                  f"max {s['max_ms']} ms, over {MAX_SILENCE_MS} ms: {s[f'over_{MAX_SILENCE_MS}_ms']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
