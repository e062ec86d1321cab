"""The Redis event bus against the real Redis on 127.0.0.1:6379: two bus instances (two workers) hear each
other, every event type survives the JSON trip, and a bus whose connections are killed reconnects."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis

from event_samples import one_of_each
from services import require_service
from voicebot.app import open_bus
from voicebot.call.bus_redis import RedisEventBus
from voicebot.call.events import EventBus
from voicebot.config import EventsSettings
from voicebot.events import CALL_EVENTS, CallEvent, DtmfEvent

URL = "redis://127.0.0.1:6379/0"


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


async def test_the_setting_picks_the_bus(channel: str) -> None:
    memory = await open_bus(EventsSettings())
    assert isinstance(memory, EventBus)
    await memory.close()
    shared = await open_bus(EventsSettings(bus="redis", redis_url=URL, redis_channel=channel, queue_size=10))
    try:
        assert isinstance(shared, RedisEventBus) and shared.connected
    finally:
        await shared.close()
