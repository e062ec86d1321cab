"""ASR accuracy and speed on a manifest of 8 kHz WAV clips: WER, real-time factor, end of speech -> final.

Manifest lines: ``{"audio": "path/relative/to/manifest.wav", "text": "reference"}``, optionally with
``category`` and ``source`` (WER is also reported per value of each).

``--channel`` passes every clip through a telephone line first (``voicebot.caller.voices``: ``clean``,
``ulaw``, ``gsm+babble10``, ``amr+pink10`` …; the noise is seeded by the clip's id, so runs compare).
Before a line other than ``clean`` the clip is set to an active speech level of -26 dBFS (ITU-T P.56's
nominal telephone level), as a phone's fixed gain delivers a caller: some recordings (three FLEURS clips)
sit at -60 dBFS, under the line's -55 dBFS hiss. ``clean`` is the clip as recorded.

Two passes per engine:

* **decode** - every clip, with the listener's pre-roll of silence before it and its first pause after
  (0.2 s, 0.1 s), is fed to a recognition stream in 20 ms frames and finished; WER (see
  ``voicebot.speech.wer`` for the normalisation) and character error rate (``wer.cer``: spelled letters
  written as one word count as right) of the reading the turn's record keeps (``settled_reading``: with the
  cascade, base's later reading when one is made), real-time factor = decode seconds (a later reading
  included) / audio seconds, and the time from ``finish()`` to the transcript the dialog answers on per clip
  (p50/p95: one whole decode, as when no speculative decode was made);
* **live** - ``--live`` clips (spread over the manifest) are played in real time through a
  ``Listener`` (VAD, speculative decode at the first pause, end-of-turn rules), padded with 0.5 s of
  silence before and 1.5 s after; "end of speech -> final" is ``Utterance.final_at - speech_end``, the
  part of the caller's wait that hearing is responsible for; "end of speech -> later reading", for the
  turns answered before base's later reading was made, when the record got it.

Run: ``voicebot eval asr --manifest ../shared/data/asr/fsdd_digits_dev/manifest.jsonl --engine whisper-tiny``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import wave
import zlib
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

import numpy as np

from voicebot.call.hearing import settled_reading
from voicebot.caller.voices import Channel, parse_channel, through_channel
from voicebot.config import Settings
from voicebot.runtime import InferencePool
from voicebot.speech.asr import load_recognizer
from voicebot.speech.listener import Listener, NoiseDiscarded, Utterance
from voicebot.speech.wer import cer, wer
from voicebot.types import AudioFrame, Expectation, RecognitionHints, now

RATE = 8000
FRAME = RATE // 50 * 2
GROUP_FIELDS = ("category", "source")  # manifest fields WER is broken down by
LINE_LEVEL_DBFS = -26.0  # active speech level a clip is set to before a telephone line
PRIVATE_CATEGORIES = {"alphanumeric"}  # AN4's names and phone numbers: never copied into a report


class Clip(NamedTuple):  # not a dataclass: `voicebot eval` loads this file outside sys.modules
    """One manifest line: the WAV, its reference, and the groups it is scored in."""

    path: Path
    text: str
    id: str
    groups: tuple[tuple[str, str], ...] = ()

    @property
    def private(self) -> bool:
        return bool(dict(self.groups).get("category") in PRIVATE_CATEGORIES)


def read_manifest(path: Path, limit: int | None = None) -> list[Clip]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    items = [Clip(path.parent / r["audio"], r["text"], str(r.get("id", r["audio"])),
                  tuple((f, str(r[f])) for f in GROUP_FIELDS if f in r)) for r in rows]
    if limit and limit < len(items):  # spread over the manifest (sorted by digit or by source)
        items = [items[i * len(items) // limit] for i in range(limit)]
    return items


def read_wav(path: Path) -> bytes:
    with wave.open(str(path)) as w:
        if (w.getframerate(), w.getsampwidth(), w.getnchannels()) != (RATE, 2, 1):
            raise ValueError(f"{path}: expected 8 kHz 16-bit mono")
        return w.readframes(w.getnframes())


def clip_audio(clip: Clip, channel: Channel) -> bytes:
    """The clip's 8 kHz PCM as it arrives over ``channel`` (noise seeded by the clip's id)."""
    pcm = np.frombuffer(read_wav(clip.path), dtype="<i2")
    if channel.name == "clean":
        return pcm.tobytes()
    pcm = at_level(pcm, LINE_LEVEL_DBFS)
    return through_channel(pcm, RATE, channel, seed=zlib.crc32(clip.id.encode())).astype("<i2").tobytes()


def at_level(pcm: np.ndarray, dbfs: float) -> np.ndarray:
    """``pcm`` scaled so its active level (RMS of the 20 ms frames within 30 dB of the loudest) is
    ``dbfs``; peaks beyond full scale are clipped."""
    frames = pcm[:len(pcm) // 160 * 160].reshape(-1, 160).astype(np.float64) / 32768
    rms = np.sqrt((frames ** 2).mean(axis=1)) if len(frames) else np.zeros(1)
    active = rms[rms >= rms.max() * 10 ** (-30 / 20)]
    level = float(np.sqrt((active ** 2).mean())) if rms.max() > 0 else 0.0
    if level == 0.0:
        return pcm
    scaled = pcm.astype(np.float64) * (10 ** (dbfs / 20) / level)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def score(clips: list[Clip], hyps: list[str]) -> dict:
    """WER and CER over all clips, then WER and CER per value of each group field."""
    pairs = [(c.text, h) for c, h in zip(clips, hyps, strict=True)]
    by_group: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))
    for clip, pair in zip(clips, pairs, strict=True):
        for field, value in clip.groups:
            by_group[field][value].append(pair)
    total, chars = wer(pairs), cer(pairs)
    return {
        "wer": round(total.wer, 4), "errors": total.errors, "reference_words": total.reference_words,
        "cer": round(chars.cer, 4),
        **{f"by_{field}": {value: _group(group) for value, group in sorted(values.items())}
           for field, values in by_group.items()},
        "mistakes": [{"ref": c.text, "hyp": h} for c, h in zip(clips, hyps, strict=True)
                     if not c.private and wer([(c.text, h)]).errors][:20],
    }


def _group(pairs: list[tuple[str, str]]) -> dict:
    return {"clips": len(pairs), "wer": round(wer(pairs).wer, 4), "cer": round(cer(pairs).cer, 4)}


async def decode_pass(recognizer, clips: list[Clip], audio: dict[str, bytes], hints: RecognitionHints,
                      settings: Settings) -> dict:
    hyps, times, decode_s, audio_s, confidences = [], [], 0.0, 0.0, []
    before = bytes(int(RATE * settings.speech.preroll_s) * 2)
    after = bytes(int(RATE * settings.speech.pause_s) * 2)
    for clip in clips:
        # as the listener sends it: pre-roll, speech, first pause
        pcm = before + audio[clip.id] + after
        stream = recognizer.open_stream(RATE, hints)
        started = time.perf_counter()
        for i in range(0, len(pcm), FRAME):
            await stream.accept(AudioFrame(pcm[i:i + FRAME], RATE))
        transcript = await stream.finish()
        times.append(time.perf_counter() - started)
        transcript = await settled_reading(transcript)  # the reading the turn's record keeps
        decode_s += time.perf_counter() - started
        audio_s += len(pcm) / (2 * RATE)
        hyps.append(transcript.text)
        confidences.append(transcript.confidence)
    return {
        "clips": len(clips), **score(clips, hyps), "rtf": round(decode_s / audio_s, 3),
        "decode_p50_s": _r(percentile(times, 0.5)), "decode_p95_s": _r(percentile(times, 0.95)),
        "mean_confidence": round(statistics.fmean(confidences), 3) if confidences else None,
    }


async def live_pass(recognizer, clips: list[Clip], audio: dict[str, bytes], settings: Settings,
                    expectation: Expectation) -> dict:
    waits, settle_waits, hyps, missed = [], [], [], 0
    silence = bytes(FRAME)
    for clip in clips:
        listener = Listener(recognizer, RATE, settings.speech)
        listener.expect(expectation)
        got: list = []
        settled_at: dict[int, float] = {}  # when each later reading (by its future's id) was made

        async def collect(listener: Listener = listener, got: list = got,
                          settled_at: dict = settled_at) -> None:
            async for event in listener.events():
                if isinstance(event, Utterance | NoiseDiscarded):
                    got.append(event)
                if isinstance(event, Utterance) and event.transcript.later_reading is not None:
                    event.transcript.later_reading.add_done_callback(
                        lambda done: settled_at.__setitem__(id(done), now()))

        task = asyncio.create_task(collect())
        pcm = audio[clip.id]
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
            hyps.append("")
            continue
        readings = [await settled_reading(u.transcript) for u in utterances]  # what the turn's record keeps
        hyps.append(" ".join(t.text for t in readings))
        last = utterances[-1]
        waits.append(last.final_at - last.speech_end)
        if last.transcript.later_reading is not None:
            settle_waits.append(settled_at.get(id(last.transcript.later_reading), now()) - last.speech_end)
    scores = score(clips, hyps)
    return {
        "clips": len(clips), "wer": scores["wer"], "cer": scores["cer"], "no_utterance": missed,
        "end_of_speech_to_final_p50_s": _r(percentile(waits, 0.5)),
        "end_of_speech_to_final_p95_s": _r(percentile(waits, 0.95)),
        "later_readings": len(settle_waits),
        "end_of_speech_to_later_reading_p50_s": _r(percentile(settle_waits, 0.5)),
        "end_of_speech_to_later_reading_p95_s": _r(percentile(settle_waits, 0.95)),
        "mistakes": scores["mistakes"],
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


async def evaluate(manifest: Path, engine: str, slot: str | None, limit: int | None, live: int,
                   vosk_model: Path | None = None, digits: int = 0, channel: str = "clean") -> dict:
    line = parse_channel(channel)
    clips = read_manifest(manifest, limit)
    audio = {clip.id: clip_audio(clip, line) for clip in clips}  # before any task runs: blocking is harmless
    settings = Settings()
    settings.speech.asr_engine = engine  # type: ignore[assignment]
    if vosk_model is not None:
        settings.speech.vosk_model_path = vosk_model
    pool = InferencePool(settings.inference_workers)
    started = time.perf_counter()
    recognizer = await asyncio.to_thread(load_recognizer, settings, pool)
    load_s = time.perf_counter() - started
    hints = RecognitionHints(slot_type=slot)
    report = {"engine": recognizer.name, "manifest": str(manifest), "channel": line.name, "slot": slot,
              "digits": digits, "beam_size": settings.speech.whisper_beam_size,
              "load_and_warm_up_s": round(load_s, 2),
              "decode": await decode_pass(recognizer, clips, audio, hints, settings)}
    if live:
        step = max(1, len(clips) // live)
        expectation = Expectation(hints=hints, min_digits=max(1, digits), max_digits=digits)
        report["live"] = await live_pass(recognizer, clips[::step][:live], audio, settings, expectation)
    # let decodes still queued (speculative ones nobody awaits) finish before the model is freed
    await asyncio.gather(*(pool.run(time.sleep, 0) for _ in range(pool.workers)))
    del recognizer
    pool.shutdown()
    return report


def run_cli(manifest: Path, engine: str, slot: str | None, limit: int | None, live: int,
            vosk_model: Path | None, json_out: bool, out: Path | None, digits: int = 0,
            channel: str = "clean") -> int:
    report = asyncio.run(evaluate(manifest, engine, slot, limit, live, vosk_model, digits, channel))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
    if json_out:
        print(json.dumps(report, indent=2))
        return 0
    d = report["decode"]
    print(f"engine {report['engine']}  channel {report['channel']}  slot hint {slot or 'none'}  "
          f"load+warm-up {report['load_and_warm_up_s']} s")
    print(f"decode: {d['clips']} clips  WER {d['wer']:.1%} ({d['errors']}/{d['reference_words']})  "
          f"CER {d['cer']:.1%}  RTF {d['rtf']}  decode p50 {d['decode_p50_s']} s  p95 {d['decode_p95_s']} s  "
          f"mean confidence {d['mean_confidence']}")
    for field in GROUP_FIELDS:
        for value, g in d.get(f"by_{field}", {}).items():
            print(f"  {field} {value}: {g['clips']} clips  WER {g['wer']:.1%}  CER {g['cer']:.1%}")
    if "live" in report:
        lv = report["live"]
        print(f"live:   {lv['clips']} clips in real time  WER {lv['wer']:.1%}  "
              f"no utterance {lv['no_utterance']}  "
              f"end of speech -> final p50 {lv['end_of_speech_to_final_p50_s']} s  "
              f"p95 {lv['end_of_speech_to_final_p95_s']} s")
        if lv["later_readings"]:
            print(f"        {lv['later_readings']} turns answered before base's later reading, which the "
                  f"record keeps: end of speech -> later reading "
                  f"p50 {lv['end_of_speech_to_later_reading_p50_s']} s  "
                  f"p95 {lv['end_of_speech_to_later_reading_p95_s']} s")
    print("(timings on a shared 2-core machine are noisy)")
    return 0
