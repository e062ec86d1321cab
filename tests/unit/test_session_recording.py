"""The session's recording: a recorded flow's call leaves a stereo file and its row (SQLite), the consent prompt is
said before the greeting, and a caller who presses the opt-out key (or says no) leaves neither; fake engines, a
real Player on virtual time, the real writer."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakes import FakeCallConnection, FakeCallStore, FakeNlu, FakeRecognizer, FakeSynthesizer, ScriptedDialog

from voicebot.call.events import EventBus
from voicebot.call.recording import Consent, RecordingPolicy, Recordings
from voicebot.call.session import CallServices, CallSession, DialogApp
from voicebot.config import RecordingSettings, Settings
from voicebot.runtime import InferencePool
from voicebot.speech.tts import Speaker
from voicebot.store import database
from voicebot.store.recorder import CallRecorder
from voicebot.types import AudioFrame, Dtmf, EndCall, Say, now

CONSENT = Consent("Calls are recorded.", "Press 9 to opt out.", "9", 0.5, "Okay, no recording.")


@pytest.fixture
async def recordings(tmp_path: Path) -> AsyncIterator[Recordings]:
    engine = database.connect(f"sqlite+aiosqlite:///{tmp_path / 'voicebot.db'}")
    await database.upgrade(engine)
    recordings = Recordings(RecordingSettings(dir=tmp_path / "recordings"), engine)
    yield recordings
    await recordings.close()
    await engine.dispose()


async def place(tmp_path: Path, recordings: Recordings, policy: RecordingPolicy, keys: str = "",
                said: tuple[str, bytes] | None = None) -> tuple[FakeCallConnection, FakeCallStore]:
    dialog = ScriptedDialog([(Say("Welcome to the bank."), EndCall("served"))])
    bus, store = EventBus(), FakeCallStore()
    recorder = CallRecorder.start(bus, store)
    app = DialogApp("bank", "v1", dialog, FakeNlu({"check_balance": ["balance"]}), recording=policy)
    services = CallServices(settings=Settings(), recognizer=FakeRecognizer([said[0]] if said else []), bus=bus,
                            speaker=Speaker(FakeSynthesizer(8000), tmp_path / "cache", InferencePool(1)),
                            dialog_for=lambda _info: app, recordings=recordings)
    conn = FakeCallConnection()
    start = now()
    line = b"\x10\x00" * 160 * 25 + (said[1] + bytes(16000 * 2) if said else b"")  # the caller's line
    for i in range(len(line) // 320):
        conn.feed(AudioFrame(line[i * 320:(i + 1) * 320], 8000, start + 0.02 * i))
    for key in keys:
        asyncio.get_running_loop().call_later(0.05, conn.feed, Dtmf(key))
    await asyncio.wait_for(CallSession(services, conn).run(), 20)
    await bus.close()
    await recorder.close()
    await recordings.close()
    return conn, store


async def test_a_recorded_call_hears_the_consent_first_and_leaves_a_stereo_file_and_its_row(
        tmp_path: Path, recordings: Recordings) -> None:
    conn, store = await place(tmp_path, recordings, RecordingPolicy(True, 30, CONSENT))
    turns = store.calls[conn.call_id]["turns"]
    assert turns[0].input_kind == "consent" and turns[0].bot_text == "Calls are recorded. Press 9 to opt out."
    assert turns[1].decision == "the caller did not decline the recording"
    assert turns[-1].bot_text == "Welcome to the bank."
    row = await recordings.store.get(conn.call_id)
    assert row is not None and row.flow == "bank" and row.format == "wav" and row.deleted_at is None
    assert (row.expires_at - row.created_at).days == 30
    path = Path(row.path)
    assert path == tmp_path / "recordings" / f"{conn.call_id}.wav" and row.size_bytes == path.stat().st_size
    with wave.open(str(path)) as wav:
        assert wav.getnchannels() == 2 and wav.getframerate() == 8000
        assert row.duration_s == pytest.approx(wav.getnframes() / 8000)
        frames = wav.readframes(wav.getnframes())
    assert any(frames[i:i + 2] == b"\x10\x00" for i in range(0, len(frames), 4))  # the caller's, left
    bot_said = b"".join(message[3:] for message in conn.sent)
    right = b"".join(frames[i + 2:i + 4] for i in range(0, len(frames), 4))
    assert bot_said.strip(b"\0") and bot_said.strip(b"\0")[:320] in right  # what was played, right


async def test_the_opt_out_key_leaves_no_recording_and_the_call_goes_on(tmp_path: Path,
                                                                       recordings: Recordings) -> None:
    conn, store = await place(tmp_path, recordings, RecordingPolicy(True, 30, CONSENT), keys="9")
    turns = store.calls[conn.call_id]["turns"]
    declined = next(t for t in turns if t.input_kind == "dtmf")
    assert declined.decision == "the caller declined the recording; the call is not recorded"
    assert declined.bot_text == "Okay, no recording."
    assert turns[-1].bot_text == "Welcome to the bank."
    assert await recordings.store.get(conn.call_id) is None
    assert not any((tmp_path / "recordings").iterdir())


async def test_a_flow_without_recording_says_nothing_about_it(tmp_path: Path, recordings: Recordings) -> None:
    conn, store = await place(tmp_path, recordings, RecordingPolicy(False, 30, CONSENT))
    assert [t.bot_text for t in store.calls[conn.call_id]["turns"]] == ["Welcome to the bank."]
    assert await recordings.store.get(conn.call_id) is None


async def test_saying_no_leaves_no_recording(tmp_path: Path, recordings: Recordings, shared_dir: Path) -> None:
    with wave.open(str(shared_dir / "data/asr/fsdd_digits_dev/audio/3_theo_7.wav")) as wav:
        speech = wav.readframes(wav.getnframes())  # heard as "no thanks" by the fake recogniser
    consent = Consent("Calls are recorded.", "Say no to opt out.", "9", 3.0, "Okay, no recording.")
    conn, store = await place(tmp_path, recordings, RecordingPolicy(True, 30, consent), said=("no thanks", speech))
    turns = store.calls[conn.call_id]["turns"]
    answer = next(t for t in turns if t.input_kind == "speech")
    assert answer.caller_text == "no thanks" and answer.decision.startswith("the caller declined the recording")
    assert await recordings.store.get(conn.call_id) is None
