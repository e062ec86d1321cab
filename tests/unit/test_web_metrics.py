"""/metrics for Prometheus: what a worker's own calls, the inference pool, the call record store and the bus
report, read back through Prometheus' own text parser."""

from __future__ import annotations

import asyncio
import time
import uuid

from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fakes import FakeTokens, NoCalls
from voicebot.call.directory import MemoryCallDirectory
from voicebot.call.events import EventBus
from voicebot.events import CallEnded, CallStarted, HandedOff, TurnCompleted
from voicebot.store.repo import StoreHealth
from voicebot.types import HandoffPacket, Turn
from voicebot.web.app import Metrics, create_app
from voicebot.web.auth import store_lookup
from voicebot.web.context import WebContext


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _turn() -> Turn:
    turn = Turn(index=1, caller_text="my balance")
    for stage, at in (("speech_end", 10.0), ("asr_final", 10.2), ("nlu_done", 10.21), ("dialog_done", 10.25),
                      ("tts_first_audio", 10.4), ("first_frame_sent", 10.41)):
        turn.mark(stage, at)
    return turn


async def test_metrics_cover_calls_stages_handoff_reasons_pool_store_and_bus() -> None:
    bus = EventBus()
    health = StoreHealth("degraded", spooled=7, held=2, write_failures=3)

    async def store_health() -> StoreHealth:
        return health

    ctx = WebContext(calls=NoCalls(), directory=MemoryCallDirectory(), bus=bus, flow_names=lambda: ["banking"],
                     routable=lambda name: True, active_calls=lambda: 5,
                     principal_for=store_lookup(FakeTokens()), store_health=store_health,
                     inference_queued=lambda: 4)
    call_id = str(uuid.uuid4())
    packet = HandoffPacket(call_id=call_id, caller_id="+15550001", queue="cards", skill=None, priority=1,
                           reason="caller_request", intent_summary="", slots={}, transcript=(),
                           emotion_trail=(), created_at=time.time())
    with TestClient(create_app(ctx)) as client:
        await asyncio.sleep(0.05)  # the app's subscriptions are registered
        bus.publish(CallStarted(call_id, caller_id="+15550001", flow="banking", sample_rate=8000))
        bus.publish(TurnCompleted(call_id, turn=_turn()))
        bus.publish(HandedOff(call_id, packet=packet))
        bus.publish(CallEnded(call_id, outcome="handoff", reason="caller_request", at=time.time() - 1.0))
        for _ in range(100):
            await asyncio.sleep(0.01)
            samples = _samples(client.get("/metrics").text)
            if samples.get(("voicebot_calls_total", (("outcome", "handoff"),))) and \
                    samples.get(("voicebot_bus_lag_seconds_count", ())) == 4:
                break
    assert samples[("voicebot_calls_active", ())] == 5
    assert samples[("voicebot_calls_started_total", ())] == 1
    assert samples[("voicebot_calls_total", (("outcome", "handoff"),))] == 1
    assert samples[("voicebot_handoffs_total", (("queue", "cards"), ("reason", "caller_request")))] == 1
    for stage, seconds in {"asr": 0.2, "nlu": 0.01, "dialog": 0.04, "tts": 0.15, "send": 0.01,
                           "response": 0.41}.items():
        assert samples[("voicebot_turn_stage_seconds_count", (("stage", stage),))] == 1
        assert abs(samples[("voicebot_turn_stage_seconds_sum", (("stage", stage),))] - seconds) < 1e-6
    assert samples[("voicebot_inference_queued", ())] == 4
    assert samples[("voicebot_store_spooled_records", ())] == 7
    assert samples[("voicebot_store_held_records", ())] == 2
    assert samples[("voicebot_store_up", ())] == 0
    assert samples[("voicebot_store_write_failures_total", ())] == 3
    # every event was heard; the call's end was created a second before it was published
    assert samples[("voicebot_bus_lag_seconds_count", ())] == 4
    assert samples[("voicebot_bus_lag_seconds_sum", ())] >= 1.0
    # the call's end is not under 0.5 s (how fast the other three were heard depends on the machine: not asserted)
    assert samples[("voicebot_bus_lag_seconds_bucket", (("le", "0.5"),))] <= 3


async def test_a_turn_without_speech_times_no_stage() -> None:
    metrics = Metrics(lambda: 0)
    turn = Turn(index=0, input_kind="start")
    turn.mark("dialog_done", 1.0)
    turn.mark("first_frame_sent", 1.2)
    metrics.observe(TurnCompleted(str(uuid.uuid4()), turn=turn))
    samples = _samples(generate_latest(metrics.registry).decode())
    assert not any(name == "voicebot_turn_stage_seconds_count" for name, _ in samples)
