"""The Redis event bus against the real Redis on 127.0.0.1:6379: two bus instances (two workers) hear each
other, every event type survives the JSON trip, and a bus whose connections are killed reconnects."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis

from services import require_service
from voicebot.call.bus_redis import RedisEventBus
from voicebot.events import (
    CALL_EVENTS,
    BargeInEvent,
    CallEnded,
    CallEvent,
    CallFault,
    CallStarted,
    CallState,
    CallStateChanged,
    DtmfEvent,
    HandedOff,
    NoiseDiscardedEvent,
    PlaybackFinished,
    PlaybackStarted,
    SpeechEndedEvent,
    SpeechStartedEvent,
    TranscriptEvent,
    TurnCompleted,
)
from voicebot.types import HandoffPacket, Turn

URL = "redis://127.0.0.1:6379/0"


def one_of_each(call_id: str) -> list[CallEvent]:
    packet = HandoffPacket(call_id, "+15551234", "cards", "cards", 2, "caller_request", "lost card",
                           {"account": "1234"}, (("caller", "my card is lost"), ("bot", "Putting you through.")),
                           (("frustrated", 0.7),), 1_790_000_000.5)
    turn = Turn(index=1, marks={"speech_end": 10.0, "first_frame_sent": 10.4}, caller_text="lost card",
                asr_confidence=0.9, intent="lost_card", intent_confidence=0.8, entities={"account": "1234"},
                emotion="frustrated", emotion_score=0.7, bot_text="Sorry to hear that.", decision="intent",
                state="lost_card", barged_in=True)
    return [
        CallStarted(call_id, caller_id="+15551234", flow="banking", sample_rate=8000),
        CallStateChanged(call_id, state=CallState.SPEAKING, previous=CallState.RINGING_IN),
        SpeechStartedEvent(call_id),
        SpeechEndedEvent(call_id, duration_s=1.25),
        TranscriptEvent(call_id, text="lost card", confidence=0.9, is_final=True),
        NoiseDiscardedEvent(call_id, reason="backchannel"),
        DtmfEvent(call_id, digit="#"),
        PlaybackStarted(call_id, text="Sorry to hear that.", utterance_id="u1"),
        PlaybackFinished(call_id, text="Sorry to hear that.", completed=False, utterance_id="u1"),
        BargeInEvent(call_id, text="lost card", utterance_id="u1"),
        TurnCompleted(call_id, turn=turn),
        HandedOff(call_id, packet=packet),
        CallFault(call_id, stage="tts", error="RuntimeError('x')"),
        CallEnded(call_id, outcome="handoff", reason="caller_request"),
    ]


@pytest.fixture
async def channel() -> str:
    require_service("Redis", "127.0.0.1", 6379)
    return f"voicebot-test:{uuid.uuid4().hex}"


async def take(events: AsyncIterator[CallEvent], count: int, timeout: float = 5.0) -> list[CallEvent]:
    async def collect() -> list[CallEvent]:
        return [await anext(events) for _ in range(count)]

    return await asyncio.wait_for(collect(), timeout)


async def test_an_event_published_by_one_worker_reaches_the_subscribers_of_another(channel: str) -> None:
    first = await RedisEventBus.open(URL, channel)
    second = await RedisEventBus.open(URL, channel)
    try:
        assert first.connected and second.connected
        heard_by_second, heard_by_first = second.subscribe(), first.subscribe()
        recorded_by_first, recorded_by_second = first.subscribe(lossless=True), second.subscribe(lossless=True)
        event = DtmfEvent("call-1", digit="5")
        first.publish(event)
        assert await take(heard_by_second, 1) == [event]
        assert await take(heard_by_first, 1) == [event]  # its own events come back through Redis too
        # the recorder's lossless subscription is this worker's own events, in process
        assert await take(recorded_by_first, 1) == [event]
        second.publish(DtmfEvent("call-2", digit="7"))
        assert [e.call_id for e in await take(recorded_by_second, 1)] == ["call-2"]
        assert [e.call_id for e in await take(heard_by_first, 1)] == ["call-2"]
    finally:
        await first.close()
        await second.close()


async def test_every_event_type_survives_the_json_trip(channel: str) -> None:
    events = one_of_each("call-json")
    assert {e.kind for e in events} == set(CALL_EVENTS)  # a new event type needs a sample here
    sender = await RedisEventBus.open(URL, channel)
    receiver = await RedisEventBus.open(URL, channel)
    try:
        heard = receiver.subscribe()
        for event in events:
            sender.publish(event)
        assert await take(heard, len(events)) == events
    finally:
        await sender.close()
        await receiver.close()


async def test_a_bus_whose_connections_are_killed_reconnects(channel: str) -> None:
    sender = await RedisEventBus.open(URL, channel, reconnect_min_s=0.05)
    receiver = await RedisEventBus.open(URL, channel, reconnect_min_s=0.05)
    admin = aioredis.from_url(URL)
    try:
        heard = receiver.subscribe()
        sender.publish(DtmfEvent("before", digit="1"))
        assert [e.call_id for e in await take(heard, 1)] == ["before"]

        killed = await admin.client_kill_filter(_type="pubsub", skipme=True)
        killed += await admin.client_kill_filter(_type="normal", skipme=True)
        assert killed >= 2  # the receivers' subscriptions and the senders' connections

        async def heard_again() -> CallEvent:
            while True:  # pub/sub keeps nothing: publish until the receiver is subscribed again
                sender.publish(DtmfEvent("after", digit="2"))
                try:
                    return await asyncio.wait_for(anext(heard), 0.2)
                except TimeoutError:
                    continue

        event = await asyncio.wait_for(heard_again(), 10)
        assert event.call_id == "after" and receiver.connected
    finally:
        await admin.aclose()
        await sender.close()
        await receiver.close()


async def test_closing_ends_the_subscriptions(channel: str) -> None:
    bus = await RedisEventBus.open(URL, channel)
    heard, recorded = bus.subscribe(), bus.subscribe(lossless=True)
    bus.publish(DtmfEvent("call", digit="9"))
    assert [e.digit for e in await take(heard, 1)] == ["9"]
    await bus.close()
    assert [e.digit async for e in recorded] == ["9"]  # what was queued, then the end
    assert [e async for e in heard] == []
