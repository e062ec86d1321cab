"""Conversation tests in audio mode spoken by callers that are not the bot: pass rate per bundle, voice
family and telephone channel, and the failures grouped by kind.

Run with ``voicebot eval voices [--bundles banking,retail] [--matrix piper/clean,flite/ulaw,...] [--jobs 4]
[--json] [--out eval/results/voices.json]`` or ``python eval/caller_voices.py``. Each matrix entry is a
voice family (``piper``: the bot's own voice, the baseline; ``flite``: four voices; ``festival``: three) over
a channel (``voicebot.call.voices.parse_channel``: ``clean``, ``ulaw``, ``gsm+babble10`` …). Every runnable
test of every bundle is played once per entry, as one real call against a ``voicebot serve`` of its bundle
(``voicebot.dialog.audio_driver``); inside an entry the family's voices take the tests in turn. Calls run
in real time, ``--jobs`` at a time per bundle.

A failed test is put in one kind, the first that applies:

* **call**: the simulator's own error (refused connection, time-out, no greeting);
* **end of turn**: the service took more or fewer caller inputs than the test has (an answer split in
  two, two merged, or a line not heard at all);
* **ASR mishearing**: a caller line up to the first failing turn was heard wrong: a digit differs, or a
  quarter or more of its words (``voicebot.speech.wer`` normalisation);
* **NLU**: heard right, but the intent the test expects was not recognised;
* **flow**: heard and understood, and the bot still did not do what the test expects (wording, state,
  handoff fields, a reply the caller did not wait for).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from voicebot.call.voices import CallerSetup, caller_setups, missing_tools
from voicebot.dialog.audio_driver import AudioTestResult, run_audio_tests, skip_reason
from voicebot.dialog.testing import ConversationTest, load_tests
from voicebot.speech.wer import edit_distance, normalize

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MATRIX = "piper/clean,flite/ulaw,flite/gsm+babble10,festival/ulaw,festival/gsm+babble10"
KINDS = ("call", "end of turn", "ASR mishearing", "NLU", "flow")
EXAMPLES_PER_KIND = 12
_TURN = re.compile(r"^turn (\d+) ")


def parse_matrix(spec: str) -> list[tuple[str, str]]:
    """``family/channel,…`` → [(family, channel)], each checked."""
    entries = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        family, _, channel = part.partition("/")
        caller_setups(family, channel or "clean")  # raises ValueError on a bad name
        entries.append((family, channel or "clean"))
    return entries


def plan(tests: Sequence[ConversationTest], matrix: Sequence[tuple[str, str]]
         ) -> tuple[list[ConversationTest], list[CallerSetup], list[str]]:
    """Every runnable test once per matrix entry, test by test (a run cut short still covers every entry
    alike); inside an entry a bundle's tests take the family's voices in turn."""
    runnable = [t for t in tests if skip_reason(t) is None]
    by_bundle: dict[str, list[ConversationTest]] = {}
    for test in runnable:
        by_bundle.setdefault(test.bundle, []).append(test)
    planned: list[ConversationTest] = []
    callers: list[CallerSetup] = []
    entries: list[str] = []
    for bundle_tests in by_bundle.values():
        for i, test in enumerate(bundle_tests):
            for family, channel in matrix:
                setups = caller_setups(family, channel)
                planned.append(test)
                callers.append(setups[i % len(setups)])
                entries.append(f"{family}/{channel}")
    return planned, callers, entries


# ---- failure kinds -------------------------------------------------------------------------------


def _misheard(said: str, heard: str) -> bool:
    ref, hyp = normalize(said), normalize(heard)
    digits = [t for t in ref if t.isdigit()], [t for t in hyp if t.isdigit()]
    if digits[0] != digits[1]:
        return True
    return edit_distance(ref, hyp) >= max(1, 0.25 * len(ref))


def classify(r: AudioTestResult) -> dict[str, Any]:
    """The failed test's kind (module docstring) with the failure and what was said and heard."""
    assert r.result is not None
    failures = r.result.failures
    first = next((f for f in failures if not f.startswith("audio:")), failures[0] if failures else "")
    inputs = [t for t in r.test.turns if t.kind != "start"]
    pairs = [(t.value, h.text) for t, h in zip(inputs, r.heard) if t.kind == "caller" and h.kind == "speech"]
    match = _TURN.match(first)
    upto = len(inputs)
    if match:
        upto = int(match[1]) - (len(r.test.turns) - len(inputs))  # caller inputs up to the failing turn
    spoken = [(t.value, h.text if h.kind == "speech" else f"({h.kind} {h.text})".strip())
              for t, h in zip(inputs[:upto], r.heard) if t.kind == "caller"]
    wrong = [(s, h) for s, h in spoken if _misheard(s, h)]
    if any(f.startswith("call:") for f in failures):
        kind, first = "call", next(f for f in failures if f.startswith("call:"))
    elif any(f.startswith("audio:") and "scripted turns" in f for f in failures):
        kind, first = "end of turn", next(f for f in failures if f.startswith("audio:"))
    elif wrong:
        kind = "ASR mishearing"
    elif "intent: expected" in first:
        kind = "NLU"
    else:
        kind = "flow"
    return {"kind": kind, "bundle": r.test.bundle, "test": r.test.name, "voice": r.caller.voice,
            "channel": r.caller.channel.name, "failure": first,
            "misheard": [{"said": s, "heard": h} for s, h in wrong[-2:]],
            "heard": [{"said": s, "heard": h} for s, h in pairs]}


