"""Conversation tests in audio mode spoken by callers that are not the bot: pass rate per bundle, voice
family and telephone channel, and the failures grouped by kind.

Run with ``voicebot eval voices [--bundles banking,retail] [--matrix piper/clean,flite/ulaw,...] [--jobs 4]
[--json] [--out eval/results/voices.json]`` or ``python eval/caller_voices.py``. Each matrix entry is a
voice family (``piper``: the bot's own voice, the baseline; ``flite``: four voices; ``festival``: three) over
a channel (``voicebot.caller.voices.parse_channel``: ``clean``, ``ulaw``, ``gsm+babble10`` …). Every runnable
test of every bundle is played once per entry, as one real call against a ``voicebot serve`` of its bundle
(``voicebot.designer.audio_tests``); inside an entry the family's voices take the tests in turn. Calls run
in real time, ``--jobs`` at a time per bundle.

A failed test is put in one kind, the first that applies:

* **call**: the simulator's own error (refused connection, time-out, no greeting);
* **end of turn**: the service took more or fewer caller inputs than the test has (an answer split in
  two, two merged, or a line not heard at all);
* **ASR mishearing**: a caller line up to the first failing turn was heard wrong: a digit differs, or a
  fifth or more of its words were lost or changed (``voicebot.speech.wer`` normalisation);
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
from typing import Any, NamedTuple

from voicebot.caller.voices import CallerSetup, caller_setups, missing_tools
from voicebot.designer.audio_tests import AudioTestResult, run_audio_tests, skip_reason
from voicebot.designer.conversation_tests import ConversationTest, load_tests
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
         ) -> tuple[list[ConversationTest], list[CallerSetup]]:
    """Every runnable test once per matrix entry, test by test (a run cut short still covers every entry
    alike); inside an entry a bundle's tests take the family's voices in turn."""
    runnable = [t for t in tests if skip_reason(t) is None]
    by_bundle: dict[str, list[ConversationTest]] = {}
    for test in runnable:
        by_bundle.setdefault(test.bundle, []).append(test)
    planned: list[ConversationTest] = []
    callers: list[CallerSetup] = []
    for bundle_tests in by_bundle.values():
        for i, test in enumerate(bundle_tests):
            for family, channel in matrix:
                setups = caller_setups(family, channel)
                planned.append(test)
                callers.append(setups[i % len(setups)])
    return planned, callers


class Call(NamedTuple):
    """One played test: who called over what line, and what came of it (a named tuple: the script is
    loaded by file path, where dataclasses cannot resolve their module)."""

    test: ConversationTest
    voice: str
    family: str
    channel: str
    passed: bool
    failures: tuple[str, ...]
    heard: tuple[tuple[str, str], ...]  # (kind, text) per caller input the service took

    @property
    def entry(self) -> str:
        return f"{self.family}/{self.channel}"

    @classmethod
    def of(cls, r: AudioTestResult) -> Call:
        assert r.result is not None
        return cls(r.test, r.caller.voice, r.caller.family, r.caller.channel.name, r.result.passed,
                   tuple(r.result.failures), tuple((h.kind, h.text) for h in r.heard))

    def row(self) -> dict[str, Any]:
        """The progress log's line for this call."""
        return {"bundle": self.test.bundle, "test": self.test.name, "voice": self.voice,
                "family": self.family, "channel": self.channel, "passed": self.passed, "failures": list(self.failures),
                "heard": [list(h) for h in self.heard]}


def calls_from_log(path: Path, tests: Sequence[ConversationTest]) -> list[Call]:
    """The calls of a progress log (``--progress-log``), e.g. of a run cut short."""
    by_name = {(t.bundle, t.name): t for t in tests}
    kinds = {"caller": "speech", "dtmf": "dtmf", "silence": "no_input"}
    calls = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        test = by_name.get((row["bundle"], row["test"]))
        if test is None:
            continue
        inputs = [kinds.get(t.kind, "speech") for t in test.turns if t.kind != "start"]
        heard = tuple((h[0], h[1]) if isinstance(h, list) else (inputs[k] if k < len(inputs) else "speech", h)
                      for k, h in enumerate(row["heard"]))  # older logs kept the text only
        family = row.get("family") or row["voice"].split("-")[0]
        calls.append(Call(test, row["voice"], family, row["channel"], row["passed"], tuple(row["failures"]),
                          heard))
    return calls


# ---- failure kinds -------------------------------------------------------------------------------


def _misheard(said: str, heard: str) -> bool:
    """A digit differs, or a fifth of the words said were lost or changed (added words do not count:
    "your balance" for "balance" is heard right)."""
    ref, hyp = normalize(said), normalize(heard)
    digits = [t for t in ref if t.isdigit()], [t for t in hyp if t.isdigit()]
    if digits[0] != digits[1]:
        return True
    lost_or_changed = edit_distance(ref, hyp) - max(0, len(hyp) - len(ref))
    return lost_or_changed >= max(1, 0.2 * len(ref))


def classify(call: Call) -> dict[str, Any]:
    """The failed call's kind (module docstring) with the failure and what was said and heard."""
    failures = call.failures
    first = next((f for f in failures if not f.startswith("audio:")), failures[0] if failures else "")
    turns = call.test.turns
    inputs = [t for t in turns if t.kind != "start"]
    pairs = [(t.value, text if kind == "speech" else f"({kind} {text})".strip())
             for t, (kind, text) in zip(inputs, call.heard) if t.kind == "caller"]
    match = _TURN.match(first)
    upto = int(match[1]) - (len(turns) - len(inputs)) if match else len(inputs)  # inputs to the failing turn
    wrong = [(said, heard) for said, heard in pairs[:sum(t.kind == "caller" for t in inputs[:upto])]
             if _misheard(said, heard)]
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
    return {"kind": kind, "bundle": call.test.bundle, "test": call.test.name, "voice": call.voice,
            "channel": call.channel, "failure": first,
            "misheard": [{"said": said, "heard": heard} for said, heard in wrong[-2:]],
            "heard": [{"said": said, "heard": heard} for said, heard in pairs]}


