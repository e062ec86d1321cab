"""The handoff packet as the session builds it from the real dialog state's variables: the tier the dialplan
announced raises the priority, and a flow that verified the caller says so (fake engines)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fakes import FakeCallConnection, FakeCallStore, FakeNlu, FakeRecognizer, FakeSynthesizer, ScriptedDialog
from voicebot.call.events import EventBus
from voicebot.call.session import CallServices, CallSession, DialogApp
from voicebot.config import Settings
from voicebot.runtime import InferencePool
from voicebot.speech.tts import Speaker
from voicebot.store.recorder import CallRecorder
from voicebot.types import Handoff, Say


class VerifyingDialog(ScriptedDialog):
    """A gold customer (announced by the dialplan) whom the flow verifies before handing off."""

    def start(self, call_id: str, caller_id: str = "", variables=None):
        state = super().start(call_id, caller_id, {"tier": "gold"})
        state.vars["verified"] = True
        return state


async def test_the_packet_carries_the_announced_tier_and_the_flows_verification(tmp_path: Path) -> None:
    bus, store = EventBus(), FakeCallStore()
    dialog = VerifyingDialog([(Say("Let me put you through."), Handoff(reason="caller_request", queue="cards",
                                                                      priority=1))])
    services = CallServices(settings=Settings(), recognizer=FakeRecognizer(["unused"]), bus=bus,
                            speaker=Speaker(FakeSynthesizer(8000), tmp_path / "cache", InferencePool(1)),
                            dialog_for=lambda _info: DialogApp("bank", "v1", dialog, FakeNlu({})))
    recorder = CallRecorder.start(bus, store)
    conn = FakeCallConnection()
    await asyncio.wait_for(CallSession(services, conn).run(), 20)
    await bus.close()
    await recorder.close()
    packet = store.calls[conn.call_id]["handoff"]
    assert packet.priority == 1 + 2  # gold: +2 (call/handoff.py TIER_PRIORITY)
    assert packet.verified is True
