import asyncio
import json

import pytest

from event_samples import one_of_each
from voicebot import events as ev_types
from voicebot.call import events as ev
from voicebot.events import BargeIn, NoiseDiscarded, PartialTranscript, SpeechStarted, Utterance


async def test_bus_fans_out_to_every_subscriber_in_order():
    bus = ev.EventBus()
    first, second = bus.subscribe(), bus.subscribe()
    first_next = asyncio.ensure_future(anext(first))
    second_next = asyncio.ensure_future(anext(second))
    await asyncio.sleep(0)
    bus.publish(ev.DtmfEvent("c1", digit="5"))
    assert (await first_next).digit == "5"
    assert (await second_next).digit == "5"


async def test_slow_subscriber_loses_oldest_events_not_the_publisher():
    bus = ev.EventBus(queue_size=2)
    stream = bus.subscribe()
    pending = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    for digit in "123":
        bus.publish(ev.DtmfEvent("c1", digit=digit))
    # the queue held two: "1" was dropped to make room for "3"
    assert (await pending).digit == "2"
    assert (await anext(stream)).digit == "3"


def test_event_kind_and_data():
    event = ev.TranscriptEvent("c1", text="hi", confidence=0.9, is_final=True)
    assert event.kind == "transcript"
    assert event.data() == {"text": "hi", "confidence": 0.9, "is_final": True}
    assert ev.CallStarted("c1", caller_id="x", flow="banking", sample_rate=8000).kind == "call_started"


def test_every_event_type_round_trips_through_json():
    events = one_of_each("c1")
    assert {e.kind for e in events} == set(ev_types.CALL_EVENTS)  # a new event type needs a sample
    for event in events:
        wire = json.loads(json.dumps(event.to_json()))
        assert wire["type"] == event.kind and wire["call_id"] == "c1" and wire["at"] > 1e9  # wall clock
        assert ev_types.from_json(wire) == event


def test_unknown_or_malformed_events_are_refused():
    with pytest.raises(ValueError, match="unknown call event type"):
        ev_types.from_json({"type": "no_such_event", "call_id": "c1", "at": 1.0})
    with pytest.raises(ValueError):
        ev_types.from_json({"type": "dtmf", "call_id": "c1"})  # no digit


def test_listener_and_call_events_share_their_types():
    assert BargeIn.type == ev.BargeInEvent.type == "barge_in"
    assert SpeechStarted.type == ev.SpeechStartedEvent.type == "speech_started"
    assert Utterance.type == ev.SpeechEndedEvent.type == "speech_ended"
    assert PartialTranscript.type == ev.TranscriptEvent.type == "transcript"
    assert NoiseDiscarded.type == ev.NoiseDiscardedEvent.type == "noise_discarded"


async def test_lossless_subscription_keeps_everything_a_plain_one_drops():
    bus = ev.EventBus(queue_size=2, backlog_warning=4)
    plain, lossless = bus.subscribe(), bus.subscribe(lossless=True)
    for digit in "0123456789":
        bus.publish(ev.DtmfEvent("c1", digit=digit))
    await bus.close()
    assert [e.digit async for e in lossless] == list("0123456789")
    assert [e.digit async for e in plain] == ["9"]  # the end took the place of the oldest


async def test_a_cancelled_wait_loses_nothing_and_close_ends_the_stream():
    bus = ev.EventBus()
    stream = bus.subscribe()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(stream), 0.01)
    bus.publish(ev.DtmfEvent("c1", digit="1"))
    assert (await anext(stream)).digit == "1"
    await bus.close()
    assert [e async for e in stream] == []
    assert [e async for e in bus.subscribe()] == []  # subscribing to a closed bus ends at once


def test_a_dropped_subscription_is_forgotten():
    bus = ev.EventBus()
    bus.subscribe()
    kept = bus.subscribe()
    assert len(bus._subscriptions) == 1 and kept in bus._subscriptions
