import asyncio

from voicebot.call import events as ev


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
