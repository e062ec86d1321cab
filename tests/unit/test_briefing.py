"""The agent's spoken briefing: its one line from the handoff packet, the WAV the session writes at handoff
for a queue that has it on (and not for one that has not), old files removed, and the handoff answer's key."""

from __future__ import annotations

import asyncio
import os
import time
import wave
from pathlib import Path

from fakes import FakeCallConnection, FakeCallStore, FakeNlu, FakeRecognizer, FakeSynthesizer, ScriptedDialog
from voicebot.call.briefing import briefing_path, briefing_text
from voicebot.call.events import EventBus
from voicebot.call.session import CallServices, CallSession, DialogApp
from voicebot.config import DesktopSettings, Settings
from voicebot.runtime import InferencePool
from voicebot.speech.tts import Speaker
from voicebot.types import Handoff, HandoffPacket, Say
from voicebot.web.app import handoff_answer


def packet(**changes) -> HandoffPacket:
    fields = dict(call_id="00000000-0000-4000-8000-000000000001", caller_id="+15550001", queue="cards",
                  skill="lost_stolen", priority=3, reason="caller_request",
                  intent_summary="Caller wanted: card_lost; collected: account=****4321; handoff: caller_request",
                  slots={"account": "****4321"}, transcript=(), emotion_trail=(("neutral", 0.8), ("angry", 0.9)),
                  created_at=0.0, verified=True)
    return HandoffPacket(**(fields | changes))


def test_the_line_says_verified_what_they_want_why_and_the_mood() -> None:
    assert briefing_text(packet()) == "Verified caller, wants card lost, asked for an agent, sounds angry."


def test_an_unverified_calm_caller_with_no_intent() -> None:
    line = briefing_text(packet(verified=False, intent_summary="Caller wanted: no intent recognised; handoff: "
                                "no_match_limit", reason="no_match_limit", emotion_trail=(("neutral", 0.9),)))
    assert line == "Caller not verified, no match limit."


def test_the_line_reads_no_slot_values() -> None:
    assert "4321" not in briefing_text(packet())


def test_the_handoff_answer_keeps_its_first_keys_and_adds_briefing_last() -> None:
    plain = handoff_answer(packet())
    assert plain == "queue=cards&skill=lost_stolen&priority=3&reason=caller_request"
    assert handoff_answer(packet(), briefing=True) == plain + "&briefing=1"


async def handed_off(tmp_path: Path, queues: list[str]) -> tuple[FakeCallConnection, Path, FakeSynthesizer]:
    briefings = tmp_path / "briefings"
    settings = Settings(desktop=DesktopSettings(briefing_dir=briefings, briefing_queues=queues))
    dialog = ScriptedDialog([(Say("Let me put you through."), Handoff(reason="caller_request", queue="cards",
                                                                      priority=1))])
    voice = FakeSynthesizer(8000)
    services = CallServices(settings=settings, recognizer=FakeRecognizer(["unused"]), bus=EventBus(),
                            speaker=Speaker(voice, tmp_path / "cache", InferencePool(1)),
                            dialog_for=lambda _info: DialogApp("bank", "v1", dialog, FakeNlu({})))
    conn = FakeCallConnection()
    await asyncio.wait_for(CallSession(services, conn).run(), 20)
    return conn, briefings, voice


async def test_the_session_writes_an_8k_wav_named_by_the_call(tmp_path: Path) -> None:
    briefings = tmp_path / "briefings"
    briefings.mkdir()
    stale = briefings / "old-call.wav"
    stale.write_bytes(b"")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    conn, briefings, voice = await handed_off(tmp_path, ["cards"])
    assert conn.hangups  # the caller was let go
    line = "Caller not verified, asked for an agent."  # the scripted dialog recognised no intent
    assert voice.requests[-1] == line
    with wave.open(str(briefing_path(briefings, conn.call_id))) as made:
        assert (made.getframerate(), made.getnchannels(), made.getsampwidth()) == (8000, 1, 2)
        assert made.readframes(made.getnframes()) == voice.pcm_for(line)  # the whole line, at 8 kHz
    assert not stale.exists()  # older than briefing_keep_s (one hour)
    assert sorted(p.name for p in briefings.iterdir()) == [f"{conn.call_id}.wav"]  # no partial file left


async def test_no_briefing_for_a_queue_without_it(tmp_path: Path) -> None:
    conn, briefings, voice = await handed_off(tmp_path, ["banking"])
    assert conn.hangups and not briefings.exists()
    assert not any("verified" in text for text in voice.requests)
