"""The typed read side on a real SQLite file, and the web API serving its records through a WebContext."""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import UTC
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from voicebot.app import web_context
from voicebot.call.directory import MemoryCallDirectory
from voicebot.call.events import EventBus
from voicebot.config import Settings
from voicebot.store.queries import SqlCallQueries
from voicebot.store.records import RECORD_VERSION, CallRecord, EventRecord, TurnRecord
from voicebot.store.repo import SqlCallStore
from voicebot.types import HandoffPacket, Turn, now
from voicebot.web.app import create_app
from voicebot.web.auth import store_lookup
from voicebot.web.context import WebContext

from fakes import FakeTokens, stand_in_service, store_ok


async def _store_with_calls(tmp_path: Path) -> tuple[SqlCallStore, str, str]:
    store = await SqlCallStore.open(f"sqlite+aiosqlite:///{tmp_path / 'voicebot.db'}", tmp_path / "spool")
    handed, served = str(uuid.uuid4()), str(uuid.uuid4())
    await store.call_started(handed, "+15550001", "banking", now())
    for index in range(2):
        turn = Turn(index=index, caller_text=f"turn {index}", intent="card_lost", intent_confidence=0.8,
                    entities={"account": "12345678"}, bot_text="Okay.", state="ask")
        turn.mark("speech_end", 10.0)
        turn.mark("first_frame_sent", 10.4)
        await store.turn_completed(handed, turn)
    await store.event(handed, "barge_in", {"turn": 1})
    await store.call_ended(handed, "handoff", now(), HandoffPacket(
        call_id=handed, caller_id="+15550001", queue="cards", skill="cards", priority=5, reason="caller_request",
        intent_summary="card_lost", slots={}, transcript=(("caller", "turn 0"),), emotion_trail=(),
        created_at=time.time()))
    await store.call_started(served, "+15550002", "retail", now())
    await store.call_ended(served, "completed", now(), None)
    await store.flush()
    return store, handed, served


async def test_records_are_typed_frozen_and_versioned(tmp_path: Path) -> None:
    store, handed, served = await _store_with_calls(tmp_path)
    queries = SqlCallQueries(store.engine)
    call = await queries.get_call(handed)
    listed = await queries.list_calls()
    handoff = await queries.handoff_for(handed)
    assert await queries.handoff_for(served) is None and await queries.get_call("nope") is None
    await store.close()

    assert isinstance(call, CallRecord) and call.schema_version == RECORD_VERSION
    assert (call.outcome, call.queue, call.turn_count) == ("handoff", "cards", 2)
    assert call.started_at.tzinfo == UTC and call.ended_at is not None and call.ended_at >= call.started_at
    assert all(isinstance(t, TurnRecord) for t in call.turns) and [t.index for t in call.turns] == [0, 1]
    assert call.turns[0].response_ms == pytest.approx(400, abs=1) and call.turns[0].entities == {"account": "12345678"}
    assert call.events == (EventRecord(at=call.events[0].at, kind="barge_in", data={"turn": 1}),)
    with pytest.raises(dataclasses.FrozenInstanceError):
        call.outcome = "completed"  # type: ignore[misc]
    assert {c.id: (c.turn_count, c.turns) for c in listed} == {handed: (2, ()), served: (0, ())}
    assert handoff is not None and (handoff["queue"], handoff["priority"]) == ("cards", 5)


def _context(queries: SqlCallQueries, **mounts) -> WebContext:
    return WebContext(calls=queries, directory=MemoryCallDirectory(), bus=EventBus(), flow_names=lambda: ["banking"],
                      routable=lambda name: True, active_calls=lambda: 3, mounts=mounts,
                      principal_for=store_lookup(FakeTokens()), store_health=store_ok)


async def test_the_web_api_serves_the_records_as_json(tmp_path: Path) -> None:
    store, handed, served = await _store_with_calls(tmp_path)
    queries = SqlCallQueries(store.engine)
    expected_call, expected_list = (await queries.get_call(handed)).to_json(), await queries.list_calls()
    with TestClient(create_app(_context(queries)), headers=FakeTokens.HEADERS) as client:
        health = client.get("/healthz").json()
        listed = client.get("/api/calls").json()
        one = client.get(f"/api/calls/{handed}").json()
        missing = client.get(f"/api/calls/{uuid.uuid4()}")
        answers = [client.get(f"/api/calls/{call_id}/handoff").text for call_id in (handed, served, uuid.uuid4())]
        demo = client.get("/demo/health")
    await store.close()

    assert health == {"status": "ok", "active_calls": 3, "flows": ["banking"],
                      "store": {"status": "ok", "spooled_records": 0, "held_records": 0}}
    assert listed == [c.summary_json() for c in expected_list] and {c["id"] for c in listed} == {handed, served}
    assert {c["id"]: c["turn_count"] for c in listed} == {handed: 2, served: 0}
    assert one == expected_call and one["schema_version"] == RECORD_VERSION and "turn_count" not in one
    assert [t["caller_text"] for t in one["turns"]] == ["turn 0", "turn 1"] and one["events"][0]["kind"] == "barge_in"
    assert one["started_at"].endswith("+00:00") and one["handoff"]["transcript"] == [["caller", "turn 0"]]
    assert missing.status_code == 404
    assert answers == ["queue=cards&skill=cards&priority=5&reason=caller_request", "queue=", ""]
    assert demo.status_code == 404  # nothing mounted


@pytest.mark.parametrize("enabled", [True, False])
def test_the_demo_back_office_is_mounted_only_when_configured(tmp_path: Path, enabled: bool) -> None:
    settings = Settings(web={"demo_backend": enabled, "demo_db": tmp_path / "demo.db"})
    service = stand_in_service(settings, ["banking"], flows=SimpleNamespace(names=lambda: []))
    with TestClient(create_app(web_context(service))) as client:
        health = client.get("/demo/health")
    assert (health.status_code, (tmp_path / "demo.db").exists()) == ((200, True) if enabled else (404, False))
