"""AudioSocket server + player under load, without models: N simulated Asterisk calls against a toy bot.

The server runs in a child process (as in production, apart from the caller simulator) with a handler
that streams a synthetic voiced prompt the way TTS does (chunks produced faster than real time),
greets at once and answers each DTMF digit with a new prompt, cancelling the current one. The parent
runs ``voicebot call``'s simulator with N concurrent calls and reports what the callers heard (voiced
gaps > 60 ms, jitter-buffer underruns, errors) and what the server spent (CPU per call, player
underruns, late restarts of the pacing grid).

    voicebot bench audiosocket --calls 50 [--json] [--out eval/results/bench_audiosocket.json]
    python eval/bench_audiosocket.py --calls 50      (the same, from a source checkout)

Timings on a shared machine are noisy: run it more than once before trusting a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RATE = 8000


def prompt_pcm(seconds: float, pitch: float) -> bytes:
    """A voiced, speech-level signal (two tones, syllable-rate amplitude modulation, about -14 dBFS)."""
    import numpy as np

    t = np.arange(int(seconds * RATE)) / RATE
    envelope = 0.55 + 0.45 * np.sin(2 * math.pi * 4.0 * t)
    signal_ = envelope * (0.25 * np.sin(2 * math.pi * pitch * t) + 0.12 * np.sin(2 * math.pi * 2.3 * pitch * t))
    return (signal_ * 32767).astype("<i2").tobytes()


async def streamed(pcm: bytes, chunk_s: float = 0.2, produce_s: float = 0.04) -> AsyncIterator[bytes]:
    """Yield ``pcm`` like a TTS voice: a chunk every ``produce_s`` (faster than real time)."""
    step = int(chunk_s * RATE) * 2
    for start in range(0, len(pcm), step):
        await asyncio.sleep(produce_s)
        yield pcm[start:start + step]


async def serve(port: int) -> None:
    import logging

    import structlog

    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr),
                        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    from voicebot.audio.server import AudioSocketServer, CallConnection
    from voicebot.config import AudioSocketSettings
    from voicebot.types import Dtmf, Hangup

    greeting, reply = prompt_pcm(3.0, 180.0), prompt_pcm(2.0, 220.0)
    stats: list[dict[str, float]] = []
    cpu_start: list[float] = []

    async def toy_bot(call: CallConnection) -> None:
        if not cpu_start:
            cpu_start.append(time.process_time())
        call.player.play(streamed(greeting))
        async for event in call.events():
            if isinstance(event, Dtmf):
                call.player.cancel()
                call.player.play(streamed(reply))
            elif isinstance(event, Hangup):
                break
        stats.append({"underruns": call.player.underruns, "late_restarts": call.player.late_restarts,
                      "max_late_ms": call.player.max_late_s * 1000,
                      "frames_out": call.player.sent_frames, "frames_in": call.frames_in,
                      "dropped_in": call.dropped_frames, "seconds": time.monotonic() - call.connected_at})

    server = AudioSocketServer(AudioSocketSettings(port=port, max_calls=1000), toy_bot)
    await server.start()
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    print(f"READY {server.port}", flush=True)
    await stopping.wait()
    cpu = time.process_time() - (cpu_start[0] if cpu_start else time.process_time())
    await server.stop(grace_s=1.0)
    print(json.dumps({"calls": len(stats), "cpu_s": cpu, "call_s": sum(s["seconds"] for s in stats),
                      "underruns": sum(s["underruns"] for s in stats),
                      "late_restarts": sum(s["late_restarts"] for s in stats),
                      "max_late_ms": round(max((s["max_late_ms"] for s in stats), default=0.0), 1),
                      "frames_out": sum(s["frames_out"] for s in stats),
                      "dropped_in": sum(s["dropped_in"] for s in stats)}), flush=True)


async def bench(calls: int, stagger: float) -> dict:
    from voicebot.caller.script import CallerScript, HangUp, SendDtmf, WaitForBot
    from voicebot.caller.simulator import run_calls

    server_log = tempfile.TemporaryFile("w+")
    child = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True,
                             stderr=server_log, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert child.stdout is not None
        ready = child.stdout.readline().split()
        if ready[:1] != ["READY"]:
            raise RuntimeError(f"server did not start: {ready}")
        port = int(ready[1])
        script = CallerScript(steps=(WaitForBot(timeout=20), SendDtmf("1"), WaitForBot(timeout=20),
                                     SendDtmf("2"), WaitForBot(timeout=20), HangUp()), name="audiosocket bench")
        load = await run_calls("127.0.0.1", port, script, calls=calls, stagger=stagger, timeout=90)
    finally:
        child.send_signal(signal.SIGTERM)
        out, _ = child.communicate(timeout=30)
    server = json.loads(out.strip().splitlines()[-1])
    server_log.seek(0)
    server["log_lines"] = server_log.read().splitlines()
    summary = load.summary
    per_call_cpu = server["cpu_s"] / server["call_s"] if server["call_s"] else None
    return {
        "calls": calls, "ok": summary["ok"], "errors": summary["errors"],
        "voiced_gaps_over_60ms": summary["voiced_gaps"], "max_gap_ms": summary["max_gap_ms"],
        "gaps_while_simulator_stalled": summary.get("voiced_gaps_in_simulator_stalls"),
        "jitter_underruns": summary["underruns"], "max_underrun_ms": summary["max_underrun_ms"],
        "dtmf_to_first_audio_ms": summary["latency_ms"], "simulator_max_send_lag_ms": summary["max_send_lag_ms"],
        "server": {**server, "cpu_per_active_call_pct": None if per_call_cpu is None else round(100 * per_call_cpu, 2)},
        "wall_s": round(load.wall_s, 1), "cores": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 1),
    }


def print_report(result: dict) -> None:
    s = result["server"]
    print(f"{result['calls']} calls, {result['ok']} ok, {len(result['errors'])} errors, wall {result['wall_s']} s, "
          f"{result['cores']} cores, load average {result['load_avg_1m']} (a shared machine: figures are noisy)")
    print(f"caller side: voiced gaps > 60 ms: {result['voiced_gaps_over_60ms']} (max gap {result['max_gap_ms']} ms, "
          f"{result['gaps_while_simulator_stalled']} while the simulator itself stalled), "
          f"jitter-buffer underruns: {result['jitter_underruns']} (max {result['max_underrun_ms']} ms), "
          f"simulator send lag max {result['simulator_max_send_lag_ms']} ms")
    print(f"DTMF -> first bot audio: {result['dtmf_to_first_audio_ms']}")
    print(f"server: CPU {s['cpu_s']:.1f} s over {s['call_s']:.0f} call-seconds = {s['cpu_per_active_call_pct']} % "
          f"of a core per active call; player underruns {s['underruns']}, late restarts {s['late_restarts']}, "
          f"latest frame {s['max_late_ms']} ms after its deadline, frames out {s['frames_out']}, "
          f"inbound frames dropped {s['dropped_in']}")
    print(f"server warnings/errors logged: {len(s['log_lines'])}")
    for line in s["log_lines"][:5]:
        print("  server:", line)
    for error in result["errors"][:10]:
        print("  error:", error)


def run_cli(calls: int, stagger: float, json_out: bool, out: Path | None) -> int:
    """``voicebot bench audiosocket``: 0 when every call went through without error or voiced gap."""
    result = asyncio.run(bench(calls, stagger))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    if json_out:
        print(json.dumps(result, indent=2))
    else:
        print_report(result)
    return 0 if not result["errors"] and result["voiced_gaps_over_60ms"] == 0 else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--stagger", type=float, default=0.02, help="seconds between call starts")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(0))
        return
    sys.exit(run_cli(args.calls, args.stagger, args.json, args.out))


if __name__ == "__main__":
    main()
