"""TTS speed: time to first audio, real-time factor, cache hits, and first audio under concurrency.

Run with ``voicebot bench tts [--json]`` or ``python eval/bench_tts.py [--json]``. Everything goes
through the real :class:`voicebot.speech.tts.Speaker` (say-as, sentence streaming, resampling to the call
rate) and the configured voice in the shared inference pool, as in a call. Figures are wall-clock on
whatever else the machine is doing: run it on a quiet machine and read p50 rather than p95. ``rtf.cpu``
(process CPU seconds per second of audio, sequential phase) depends much less on other load: it is the
TTS share of a core while the bot speaks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from voicebot.config import Settings
from voicebot.runtime import InferencePool
from voicebot.speech.tts import Speaker, load_synthesizer

# Typical dynamic IVR replies: short confirmations, readbacks with numbers, two-sentence answers.
REPLIES = (
    "Sure.",
    "Got it, one moment please.",
    "Your balance is $1,250.50. Is there anything else I can help you with?",
    "Your order A1B-2045 shipped on 2026-03-23 and should arrive by Friday.",
    "I can book you in on March 27 at 14:30. Shall I confirm that?",
    "The card ending in 4321 has been blocked. A new card will arrive in 5 to 7 business days.",
    "Thanks, Maria. I have your account number as 12345678. Is that right?",
    "Sorry, I didn't catch that. Please say yes or no.",
    "Your parcel is out for delivery today between 9am and 1pm.",
    "I'm transferring you to an agent now, please stay on the line.",
)
# Static prompts: rendered once, then served from the cache.
PROMPTS = (
    "Thank you for calling Acme Bank. Calls may be recorded for quality and training purposes.",
    "How can I help you today?",
    "Please hold while I connect you.",
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _speak_timed(speaker: Speaker, text: str, rate: int,
                       cache: bool = False) -> tuple[float, float, float]:
    """(seconds to first chunk, seconds to last chunk, seconds of audio)."""
    start = time.perf_counter()
    first = None
    samples = 0
    async for pcm in speaker.speak(text, rate, cache=cache):
        if first is None:
            first = time.perf_counter() - start
        samples += len(pcm) // 2
    return first or 0.0, time.perf_counter() - start, samples / rate


async def _first_chunk(speaker: Speaker, text: str, rate: int) -> float:
    """Seconds to the first chunk; then the stream is dropped, as a player that is still playing it would
    not ask for more yet."""
    start = time.perf_counter()
    stream = speaker.speak(text, rate)
    await anext(stream)
    elapsed = time.perf_counter() - start
    await stream.aclose()
    return elapsed


async def run(rounds: int = 3, rate: int = 8000, concurrency: int = 4,
              settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or Settings()
    pool = InferencePool(settings.inference_workers)
    try:
        started = time.perf_counter()
        synthesizer = load_synthesizer(settings, pool)
        load_s = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as cache_dir:
            first, total, audio = [], [], []
            cpu_started = time.process_time()
            for _ in range(rounds):
                for text in REPLIES:
                    # a new Speaker has an empty memory: every reply is synthesized
                    speaker = Speaker(synthesizer, Path(cache_dir), pool)
                    f, t, a = await _speak_timed(speaker, text, rate)
                    first.append(f)
                    total.append(t)
                    audio.append(a)
            cpu_s = time.process_time() - cpu_started

            speaker = Speaker(synthesizer, Path(cache_dir), pool)
            rendered = await speaker.prerender(PROMPTS, rate)
            memory_hits = [(await _speak_timed(speaker, p, rate, cache=True))[0] for p in PROMPTS * rounds]
            disk_hits = []
            for prompt in PROMPTS * rounds:
                fresh = Speaker(synthesizer, Path(cache_dir), pool)  # a restarted service: disk only
                disk_hits.append((await _speak_timed(fresh, prompt, rate, cache=True))[0])

            concurrent_first: list[float] = []
            for i in range(rounds):
                batch = [REPLIES[(i + k) % len(REPLIES)] for k in range(concurrency)]
                concurrent_first.extend(await asyncio.gather(*(
                    _first_chunk(Speaker(synthesizer, Path(cache_dir), pool), text, rate) for text in batch)))
    finally:
        pool.shutdown()

    return {
        "voice": synthesizer.name,
        "rate": rate,
        "pool_workers": settings.inference_workers,
        "onnx_threads": settings.speech.tts_threads,
        "load_s": round(load_s, 3),
        "replies": len(REPLIES) * rounds,
        "first_audio_ms": {"p50": round(percentile(first, 0.5) * 1000, 1),
                           "p95": round(percentile(first, 0.95) * 1000, 1)},
        "rtf": {"overall": round(sum(total) / sum(audio), 4),
                "p50": round(statistics.median(t / a for t, a in zip(total, audio, strict=True)), 4),
                "cpu": round(cpu_s / sum(audio), 4)},
        "audio_s_per_reply": round(sum(audio) / len(audio), 2),
        "cache": {"prompts_rendered": rendered,
                  "memory_hit_ms_p50": round(percentile(memory_hits, 0.5) * 1000, 3),
                  "disk_hit_ms_p50": round(percentile(disk_hits, 0.5) * 1000, 3)},
        "concurrent": {"speakers": concurrency,
                       "first_audio_ms_p50": round(percentile(concurrent_first, 0.5) * 1000, 1),
                       "first_audio_ms_p95": round(percentile(concurrent_first, 0.95) * 1000, 1)},
    }


def render(report: dict[str, Any]) -> str:
    first, rtf, cache, conc = report["first_audio_ms"], report["rtf"], report["cache"], report["concurrent"]
    return "\n".join([
        f"voice {report['voice']} → {report['rate']} Hz; load {report['load_s']:.2f} s; "
        f"{report['pool_workers']} pool workers, {report['onnx_threads']} onnx thread(s)",
        f"first audio over {report['replies']} replies: p50 {first['p50']:.0f} ms, p95 {first['p95']:.0f} ms",
        f"RTF: {rtf['overall']:.3f} overall, p50 {rtf['p50']:.3f}; CPU seconds per audio second "
        f"{rtf['cpu']:.3f} (avg reply {report['audio_s_per_reply']:.1f} s of audio)",
        f"cache hit, first audio: memory {cache['memory_hit_ms_p50']:.2f} ms, "
        f"disk {cache['disk_hit_ms_p50']:.2f} ms "
        f"({cache['prompts_rendered']} prompts prerendered)",
        f"{conc['speakers']} replies started at once, first audio: p50 {conc['first_audio_ms_p50']:.0f} ms, "
        f"p95 {conc['first_audio_ms_p95']:.0f} ms",
    ])


def run_cli(json_out: bool, rounds: int, rate: int, concurrency: int, out: Path | None) -> int:
    report = asyncio.run(run(rounds=rounds, rate=rate, concurrency=concurrency))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2) if json_out else render(report))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=int, default=8000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    args = parser.parse_args()
    return run_cli(args.json, args.rounds, args.rate, args.concurrency, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
