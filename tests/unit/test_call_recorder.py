"""The call recorder: the store's subscriber on the bus keeps every record however slow it is, and decides
what is kept."""

from __future__ import annotations

import asyncio

from event_samples import one_of_each
from fakes import FakeCallStore
from voicebot.call.events import EventBus
from voicebot.events import CallEnded, CallStarted, HandedOff, TranscriptEvent, TurnCompleted
from voicebot.store.recorder import CallRecorder
from voicebot.types import Turn


class SlowStore(FakeCallStore):
    """A store that takes a while over every turn (a busy database behind a full queue)."""

    async def turn_completed(self, call_id: str, turn) -> None:
        await asyncio.sleep(0.001)
        await super().turn_completed(call_id, turn)


async def test_records_of_a_busy_bus_are_all_kept_while_a_slow_subscriber_loses_events():
    bus = EventBus(queue_size=5)
    store = SlowStore()
    recorder = CallRecorder.start(bus, store)
    slow_subscriber = bus.subscribe()  # never reads: it is behind from the sixth event on
    packet = next(e.packet for e in one_of_each("c1") if isinstance(e, HandedOff))
    bus.publish(CallStarted("c1", caller_id="555", flow="banking", sample_rate=8000))
    for index in range(300):
        bus.publish(TurnCompleted("c1", turn=Turn(index=index, marks={"speech_end": float(index)})))
    bus.publish(HandedOff("c1", packet=packet))
    bus.publish(CallEnded("c1", outcome="handoff", reason="caller_request"))
    await bus.close()
    await recorder.close()

    call = store.calls["c1"]
    assert [t.index for t in call["turns"]] == list(range(300))
    assert call["outcome"] == "handoff" and call["handoff"] == packet and call["flow"] == "banking"
    assert len([e async for e in slow_subscriber]) == 4  # it lost the rest (the end took a place)


async def test_the_recorder_decides_what_is_kept():
    bus = EventBus()
    store = FakeCallStore()
    recorder = CallRecorder.start(bus, store)
    for event in one_of_each("c1"):
        bus.publish(event)
    bus.publish(TranscriptEvent("c1", text="my bal", confidence=0.5, is_final=False))
    await bus.close()
    await recorder.close()

    call = store.calls["c1"]
    assert [kind for kind, _ in call["events"]] == ["transcript", "dtmf", "playback_started", "barge_in",
                                                   "handed_off", "call_fault", "survey_answered"]
    assert dict(call["events"])["barge_in"] == {"text": "lost card", "utterance_id": "u1"}
    assert [t.caller_text for t in call["turns"]] == ["lost card"]
    assert call["outcome"] == "handoff" and call["handoff"].queue == "cards"


async def test_a_record_the_store_refuses_does_not_stop_the_others():
    class FlakyStore(FakeCallStore):
        async def event(self, call_id: str, kind: str, data: dict) -> None:
            raise RuntimeError("bad record")

    bus = EventBus()
    store = FlakyStore()
    recorder = CallRecorder.start(bus, store)
    bus.publish(CallStarted("c1", caller_id="", flow="banking", sample_rate=8000))
    bus.publish(TranscriptEvent("c1", text="hi", confidence=0.9, is_final=True))
    bus.publish(CallEnded("c1", outcome="completed", reason="served"))
    await bus.close()
    await recorder.close()
    assert store.calls["c1"]["outcome"] == "completed"
