"""``voicebot bench calls``: end-to-end latency, CPU and memory of the real server under N calls.

It starts ``voicebot serve`` (``caller/launcher.py``: free ports, a temporary SQLite database), waits until
the AudioSocket port accepts and ``GET /healthz`` answers, places one call and then N calls started
``stagger`` seconds apart (0.5 s by default, so that callers do not all talk in the same instant) with a
standard caller script (``eval/scripts/bench.yaml``), and reports:

* client-side latency (end of caller speech -> first voiced bot audio) p50/p95/max, voiced gaps and
  errors, as measured by the caller simulator (``voicebot.caller.simulator``);
* server-side stages p50/p95 from the ``turns.marks`` the server stored (milliseconds after the
  turn's first mark): ASR (speech_end -> asr_final), NLU, dialog, TTS first audio, player, and the
  server total speech_end -> first_frame_sent;
* CPU % of one core per active call: (server CPU seconds during the phase - idle CPU rate x phase
  time) / the sum of call durations, from ``/proc/PID/stat`` (user + system time of all threads);
* memory per added call: (peak RSS during the phase - RSS before it) / the peak number of calls that
  were active together, from ``/proc/PID/status`` VmRSS. The one-call phase also pays first-call
  warm-up (buffers allocated on first use): read the N-call figure.

Figures come from a machine shared with other work: they are noisy and are printed, never asserted.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicebot.caller.launcher import HOST, RunningService, ServeError, serving
from voicebot.caller.script import CallerScript, ScriptError, load_script
from voicebot.caller.simulator import (
    CallResult,
    FrameClock,
    PreparedScript,
    percentile,
    place_call,
    prepare_script,
    summarize,
)
from voicebot.caller.voices import CallerSetup, renderer_for

BENCH_SCRIPT = Path(__file__).resolve().parents[2] / "eval" / "scripts" / "bench.yaml"
STAGES: tuple[tuple[str, str, str], ...] = (
    ("asr", "speech_end", "asr_final"),
    ("nlu", "asr_final", "nlu_done"),
    ("dialog", "nlu_done", "dialog_done"),
    ("tts_first_audio", "dialog_done", "tts_first_audio"),
    ("player", "tts_first_audio", "first_frame_sent"),
    ("server_total", "speech_end", "first_frame_sent"),
)
TARGETS = {"p50_ms_one_call": 450, "p95_ms_one_call": 700, "p95_ms_20_calls": 1000,
           "cpu_pct_per_call": 10, "mem_mb_per_call": 25}
SAMPLE_EVERY_S = 0.1


class BenchError(RuntimeError):
    """The server could not be measured."""


class ProcSampler:
    """CPU time and resident memory of one process, read from /proc (Linux)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._ticks = os.sysconf("SC_CLK_TCK")

    def cpu_seconds(self) -> float:
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()  # the command name may hold spaces
        return (int(fields[11]) + int(fields[12])) / self._ticks  # utime, stime

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise BenchError(f"no VmRSS for pid {self.pid}")


@dataclass(frozen=True, slots=True)
class BenchTarget:
    """A running AudioSocket server to measure: where to call it, its pid, and its database."""

    host: str
    port: int
    pid: int | None = None
    db_url: str | None = None
    web_url: str | None = None  # for the dialplan's handoff lookup after a bot hangup
    api_token: str | None = None  # the dialplan's token for that lookup

    @classmethod
    def of(cls, service: RunningService) -> BenchTarget:
        """The target a started ``voicebot serve`` (:mod:`voicebot.caller.launcher`) offers."""
        return cls(HOST, service.audiosocket_port, service.process.pid, service.db_url, service.web_url,
                   service.api_token)


