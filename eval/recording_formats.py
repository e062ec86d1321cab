"""Call recording formats: size and CPU of WAV against Ogg/Opus, and what the tap costs the call's audio path.

Run with ``python eval/recording_formats.py [--minutes M] [--json]``. A call of ``M`` minutes is put together
from real read speech (the shared ``sentences_dev`` set, 8 kHz): the caller's sentences on the left, other
speakers' on the right while the caller is silent, as 20 ms frames through the real
:class:`voicebot.audio.recording.RecordingWriter` (the bot's as AudioSocket messages, keep-alive silence
included), once per format. Printed per format: bytes per minute of call, the writer's CPU seconds per minute of
call (process CPU while it works, the producer's enqueueing included), the time from the call's end to the
finished file; and the cost of one frame handed to the tap on the call's path (µs per ``caller``/``bot`` call).
Figures are from a shared machine: read them as orders of magnitude.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

from voicebot.audio.audiosocket import HEADER, KIND_FOR_RATE
from voicebot.audio.recording import RecordingWriter
from voicebot.types import AudioFrame

DATA = Path("/work/shared/data/asr/sentences_dev")
RATE = 8000
FRAME_BYTES = RATE // 50 * 2


def sentences() -> list[bytes]:
    """The 8 kHz clips of the set, as PCM."""
    clips = []
    for line in (DATA / "manifest.jsonl").read_text().splitlines():
        path = DATA / json.loads(line)["audio"]
        with wave.open(str(path)) as wav:
            if wav.getframerate() == RATE and wav.getnchannels() == 1:
                clips.append(wav.readframes(wav.getnframes()))
    return clips


def conversation(minutes: float) -> tuple[bytes, bytes]:
    """Left and right channels of a call: turns alternate, 0.5 s apart, until ``minutes`` are filled."""
    clips, total = sentences(), int(minutes * 60 * RATE) * 2
    left, right = bytearray(), bytearray()
    k = 0
    while len(left) < total:
        clip, gap = clips[k % len(clips)], bytes(RATE)  # 0.5 s
        speaker, other = (left, right) if k % 2 == 0 else (right, left)
        speaker += clip + gap
        other += bytes(len(clip)) + gap
        k += 1
    return bytes(left[:total]), bytes(right[:total])


async def record(directory: Path, fmt: str, left: bytes, right: bytes) -> dict[str, Any]:
    writer = RecordingWriter(directory, queue_frames=1_000_000)
    rec = writer.open(f"call-{fmt}", RATE, 0.0, fmt)  # type: ignore[arg-type]
    header = HEADER.pack(KIND_FOR_RATE[RATE], FRAME_BYTES)
    cpu0, tap_s = time.process_time(), 0.0
    for n in range(len(left) // FRAME_BYTES):
        chunk = slice(n * FRAME_BYTES, (n + 1) * FRAME_BYTES)
        frame, message = AudioFrame(left[chunk], RATE, timestamp=0.02 * (n + 1)), header + right[chunk]
        t = time.perf_counter()
        rec.caller(frame)
        rec.bot(message, 0.02 * n)
        tap_s += time.perf_counter() - t
    ended = time.perf_counter()
    written = await rec.close()
    finished = time.perf_counter() - ended
    cpu = time.process_time() - cpu0
    await asyncio.to_thread(writer.close)
    minutes = written.duration_s / 60
    frames = 2 * (len(left) // FRAME_BYTES)
    return {"format": fmt, "minutes": round(minutes, 2), "bytes_per_minute": round(written.size_bytes / minutes),
            "cpu_s_per_minute": round(cpu / minutes, 3), "finish_s": round(finished, 3),
            "tap_us_per_frame": round(tap_s / frames * 1e6, 2), "dropped_frames": written.dropped_frames}


async def main(minutes: float) -> list[dict[str, Any]]:
    left, right = conversation(minutes)
    with tempfile.TemporaryDirectory() as tmp:
        return [await record(Path(tmp), fmt, left, right) for fmt in ("wav", "opus")]


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = asyncio.run(main(args.minutes))
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'format':<6} {'KB/min':>8} {'CPU s/min':>10} {'finish s':>9} {'tap µs/frame':>13}")
    for r in results:
        print(f"{r['format']:<6} {r['bytes_per_minute'] / 1024:>8.0f} {r['cpu_s_per_minute']:>10.3f} "
              f"{r['finish_s']:>9.3f} {r['tap_us_per_frame']:>13.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli(sys.argv[1:]))
