"""Recorded calls through a real `voicebot serve`, the caller simulator playing Asterisk's part over a real
AudioSocket. The caller speaks once; the service leaves one stereo WAV named by the call's UUID whose left channel
holds the caller's speech (when the simulator sent it) and whose right channel holds the bot's (when the simulator
heard it: the consent prompt first, then the greeting), each channel silent while only the other side speaks; its
row, and the file served by the API. A greeting cut by barge-in is recorded as it was heard: until the cut, and
frame by frame voiced where the caller heard the bot."""

from __future__ import annotations

import asyncio
import uuid
import wave
from pathlib import Path

import httpx
import numpy as np
import pytest
from harness import CALLER_VOICE, auth, start_service, stop_service

from voicebot.audio.recording import RESYNC_S
from voicebot.caller.script import parse_script
from voicebot.caller.simulator import place_call

pytestmark = pytest.mark.slow

RATE = 8000
CONSENT = "This call may be recorded for quality and training."
VOICED = 184  # RMS of -45 dBFS: the simulator's "voiced" frame


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if samples.size else 0.0


def offset_of(right: np.ndarray, heard: np.ndarray) -> float:
    """Seconds from the simulator's connect to the recording's time 0: where the bot's audio as heard by the
    simulator lines up with the recording's right channel (cross-correlation of their energy envelopes)."""
    def envelope(x: np.ndarray) -> np.ndarray:
        frames = x[:len(x) // 160 * 160].astype(np.float64).reshape(-1, 160)
        return np.sqrt((frames ** 2).mean(axis=1))

    a, b = envelope(right), envelope(heard)
    a, b = a - a.mean(), b - b.mean()
    lags = np.arange(-50, 51)  # ± 1 s in 20 ms steps
    scores = [float(np.dot(*_overlap(a, b, k))) for k in lags]
    return float(lags[int(np.argmax(scores))]) * 0.02


def _overlap(a: np.ndarray, b: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """a[t] against b[t + k]."""
    if k >= 0:
        n = min(len(a), len(b) - k)
        return a[:n], b[k:k + n]
    n = min(len(a) + k, len(b))
    return a[-k:-k + n], b[:n]


async def test_a_recorded_call_leaves_the_caller_left_and_the_bot_right(tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    service = await asyncio.to_thread(start_service, tmp_path, {
        "VOICEBOT_RECORDINGS__ENABLED": "true", "VOICEBOT_RECORDINGS__DIR": str(recordings),
        "VOICEBOT_RECORDINGS__CONSENT_PROMPT": CONSENT})
    try:
        call_id = str(uuid.uuid4())
        result = await place_call("127.0.0.1", service.audiosocket_port, parse_script({"steps": [
            {"wait_for_bot": {"timeout": 30}}, {"say": "I want to check my balance"},
            {"wait_for_bot": {"timeout": 30}}, {"pause": 1.0}, "hangup"]}),
            call_id=call_id, timeout=90, record_caller=True, tts=CALLER_VOICE)
        path = recordings / f"{call_id}.wav"
        async with httpx.AsyncClient(base_url=service.web_url, timeout=10, headers=auth(service)) as client:
            for _ in range(100):  # written by the writer thread once the call has ended, then its row
                served = await client.get(f"/api/calls/{call_id}/recording")
                if served.status_code == 200:
                    break
                await asyncio.sleep(0.1)
            call = (await client.get(f"/api/calls/{call_id}")).json()
    finally:
        await asyncio.to_thread(stop_service, service)
    assert result.ok, result.errors
    assert served.status_code == 200 and served.content == path.read_bytes()
    assert call["turns"][0]["input_kind"] == "consent" and call["turns"][0]["bot_text"] == CONSENT
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, RATE)
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    left, right = data[:, 0], data[:, 1]
    assert abs(len(data) / RATE - result.duration_s) < 1.0  # the whole call

    heard = np.frombuffer(result.bot_audio, dtype="<i2")  # the bot as the simulator heard it, from its connect
    offset = offset_of(right, heard)
    assert abs(offset) <= 0.2  # time 0 is the session's start: right after the connect (0.02 s measured)

    def at(start_s: float, end_s: float) -> slice:  # simulator seconds -> recording samples
        return slice(int((start_s - offset) * RATE), int((end_s - offset) * RATE))

    (spoken,) = result.turns  # the caller's "I want to check my balance"
    assert spoken.kind == "say" and spoken.first_bot_audio_s is not None
    speech = at(spoken.start_s + 0.3, spoken.end_s - 0.3)
    assert rms(left[speech]) > 300  # the caller's voice, left
    assert rms(right[speech]) < rms(left[speech]) / 10  # the bot was quiet meanwhile
    bot_talks = at(0.5, spoken.start_s - 0.5)  # the consent prompt and the greeting
    assert rms(right[bot_talks]) > 300 and rms(left[bot_talks]) < 5  # the simulator sends silence meanwhile
    answer = at(spoken.first_bot_audio_s + 0.1, spoken.first_bot_audio_s + 1.0)
    assert rms(right[answer]) > 300 and rms(left[answer]) < 5  # the bot's answer, right


async def test_a_greeting_cut_by_barge_in_is_recorded_as_it_was_heard(tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    service = await asyncio.to_thread(start_service, tmp_path, {
        "VOICEBOT_RECORDINGS__ENABLED": "true", "VOICEBOT_RECORDINGS__DIR": str(recordings),
        "VOICEBOT_RECORDINGS__CONSENT_PROMPT": ""})  # the greeting first: it may be cut
    try:
        call_id = str(uuid.uuid4())
        result = await place_call("127.0.0.1", service.audiosocket_port, parse_script({"steps": [
            {"barge_in": {"after": 1.0, "say": "I want to check my balance"}},
            {"wait_for_bot": {"timeout": 30}}, "hangup"]}), call_id=call_id, timeout=90, record_caller=True,
            tts=CALLER_VOICE)
        path = recordings / f"{call_id}.wav"
        for _ in range(100):
            if path.exists():
                break
            await asyncio.sleep(0.1)
    finally:
        await asyncio.to_thread(stop_service, service)
    assert result.ok, result.errors
    (barge,) = result.turns
    assert barge.kind == "barge_in" and barge.barge_in_stop_s is not None  # the bot stopped talking
    with wave.open(str(path)) as wav:
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    left, right = data[:, 0], data[:, 1]
    offset = offset_of(right, np.frombuffer(result.bot_audio, dtype="<i2"))
    assert abs(offset) <= 0.2

    def at(start_s: float, end_s: float) -> slice:
        return slice(int((start_s - offset) * RATE), int((end_s - offset) * RATE))

    cut = barge.start_s + barge.barge_in_stop_s  # the greeting's last frame, as the caller heard it
    assert rms(right[at(cut - 0.6, cut - 0.1)]) > 300  # the greeting, until it was cut
    # then nothing of it: the bot went quiet where the caller heard it stop, give or take the frames' jitter on a
    # loaded machine (the recording places a frame when it was sent, the caller when it arrived), for ≥ 150 ms
    quiet = [t for t in np.arange(cut - 0.1, cut + 0.3, 0.02) if rms(right[at(t, t + 0.15)]) < VOICED]
    assert quiet and quiet[0] <= cut + 0.25, (cut, quiet[:1])
    assert rms(left[at(barge.start_s + 0.2, barge.end_s - 0.2)]) > 300  # while the caller spoke, left
    # Frame by frame, the right channel is voiced where the caller heard the bot: second by second, at the
    # best shift within the recorder's resync tolerance (it keeps a channel's frames end to end unless one
    # comes RESYNC_S late; the simulator lays them where they arrived: a stall under load shifts the rest)
    heard = np.frombuffer(result.bot_audio, dtype="<i2")
    start = int(-offset * RATE)
    mine = right[max(0, start):][:len(heard) - max(0, -start)]
    theirs = heard[max(0, -start):][:len(mine)]
    frames = len(mine) // 160
    mine_voiced, theirs_voiced = (np.array([rms(x[i * 160:(i + 1) * 160]) > VOICED for i in range(frames)])
                                  for x in (mine, theirs))
    slack, window = round(RESYNC_S / 0.02), 50
    agreeing = 0
    for first in range(0, frames, window):
        ours = mine_voiced[first:first + window]
        agreeing += max(int(np.sum(ours == theirs_voiced[first + shift:first + shift + len(ours)]))
                        for shift in range(-min(slack, first), slack + 1)
                        if first + shift + len(ours) <= frames)
    assert agreeing / frames > 0.95
