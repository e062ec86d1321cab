"""The call recording writer (audio/recording.py): channel alignment by time, the stereo file it writes (WAV and
Ogg/Opus), discarding, a full queue that drops frames instead of waiting; and the policy and opt-out rules of
call/recording.py."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from voicebot.audio import recording as rec_module
from voicebot.audio.audiosocket import HEADER, KIND_FOR_RATE
from voicebot.audio.recording import ChannelTrack, RecordingWriter, raw_paths, recover_unfinished
from voicebot.call.recording import Consent, RecordingPolicy, declines, policy_for
from voicebot.config import RecordingSettings
from voicebot.dialog.loader import load_bundle
from voicebot.types import AudioFrame

RATE = 8000
FRAME = RATE // 50  # samples in 20 ms


def tone(seconds: float, rate: int = RATE, freq: float = 440.0, level: float = 0.3) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * level * 32767).astype("<i2").tobytes()


def frames(pcm: bytes, rate: int = RATE):
    step = rate // 50 * 2
    for i in range(0, len(pcm), step):
        yield i // step, pcm[i:i + step]


def message(pcm: bytes, rate: int = RATE) -> bytes:
    return HEADER.pack(KIND_FOR_RATE[rate], len(pcm)) + pcm


def read_stereo(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as wav:
        assert wav.getnchannels() == 2 and wav.getsampwidth() == 2
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
        return data.astype(np.float64), wav.getframerate()


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0


def test_a_channel_follows_its_frames_and_starts_over_after_a_real_gap() -> None:
    track = ChannelTrack(t0=100.0, rate=RATE, resync_s=0.25)
    assert track.place(100.5, FRAME) == 4000  # the first frame goes where its time says
    assert track.place(100.53, FRAME) == 4000 + FRAME  # jitter (10 ms late) does not move it
    assert track.place(100.52, FRAME) == 4000 + 2 * FRAME  # nor early arrival
    assert track.place(100.75, FRAME) == 4000 + 3 * FRAME  # 0.19 s late: a burst after a stall, kept together
    assert track.place(103.0, FRAME) == 24000  # 1.8 s without frames (silence suppression): a gap
    assert ChannelTrack(t0=100.0, rate=RATE).place(99.9, FRAME) == 0  # queued before time 0: at the start


async def test_caller_left_bot_right_each_where_it_was_heard(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rec_module, "_MERGE_SAMPLES", 1000)  # interleaved in many blocks
    writer = RecordingWriter(tmp_path, queue_frames=10_000)
    t0 = 1000.0
    rec = writer.open("call-1", RATE, t0)
    caller = tone(1.0, freq=300)
    for n, pcm in frames(caller):  # the caller speaks from 0.2 s to 1.2 s
        rec.caller(AudioFrame(pcm, RATE, timestamp=t0 + 0.2 + 0.02 * (n + 1)))
    bot = tone(1.0, freq=700)
    for n, pcm in frames(bot):  # the bot answers from 1.6 s to 2.6 s, then keep-alive silence to 3 s
        rec.bot(message(pcm), t0 + 1.6 + 0.02 * n)
    for n in range(20):
        rec.bot(message(bytes(FRAME * 2)), t0 + 2.6 + 0.02 * n)
    written = await asyncio.wait_for(rec.close(), 10)
    writer.close()
    assert written is not None and written.path == tmp_path / "call-1.wav" and written.dropped_frames == 0
    data, rate = read_stereo(written.path)
    assert rate == RATE and written.size_bytes == written.path.stat().st_size
    assert written.duration_s == pytest.approx(3.0, abs=0.03)
    left, right = data[:, 0], data[:, 1]

    def span(a: float, b: float) -> slice:
        return slice(int(a * RATE), int(b * RATE))

    assert rms(left[span(0.3, 1.1)]) > 5000 and rms(right[span(0.3, 1.1)]) == 0
    assert rms(right[span(1.7, 2.5)]) > 5000 and rms(left[span(1.7, 2.5)]) == 0
    assert rms(left[span(0.0, 0.2)]) == 0 and rms(right[span(2.7, 3.0)]) == 0
    assert not list(tmp_path.glob("*.part"))  # the channels' raw files are gone


async def test_a_discarded_recording_leaves_no_file(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path)
    rec = writer.open("call-2", RATE, 0.0)
    for n, pcm in frames(tone(0.5)):
        rec.caller(AudioFrame(pcm, RATE, timestamp=0.02 * n))
    assert await asyncio.wait_for(rec.discard(), 10) is None
    rec.caller(AudioFrame(tone(0.02), RATE, timestamp=1.0))  # after the end: ignored
    assert await asyncio.wait_for(rec.close(), 1) is None  # idempotent
    writer.close()
    assert list(tmp_path.iterdir()) == []


async def test_bot_audio_at_another_rate_is_resampled_to_the_call_rate(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path)
    rec = writer.open("call-3", RATE, 0.0)
    for n, pcm in frames(tone(1.0, rate=16000, freq=500), rate=16000):
        rec.bot(message(pcm, 16000), 0.02 * n)
    written = await asyncio.wait_for(rec.close(), 10)
    writer.close()
    data, rate = read_stereo(written.path)
    assert rate == RATE and len(data) == pytest.approx(RATE, abs=2 * FRAME)
    spectrum = np.abs(np.fft.rfft(data[1000:7000, 1]))
    assert np.argmax(spectrum) * RATE / 6000 == pytest.approx(500, abs=5)


async def test_a_full_queue_drops_frames_and_counts_them_without_waiting(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    stalled, go_on = threading.Event(), threading.Event()
    real_write = rec_module._Open.write

    def slow_disk(self, *args) -> None:  # the disk hangs while the call goes on
        stalled.set()
        go_on.wait(10)
        real_write(self, *args)

    monkeypatch.setattr(rec_module._Open, "write", slow_disk)
    writer = RecordingWriter(tmp_path, queue_frames=5)
    rec = writer.open("call-4", RATE, 0.0)
    rec.caller(AudioFrame(tone(0.02), RATE, timestamp=0.0))
    assert await asyncio.to_thread(stalled.wait, 5)
    for n in range(1, 21):  # 20 more frames while the writer is stuck: 5 queue, 15 are dropped
        rec.bot(message(tone(0.02)), 0.02 * n)
    assert rec.dropped == 15 and writer.dropped_frames == 15
    go_on.set()
    written = await asyncio.wait_for(rec.close(), 10)
    writer.close()
    assert written is not None and written.dropped_frames == 15


async def test_opus_in_ogg_is_smaller_and_decodes_to_the_same_channels(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    av = pytest.importorskip("av")
    monkeypatch.setattr(rec_module, "_MERGE_SAMPLES", 1000)  # encoded in many blocks
    writer = RecordingWriter(tmp_path)
    rec = writer.open("call-5", RATE, 0.0, "opus")
    for n, pcm in frames(tone(2.0, freq=300)):
        rec.caller(AudioFrame(pcm, RATE, timestamp=0.02 * (n + 1)))
    written = await asyncio.wait_for(rec.close(), 20)
    writer.close()
    assert written.path.suffix == ".ogg" and written.format == "opus"
    assert written.size_bytes < 2.0 * RATE * 2 * 2 / 4  # far smaller than the WAV's 64 KB
    with av.open(str(written.path)) as container:
        decoded = [(f.sample_rate, f.to_ndarray()) for f in container.decode(audio=0)]  # planar: (2, n)
    rate = decoded[0][0]
    channels = np.concatenate([a for _, a in decoded], axis=1).astype(np.float64)
    assert channels.shape[1] / rate == pytest.approx(2.0, abs=0.1)
    middle = slice(int(0.3 * rate), int(1.7 * rate))
    assert rms(channels[1, middle]) < rms(channels[0, middle]) / 20  # the caller left, the bot's side silent
    spectrum = np.abs(np.fft.rfft(channels[0, middle]))
    assert np.argmax(spectrum) * rate / channels[0, middle].size == pytest.approx(300, abs=5)


def bundle_of(text: str, tmp_path: Path):
    path = tmp_path / "flow.yaml"
    path.write_text(text)
    bundle, problems = load_bundle(path)
    assert bundle is not None, problems
    return bundle


def test_the_flow_section_overrides_the_settings(tmp_path: Path) -> None:
    settings = RecordingSettings(enabled=False, retain_days=30, consent_prompt="Calls are recorded.")
    plain = bundle_of("flows:\n  main:\n    steps:\n      - say: Hi\n      - end: true\n", tmp_path)
    assert policy_for(plain, settings) == RecordingPolicy(False, 30, Consent("Calls are recorded."))
    bundle = bundle_of(
        "recording:\n  enabled: true\n  retain_days: 7\n  consent:\n    opt_out: Press 9 or say no.\n"
        "    opt_out_key: '9'\nflows:\n  main:\n    steps:\n      - say: Hi\n      - end: true\n", tmp_path)
    policy = policy_for(bundle, settings)
    assert policy.enabled and policy.retain_days == 7
    assert policy.consent == Consent("Calls are recorded.", "Press 9 or say no.", "9", 3.0,
                                     "Okay, this call will not be recorded.")
    assert policy.prompts() == ["Calls are recorded. Press 9 or say no.", "Okay, this call will not be recorded."]
    off = bundle_of("recording:\n  enabled: true\n  consent: false\n"
                    "flows:\n  main:\n    steps:\n      - say: Hi\n      - end: true\n", tmp_path)
    assert policy_for(off, settings).consent.prompt == ""


@pytest.mark.parametrize(("said", "declined"), [
    ("no", True), ("No thanks.", True), ("please do not record me", True), ("don't record this call", True),
    ("nope", True), ("yes", False), ("that's fine", False), ("I want to check my balance", False),
    ("I don't know what my balance is", False), ("", False)])
def test_what_declines_the_recording(said: str, declined: bool) -> None:
    assert declines(said) is declined


async def test_what_a_stopped_process_left_unfinished_is_finished_later(tmp_path: Path) -> None:
    left, right = raw_paths(tmp_path / "call-6.wav", RATE)
    left.write_bytes(tone(1.0, freq=300))
    right.write_bytes(bytes(RATE) + tone(0.5, freq=700))  # the bot from 0.5 s to 1.0 s
    old = time.time() - 120
    for raw in (left, right):
        os.utime(raw, (old, old))
    busy = raw_paths(tmp_path / "call-7.wav", RATE)  # another worker's call in progress: written just now
    busy[0].write_bytes(tone(0.2))
    (recovered,) = await asyncio.to_thread(recover_unfinished, tmp_path)
    assert recovered.call_id == "call-6" and recovered.duration_s == pytest.approx(1.0)
    data, rate = read_stereo(tmp_path / "call-6.wav")
    assert rate == RATE and rms(data[:RATE // 2, 0]) > 5000 and rms(data[:RATE // 2, 1]) == 0
    assert rms(data[RATE // 2:, 1]) > 5000
    assert not left.exists() and not right.exists() and busy[0].exists()