# ---- report --------------------------------------------------------------------------------------


def _rates(rows: Sequence[tuple[str, bool]]) -> dict[str, dict[str, Any]]:
    """Passed / total / rate per key, keys in order of first appearance."""
    passed: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for key, ok in rows:
        total[key] += 1
        passed[key] += ok
    return {k: {"passed": passed[k], "total": n, "rate": round(passed[k] / n, 3)} for k, n in total.items()}


def report(results: Sequence[AudioTestResult], entries: Sequence[str], jobs: int,
           seconds: float) -> dict[str, Any]:
    """Pass rates per bundle × entry, per entry, family, channel and voice; failures by kind."""
    ran = [(r, e, r.result.passed) for r, e in zip(results, entries, strict=True) if r.result is not None]
    bundles = dict.fromkeys(r.test.bundle for r, _, _ in ran)
    failed = [classify(r) for r, _, ok in ran if not ok]
    kinds = Counter(f["kind"] for f in failed)
    return {
        "measured": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "jobs": jobs,
        "wall_s": round(seconds, 1),
        "matrix": list(dict.fromkeys(entries)),
        "passed": sum(ok for _, _, ok in ran),
        "total": len(ran),
        "by_bundle": {b: _rates([(e, ok) for r, e, ok in ran if r.test.bundle == b]) for b in bundles},
        "by_entry": _rates([(e, ok) for _, e, ok in ran]),
        "by_family": _rates([(r.caller.family, ok) for r, _, ok in ran]),
        "by_channel": _rates([(r.caller.channel.name, ok) for r, _, ok in ran]),
        "by_voice": _rates([(r.caller.voice, ok) for r, _, ok in ran]),
        "failures_by_kind": {k: kinds[k] for k in KINDS if kinds[k]},
        "examples": {k: [f for f in failed if f["kind"] == k][:EXAMPLES_PER_KIND] for k in KINDS if kinds[k]},
        "failed": failed,
    }