async def read_turn_marks(db_url: str, call_ids: Iterable[str]) -> list[dict[str, float]]:
    """The ``marks`` of every stored turn of these calls."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    wanted = set(call_ids)
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT call_id, marks FROM turns"))).all()
    finally:
        await engine.dispose()
    marks = []
    for call_id, raw in rows:
        turn = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
        if call_id in wanted and turn:
            marks.append(turn)
    return marks


def stage_stats(marks: Sequence[Mapping[str, float]]) -> dict[str, dict[str, float | int | None]]:
    """p50/p95 (ms) of each stage over the turns that reached both of its marks."""
    stats: dict[str, dict[str, float | int | None]] = {}
    for name, start, end in STAGES:
        values = [float(m[end]) - float(m[start]) for m in marks if start in m and end in m]
        p50, p95 = percentile(values, 50), percentile(values, 95)
        stats[name] = {"n": len(values), "p50_ms": None if p50 is None else round(p50, 1),
                       "p95_ms": None if p95 is None else round(p95, 1)}
    return stats


async def _phase(target: BenchTarget, script: PreparedScript, calls: int, stagger: float,
                 timeout: float, idle_cpu_rate: float) -> dict[str, Any]:
    """N concurrent calls while sampling the server; returns the phase's figures."""
    loop = asyncio.get_running_loop()
    sampler = ProcSampler(target.pid) if target.pid else None
    active = peak_active = 0
    rss_peak = 0
    clock = FrameClock()

    async def one(k: int) -> CallResult:
        nonlocal active, peak_active
        await asyncio.sleep(k * stagger)
        active += 1
        peak_active = max(peak_active, active)
        try:
            return await place_call(target.host, target.port, script, timeout=timeout, web_url=target.web_url,
                                    api_token=target.api_token,
                                    clock=clock)
        finally:
            active -= 1

    async def sample() -> None:
        nonlocal rss_peak
        while True:
            if active == peak_active and active:
                rss_peak = max(rss_peak, sampler.rss_bytes())
            await asyncio.sleep(SAMPLE_EVERY_S)

    rss_before = sampler.rss_bytes() if sampler else 0
    cpu_before = sampler.cpu_seconds() if sampler else 0.0
    start = loop.time()
    sampling = asyncio.create_task(sample()) if sampler else None
    try:
        results = await asyncio.gather(*(one(k) for k in range(calls)))
    finally:
        await clock.stop()
    wall = loop.time() - start
    if sampling:
        sampling.cancel()
    figures: dict[str, Any] = {"summary": summarize(results), "wall_s": round(wall, 2),
                               "peak_active": peak_active}
    if sampler:
        call_seconds = sum(c.duration_s for c in results) or 1e-9
        busy = sampler.cpu_seconds() - cpu_before - idle_cpu_rate * wall
        figures["cpu_pct_per_active_call"] = round(100.0 * busy / call_seconds, 2)
        figures["rss_before_mb"] = round(rss_before / 2**20, 1)
        figures["rss_peak_mb"] = round(max(rss_peak, rss_before) / 2**20, 1)
        figures["rss_after_mb"] = round(sampler.rss_bytes() / 2**20, 1)
        added = max(rss_peak - rss_before, 0) / max(peak_active, 1)
        figures["mem_mb_per_added_call"] = round(added / 2**20, 2)
    if target.db_url:
        ids = [c.call_id for c in results]
        marks: list[dict[str, float]] = []
        for _ in range(20):  # the store writes in batches, off the call path: give it a moment
            marks = await read_turn_marks(target.db_url, ids)
            if len(marks) >= figures["summary"]["turns"]:
                break
            await asyncio.sleep(0.25)
        figures["stages"] = stage_stats(marks)
    return figures


