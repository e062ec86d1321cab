"""A slow backend never leaves the caller in dead air: after dialog.filler_after_s the bot says a short
filler, then the answer when it comes (real session, player on virtual time, fake engines)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fakes import FakeCallConnection, FakeCallStore, FakeNlu, FakeRecognizer, FakeSynthesizer, ScriptedDialog
from voicebot.call.events import EventBus
from voicebot.call.session import FILLER, CallServices, CallSession, DialogApp
from voicebot.config import Settings
from voicebot.runtime import InferencePool
from voicebot.speech.tts import Speaker
from voicebot.store.recorder import CallRecorder
from voicebot.types import EndCall, Say


class SlowDialog(ScriptedDialog):
    """Answers the call's start after ``delay_s`` (a webhook in flight)."""

    def __init__(self, replies: list, delay_s: float) -> None:
        super().__init__(replies)
        self.delay_s = delay_s

    async def step(self, state, event):
        await asyncio.sleep(self.delay_s)
        return await super().step(state, event)


async def _call(tmp_path: Path, delay_s: float, filler_after_s: float) -> list[str]:
    synthesizer = FakeSynthesizer(8000)
    bus, store = EventBus(), FakeCallStore()
    dialog = SlowDialog([(Say("Your balance is ten dollars."), EndCall("served"))], delay_s)
    settings = Settings(dialog={"filler_after_s": filler_after_s})
    services = CallServices(settings=settings, recognizer=FakeRecognizer(["unused"]), bus=bus,
                            speaker=Speaker(synthesizer, tmp_path / "cache", InferencePool(1)),
                            dialog_for=lambda _info: DialogApp("bank", "v1", dialog, FakeNlu({})))
    recorder = CallRecorder.start(bus, store)
    await asyncio.wait_for(CallSession(services, FakeCallConnection()).run(), 20)
    await bus.close()
    await recorder.close()
    return synthesizer.requests


async def test_a_slow_answer_is_preceded_by_a_filler(tmp_path: Path) -> None:
    assert await _call(tmp_path, delay_s=0.6, filler_after_s=0.2) == [FILLER, "Your balance is ten dollars."]


async def test_a_quick_answer_has_no_filler(tmp_path: Path) -> None:
    assert await _call(tmp_path, delay_s=0.0, filler_after_s=0.2) == ["Your balance is ten dollars."]