def render(data: dict[str, Any]) -> str:
    def pct(v: dict[str, Any]) -> str:
        return f"{v['passed']}/{v['total']} ({100 * v['rate']:.0f} %)" if v["total"] else "-"

    lines = [f"audio-mode conversation tests, {data['measured']}, {data['jobs']} calls at a time per bundle, "
             f"{data['wall_s'] / 60:.0f} min", ""]
    entries = data["matrix"]
    lines.append("| bundle | " + " | ".join(entries) + " |")
    lines.append("|---" * (len(entries) + 1) + "|")
    for bundle, row in data["by_bundle"].items():
        lines.append(f"| {bundle} | " + " | ".join(pct(row[e]) if e in row else "-" for e in entries) + " |")
    lines.append("| **all** | " + " | ".join(pct(data["by_entry"][e]) if e in data["by_entry"] else "-"
                                             for e in entries) + " |")
    for title, key in (("family", "by_family"), ("channel", "by_channel"), ("voice", "by_voice")):
        lines.append(f"\nper {title}: " + ", ".join(f"{k} {pct(v)}" for k, v in data[key].items()))
    lines.append("\nfailures by kind: " + ", ".join(f"{k} {n}" for k, n in data["failures_by_kind"].items()))
    for kind, examples in data["examples"].items():
        lines.append(f"\n{kind}:")
        for f in examples:
            heard = "; ".join(f"said {m['said']!r} heard {m['heard']!r}" for m in f["misheard"])
            lines.append(f"  - {f['bundle']}: {f['test']} [{f['voice']} over {f['channel']}]: {f['failure']}"
                         + (f" ({heard})" if heard else ""))
    return "\n".join(lines)


def run_cli(bundles: str | None, matrix: str, jobs: int, json_out: bool, out: Path | None,
            progress_log: Path | None = None, dialogs_dir: Path = ROOT / "dialogs") -> int:
    try:
        entries_spec = parse_matrix(matrix)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if missing := missing_tools():
        print(f"error: install the Debian packages {' '.join(missing)}", file=sys.stderr)
        return 2
    tests: list[ConversationTest] = []
    for bundle in (bundles.split(",") if bundles else [None]):
        found, problems = load_tests(dialogs_dir, bundle)
        for problem in problems:
            print(problem, file=sys.stderr)
        tests += found
    planned, callers, entries = plan(tests, entries_spec)
    if not planned:
        print("no runnable conversation tests", file=sys.stderr)
        return 2
    print(f"{len(planned)} calls ({len(planned) // len(entries_spec)} tests × {len(entries_spec)} "
          f"voice/channel entries), {jobs} at a time per bundle", file=sys.stderr)
    log = progress_log.open("a") if progress_log else None
    count = 0

    def progress(r: AudioTestResult) -> None:
        nonlocal count
        count += 1
        state = "SKIP" if r.result is None else ("PASS" if r.result.passed else "FAIL")
        print(f"[{count}/{len(planned)}] {state} {r.test.bundle}: {r.test.name} [{r.caller.label}]",
              file=sys.stderr, flush=True)
        if log and r.result is not None:
            row = {"bundle": r.test.bundle, "test": r.test.name, "voice": r.caller.voice,
                   "channel": r.caller.channel.name, "passed": r.result.passed, "failures": r.result.failures,
                   "heard": [h.text for h in r.heard]}
            log.write(json.dumps(row) + "\n")
            log.flush()

    results, seconds = asyncio.run(_timed(planned, dialogs_dir, progress, callers, jobs))
    data = report(results, entries, jobs, seconds)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(data, indent=2) if json_out else render(data))
    return 0


async def _timed(planned: Sequence[ConversationTest], dialogs_dir: Path, progress: Any,
                 callers: Sequence[CallerSetup], jobs: int) -> tuple[list[AudioTestResult], float]:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    run = await run_audio_tests(planned, dialogs_dir, progress, callers, jobs)
    return run.results, loop.time() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", default=None, help="comma list (default: every bundle with tests)")
    parser.add_argument("--matrix", default=DEFAULT_MATRIX, help="family/channel,…")
    parser.add_argument("--jobs", type=int, default=4, help="concurrent calls per bundle")
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    parser.add_argument("--progress-log", type=Path, default=None, help="append one JSON line per call here")
    args = parser.parse_args()
    return run_cli(args.bundles, args.matrix, args.jobs, args.json, args.out, args.progress_log)


if __name__ == "__main__":
    raise SystemExit(main())