async def run_bench(target: BenchTarget, script: CallerScript | PreparedScript, calls: int,
                    stagger: float = 0.5, timeout: float = 120.0, idle_s: float = 2.0) -> dict[str, Any]:
    """One call, then ``calls`` concurrent calls, against ``target``; returns the report (JSON-ready)."""
    if isinstance(script, CallerScript):
        script = await asyncio.to_thread(prepare_script, script, 8000)
    idle_rate = 0.0
    if target.pid:
        sampler = ProcSampler(target.pid)
        cpu = sampler.cpu_seconds()
        await asyncio.sleep(idle_s)
        idle_rate = (sampler.cpu_seconds() - cpu) / idle_s
    single = await _phase(target, script, 1, 0.0, timeout, idle_rate)
    concurrent = await _phase(target, script, calls, stagger, timeout, idle_rate)
    return {"script": script.script.name, "calls": calls, "stagger_s": stagger,
            "idle_cpu_pct": round(100 * idle_rate, 2), "single": single, "concurrent": concurrent,
            "targets": TARGETS,
            "note": "2 cores shared with other work: timings are noisy; see eval/README.md"}


def print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"bench calls: 1 call, then {report['calls']} concurrent ({report['script']}, "
                        f"{report.get('caller', 'piper over clean')})")
    console.print("latency: end of caller speech -> first voiced bot audio (client); stages: server marks")
    table.add_column("measure")
    table.add_column("1 call", justify="right")
    table.add_column(f"{report['calls']} calls", justify="right")
    one, many = report["single"], report["concurrent"]

    def both(fn: Any) -> tuple[str, str]:
        return str(fn(one)), str(fn(many))

    table.add_row("calls ok / failed", *both(lambda p: f"{p['summary']['ok']} / {p['summary']['failed']}"))
    table.add_row("latency p50/p95/max ms", *both(
        lambda p: "{p50}/{p95}/{max}".format(**p["summary"]["latency_ms"])))
    for name, _, _ in STAGES:
        table.add_row(f"  {name} p50/p95 ms", *both(
            lambda p: "{p50_ms}/{p95_ms} (n={n})".format(**p["stages"][name]) if "stages" in p else "-"))
    table.add_row("voiced gaps (max ms; in stalls)", *both(
        lambda p: "{voiced_gaps} ({max_gap_ms}; {voiced_gaps_in_simulator_stalls})".format(**p["summary"])))
    table.add_row("underruns (max ms)", *both(
        lambda p: f"{p['summary']['underruns']} ({p['summary']['max_underrun_ms']})"))
    table.add_row("CPU % of a core per call", *both(lambda p: p.get("cpu_pct_per_active_call", "-")))
    table.add_row("RSS before/peak/after MB", *both(
        lambda p: "/".join(str(p.get(k, "-")) for k in ("rss_before_mb", "rss_peak_mb", "rss_after_mb"))))
    table.add_row("memory per added call MB", *both(lambda p: p.get("mem_mb_per_added_call", "-")))
    table.add_row("simulator lag ms (late frames)", *both(
        lambda p: f"{p['summary']['max_send_lag_ms']} ({p['summary']['late_frames']})"))
    console.print(table)
    console.print(f"server idle CPU {report['idle_cpu_pct']} % of a core. {report['note']}")
    for error in one["summary"]["errors"] + many["summary"]["errors"][:20]:
        console.print(f"[red]error:[/red] {error}")


def run_cli(calls: int, stagger: float, script_path: Path | None, as_json: bool, out: Path | None,
            timeout: float, ready_timeout: float, caller: CallerSetup | None = None) -> int:
    """``voicebot bench calls``: returns the exit code (1 if any call had an error or the server failed).
    ``caller``: who speaks the script's lines over what line (Piper over a clean line by default)."""
    caller = caller or CallerSetup()

    async def main() -> dict[str, Any]:
        script = await asyncio.to_thread(
            lambda: prepare_script(load_script(script_path or BENCH_SCRIPT), 8000, renderer_for(caller)))
        with tempfile.TemporaryDirectory(prefix="voicebot-bench-") as tmp:
            async with serving(Path(tmp), ready_timeout=ready_timeout) as service:
                return {**await run_bench(BenchTarget.of(service), script, calls, stagger, timeout),
                        "caller": caller.label}

    try:
        report = asyncio.run(main())
    except ScriptError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (BenchError, ServeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    failed = report["single"]["summary"]["failed"] + report["concurrent"]["summary"]["failed"]
    return 0 if failed == 0 else 1
