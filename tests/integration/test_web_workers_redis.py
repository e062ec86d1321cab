"""Two workers on one Redis bus, against the real Redis: each worker's /metrics counts its own calls only
(Prometheus sums the workers), while the dialplan's handoff lookup is answered by any worker."""

from __future__ import annotations

import asyncio
import time
import uuid

from fastapi.testclient import TestClient

from fakes import FakeTokens, NoCalls, store_ok
from services import require_service
from voicebot.call.bus_redis import RedisEventBus
from voicebot.call.directory import MemoryCallDirectory
from voicebot.events import CallEnded, CallStarted, HandedOff
from voicebot.types import HandoffPacket
from voicebot.web.app import create_app
from voicebot.web.auth import store_lookup
from voicebot.web.context import WebContext

URL = "redis://127.0.0.1:6379/0"


def _packet(call_id: str) -> HandoffPacket:
    return HandoffPacket(call_id=call_id, caller_id="+15550001", queue="cards", skill="cards", priority=3,
                         reason="card_not_found", intent_summary="", slots={}, transcript=(), emotion_trail=(),
                         created_at=time.time())


async def test_metrics_count_own_calls_and_any_worker_answers_the_dialplan() -> None:
    require_service("Redis", "127.0.0.1", 6379)
    channel = f"voicebot-test:{uuid.uuid4().hex}"
    mine, other = await RedisEventBus.open(URL, channel), await RedisEventBus.open(URL, channel)
    ctx = WebContext(calls=NoCalls(), directory=MemoryCallDirectory(), bus=mine, flow_names=lambda: ["banking"],
                     routable=lambda name: True, active_calls=lambda: 0,
                     principal_for=store_lookup(FakeTokens()), store_health=store_ok)
    try:
        with TestClient(create_app(ctx), headers=FakeTokens.HEADERS) as client:
            await asyncio.sleep(0.2)  # the app's subscriptions are registered
            own, elsewhere = str(uuid.uuid4()), str(uuid.uuid4())
            mine.publish(CallEnded(own, outcome="completed", reason="served"))
            other.publish(CallStarted(elsewhere, caller_id="+15550001", flow="banking", sample_rate=8000))
            other.publish(HandedOff(elsewhere, packet=_packet(elsewhere)))
            other.publish(CallEnded(elsewhere, outcome="handoff", reason="caller_request"))
            answer = ""
            for _ in range(50):
                answer = client.get(f"/api/calls/{elsewhere}/handoff").text
                if answer:
                    break
                await asyncio.sleep(0.05)
            metrics = client.get("/metrics").text
    finally:
        await mine.close()
        await other.close()
    assert answer.startswith("queue=cards&skill=cards&priority=3")  # the other worker's call, looked up here
    assert 'voicebot_calls_total{outcome="completed"} 1.0' in metrics
    assert 'outcome="handoff"' not in metrics  # the other worker's call is counted by that worker only
