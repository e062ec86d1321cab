"""ASR accuracy and speed on a manifest of 8 kHz WAV clips: WER, real-time factor, end of speech -> final.

Manifest lines: ``{"audio": "path/relative/to/manifest.wav", "text": "reference"}``.

Two passes per engine:

* **decode** - every clip, with the listener's pre-roll of silence before it and its first pause after
  (0.2 s, 0.1 s), is fed to a recognition stream in 20 ms frames and finished; WER (see
  ``voicebot.speech.wer`` for the normalisation) and real-time factor = decode seconds / audio seconds;
* **live** - ``--live`` clips (spread over the manifest) are played in real time through a
  ``Listener`` (VAD, speculative decode at the first pause, end-of-turn rules), padded with 0.5 s of
  silence before and 1.5 s after; "end of speech -> final" is ``Utterance.final_at - speech_end``, the
  part of the caller's wait that hearing is responsible for.

Run: ``voicebot eval asr --manifest ../shared/data/asr/fsdd_digits_dev/manifest.jsonl --engine whisper-tiny``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import wave
from pathlib import Path

from voicebot.config import Settings
from voicebot.runtime import InferencePool
from voicebot.speech.asr import load_recognizer
from voicebot.speech.listener import Listener, NoiseDiscarded, Utterance
from voicebot.speech.wer import wer
from voicebot.types import AudioFrame, Expectation, RecognitionHints, now

RATE = 8000
FRAME = RATE // 50 * 2


def read_manifest(path: Path, limit: int | None = None) -> list[tuple[Path, str]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    items = [(path.parent / r["audio"], r["text"]) for r in rows]
    if limit and limit < len(items):  # spread over the manifest (FSDD is sorted by digit)
        items = [items[i * len(items) // limit] for i in range(limit)]
    return items


def read_wav(path: Path) -> bytes:
    with wave.open(str(path)) as w:
        if (w.getframerate(), w.getsampwidth(), w.getnchannels()) != (RATE, 2, 1):
            raise ValueError(f"{path}: expected 8 kHz 16-bit mono")
        return w.readframes(w.getnframes())


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def decode_pass(recognizer, items, hints: RecognitionHints, settings: Settings) -> dict:
    pairs, decode_s, audio_s, confidences = [], 0.0, 0.0, []
    before = bytes(int(RATE * settings.speech.preroll_s) * 2)
    after = bytes(int(RATE * settings.speech.pause_s) * 2)
    for path, ref in items:
        pcm = before + read_wav(path) + after  # as the listener sends it: pre-roll, speech, first pause
        stream = recognizer.open_stream(RATE, hints)
        started = time.perf_counter()
        for i in range(0, len(pcm), FRAME):
            await stream.accept(AudioFrame(pcm[i:i + FRAME], RATE))
        transcript = await stream.finish()
        decode_s += time.perf_counter() - started
        audio_s += len(pcm) / (2 * RATE)
        pairs.append((ref, transcript.text))
        confidences.append(transcript.confidence)
    result = wer(pairs)
    return {
        "clips": len(items), "wer": round(result.wer, 4), "errors": result.errors,
        "reference_words": result.reference_words, "rtf": round(decode_s / audio_s, 3),
        "mean_confidence": round(statistics.fmean(confidences), 3) if confidences else None,
        "mistakes": [{"ref": r, "hyp": h} for r, h in pairs if wer([(r, h)]).errors][:20],
    }


async def live_pass(recognizer, items, settings: Settings, expectation: Expectation) -> dict:
    waits, pairs, missed = [], [], 0
    silence = bytes(FRAME)
    for path, ref in items:
        listener = Listener(recognizer, RATE, settings.speech)
        listener.expect(expectation)
        got: list = []

        async def collect(listener: Listener = listener, got: list = got) -> None:
            async for event in listener.events():
                if isinstance(event, Utterance | NoiseDiscarded):
                    got.append(event)

        task = asyncio.create_task(collect())
        pcm = read_wav(path)
        frames = [silence] * 25 + [pcm[i:i + FRAME].ljust(FRAME, b"\0") for i in range(0, len(pcm), FRAME)]
        frames += [silence] * 75
        next_at = now()
        for chunk in frames:  # paced like a live call: one 20 ms frame every 20 ms
            next_at += 0.02
            await asyncio.sleep(max(0.0, next_at - now()))
            listener.feed(AudioFrame(chunk, RATE, now()))
        deadline = now() + 10.0  # let a slow final decode land (a loaded machine can take seconds)
        while not got and now() < deadline:
            await asyncio.sleep(0.05)
        await listener.close()
        await task
        utterances = [e for e in got if isinstance(e, Utterance)]
        if not utterances:
            missed += 1
            pairs.append((ref, ""))
            continue
        pairs.append((ref, " ".join(u.transcript.text for u in utterances)))
        waits.append(utterances[-1].final_at - utterances[-1].speech_end)
    result = wer(pairs)
    return {
        "clips": len(items), "wer": round(result.wer, 4), "no_utterance": missed,
        "end_of_speech_to_final_p50_s": _r(percentile(waits, 0.5)),
        "end_of_speech_to_final_p95_s": _r(percentile(waits, 0.95)),
        "mistakes": [{"ref": r, "hyp": h} for r, h in pairs if wer([(r, h)]).errors][:20],
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


async def evaluate(manifest: Path, engine: str, slot: str | None, limit: int | None, live: int,
                   vosk_model: Path | None = None, digits: int = 0) -> dict:
    settings = Settings()
    settings.speech.asr_engine = engine  # type: ignore[assignment]
    if vosk_model is not None:
        settings.speech.vosk_model_path = vosk_model
    pool = InferencePool(settings.inference_workers)
    started = time.perf_counter()
    recognizer = await asyncio.to_thread(load_recognizer, settings, pool)
    load_s = time.perf_counter() - started
    items = read_manifest(manifest, limit)
    hints = RecognitionHints(slot_type=slot)
    report = {"engine": recognizer.name, "manifest": str(manifest), "slot": slot, "digits": digits,
              "load_and_warm_up_s": round(load_s, 2),
              "decode": await decode_pass(recognizer, items, hints, settings)}
    if live:
        step = max(1, len(items) // live)
        expectation = Expectation(hints=hints, min_digits=max(1, digits), max_digits=digits)
        report["live"] = await live_pass(recognizer, items[::step][:live], settings, expectation)
    # let decodes still queued (speculative ones nobody awaits) finish before the model is freed
    await asyncio.gather(*(pool.run(time.sleep, 0) for _ in range(pool.workers)))
    del recognizer
    pool.shutdown()
    return report


def run_cli(manifest: Path, engine: str, slot: str | None, limit: int | None, live: int,
            vosk_model: Path | None, json_out: bool, out: Path | None, digits: int = 0) -> int:
    report = asyncio.run(evaluate(manifest, engine, slot, limit, live, vosk_model, digits))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
    if json_out:
        print(json.dumps(report, indent=2))
        return 0
    d = report["decode"]
    print(f"engine {report['engine']}  slot hint {slot or 'none'}  "
          f"load+warm-up {report['load_and_warm_up_s']} s")
    print(f"decode: {d['clips']} clips  WER {d['wer']:.1%} ({d['errors']}/{d['reference_words']})  "
          f"RTF {d['rtf']}  mean confidence {d['mean_confidence']}")
    if "live" in report:
        lv = report["live"]
        print(f"live:   {lv['clips']} clips in real time  WER {lv['wer']:.1%}  "
              f"no utterance {lv['no_utterance']}  "
              f"end of speech -> final p50 {lv['end_of_speech_to_final_p50_s']} s  "
              f"p95 {lv['end_of_speech_to_final_p95_s']} s")
    print("(timings on a shared 2-core machine are noisy)")
    return 0
