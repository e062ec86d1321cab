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


async def test_the_bundles_routing_plan_picks_the_skill_and_queue_of_the_callers_request(tmp_path: Path,
                                                                                         shared_dir: Path) -> None:
    import wave

    from fakes import FakeNlu
    from voicebot.call.routing import QueuePlan, RoutingPlan
    from voicebot.types import AudioFrame, Expectation, Listen, now

    with wave.open(str(shared_dir / "data/asr/fsdd_digits_dev/audio/3_theo_7.wav")) as recording:
        speech = recording.readframes(recording.getnframes())
    bus, store = EventBus(), FakeCallStore()
    dialog = ScriptedDialog([(Say("How can I help?"), Listen(Expectation(no_input_s=5))),
                             (Say("Let me put you through."), Handoff(reason="caller_request", queue="banking"))])
    plan = RoutingPlan(skills={"check_balance": "balances"}, queues={"balances": QueuePlan("balances")})
    app = DialogApp("bank", "v1", dialog, FakeNlu({"check_balance": ["three"]}), routing=plan)
    services = CallServices(settings=Settings(), recognizer=FakeRecognizer(["three"]), bus=bus,
                            speaker=Speaker(FakeSynthesizer(8000), tmp_path / "cache", InferencePool(1)),
                            dialog_for=lambda _info: app)
    recorder = CallRecorder.start(bus, store)
    conn = FakeCallConnection()
    audio = b"\0" * 3200 + speech + b"\0" * 32000
    start = now()
    for i in range(len(audio) // 320):
        conn.feed(AudioFrame(audio[i * 320:(i + 1) * 320], 8000, start + i * 0.02))
    await asyncio.wait_for(CallSession(services, conn).run(), 20)
    await bus.close()
    await recorder.close()
    packet = store.calls[conn.call_id]["handoff"]
    assert (packet.queue, packet.skill) == ("balances", "balances")