# ---- report --------------------------------------------------------------------------------------


def _rates(rows: Sequence[tuple[str, bool]]) -> dict[str, dict[str, Any]]:
    """Passed / total / rate per key, keys in order of first appearance."""
    passed: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for key, ok in rows:
        total[key] += 1
        passed[key] += ok
    return {k: {"passed": passed[k], "total": n, "rate": round(passed[k] / n, 3)} for k, n in total.items()}


def report(calls: Sequence[Call], jobs: int, seconds: float | None) -> dict[str, Any]:
    """Pass rates per bundle × entry, per entry, family, channel and voice; failures by kind."""
    failed = [classify(c) for c in calls if not c.passed]
    kinds = Counter(f["kind"] for f in failed)
    return {
        "measured": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "jobs": jobs,
        "wall_s": None if seconds is None else round(seconds, 1),
        "matrix": list(dict.fromkeys(c.entry for c in calls)),
        "passed": sum(c.passed for c in calls),
        "total": len(calls),
        "by_bundle": {b: _rates([(c.entry, c.passed) for c in calls if c.test.bundle == b])
                      for b in dict.fromkeys(c.test.bundle for c in calls)},
        "by_entry": _rates([(c.entry, c.passed) for c in calls]),
        "by_family": _rates([(c.family, c.passed) for c in calls]),
        "by_channel": _rates([(c.channel, c.passed) for c in calls]),
        "by_voice": _rates([(c.voice, c.passed) for c in calls]),
        "failures_by_kind": {k: kinds[k] for k in KINDS if kinds[k]},
        "examples": {k: [f for f in failed if f["kind"] == k][:EXAMPLES_PER_KIND] for k in KINDS if kinds[k]},
        "failed": failed,
    }


def render(data: dict[str, Any]) -> str:
    def pct(v: dict[str, Any]) -> str:
        return f"{v['passed']}/{v['total']} ({100 * v['rate']:.0f} %)" if v["total"] else "-"

    wall = f", {data['wall_s'] / 60:.0f} min" if data["wall_s"] else ""
    lines = [f"audio-mode conversation tests, {data['measured']}, {data['jobs']} calls at a time per bundle"
             f"{wall}", ""]
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
            progress_log: Path | None = None, from_log: Path | None = None,
            dialogs_dir: Path = ROOT / "dialogs") -> int:
    """Run the matrix (or, with ``from_log``, report a progress log's calls) and print the figures."""
    try:
        entries = parse_matrix(matrix)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    tests: list[ConversationTest] = []
    for bundle in (bundles.split(",") if bundles else [None]):
        found, problems = load_tests(dialogs_dir, bundle)
        for problem in problems:
            print(problem, file=sys.stderr)
        tests += found
    if from_log is not None:
        calls, seconds = calls_from_log(from_log, tests), None
    else:
        if missing := missing_tools():
            print(f"error: install the Debian packages {' '.join(missing)}", file=sys.stderr)
            return 2
        planned, callers = plan(tests, entries)
        if not planned:
            print("no runnable conversation tests", file=sys.stderr)
            return 2
        print(f"{len(planned)} calls ({len(planned) // len(entries)} tests × {len(entries)} "
              f"voice/channel entries), {jobs} at a time per bundle", file=sys.stderr)
        calls, seconds = asyncio.run(_run(planned, callers, jobs, dialogs_dir, progress_log))
    data = report(calls, jobs, seconds)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(data, indent=2) if json_out else render(data))
    return 0


async def _run(planned: Sequence[ConversationTest], callers: Sequence[CallerSetup], jobs: int,
               dialogs_dir: Path, progress_log: Path | None) -> tuple[list[Call], float]:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    done = 0

    def progress(r: AudioTestResult) -> None:
        nonlocal done
        done += 1
        state = "SKIP" if r.result is None else ("PASS" if r.result.passed else "FAIL")
        print(f"[{done}/{len(planned)}] {state} {r.test.bundle}: {r.test.name} [{r.caller.label}]",
              file=sys.stderr, flush=True)
        if progress_log is not None and r.result is not None:
            with progress_log.open("a") as log:
                log.write(json.dumps(Call.of(r).row()) + "\n")

    run = await run_audio_tests(planned, dialogs_dir, progress, callers, jobs)
    return [Call.of(r) for r in run.results if r.result is not None], loop.time() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", default=None, help="comma list (default: every bundle with tests)")
    parser.add_argument("--matrix", default=DEFAULT_MATRIX, help="family/channel,…")
    parser.add_argument("--jobs", type=int, default=4, help="concurrent calls per bundle")
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    parser.add_argument("--progress-log", type=Path, default=None, help="append one JSON line per call here")
    parser.add_argument("--from-log", type=Path, default=None,
                        help="no calls: report the calls of a progress log (a run cut short)")
    args = parser.parse_args()
    return run_cli(args.bundles, args.matrix, args.jobs, args.json, args.out, args.progress_log,
                   args.from_log)


if __name__ == "__main__":
    raise SystemExit(main())
