"""The call record store on PostgreSQL, through the same code as SQLite. Skipped when 127.0.0.1:5432 is
not reachable (failed instead with VOICEBOT_REQUIRE_SERVICES=1, as on CI). Each run uses its own schema and
drops it afterwards."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services import require_service
from record_api import RecordApi
from voicebot.store.repo import SqlCallStore
from voicebot.store.spool import Spool
from voicebot.types import HandoffPacket, Turn, now

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

pytestmark = pytest.mark.postgres


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import asyncpg

    name = f"voicebot_test_{uuid.uuid4().hex[:10]}"
    yield name
    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


def _turn(index: int) -> Turn:
    turn = Turn(index=index, caller_text=f"turn {index}", intent="card_lost", intent_confidence=0.8,
                entities={"amount": 12.5, "nan": float("nan")}, bot_text="Okay.", state="s")
    turn.mark("speech_end", 100.0)
    turn.mark("first_frame_sent", 100.75)
    return turn


async def test_lifecycle_on_postgres(schema: str, tmp_path: Path) -> None:
    store = await SqlCallStore.open(PG_URL, tmp_path / "spool", schema=schema)
    call_id = str(uuid.uuid4())
    await store.call_started(call_id, "+15550001", "banking", now())
    for i in range(3):
        await store.turn_completed(call_id, _turn(i))
    await store.event(call_id, "dtmf", {"digit": "5"})
    packet = HandoffPacket(call_id=call_id, caller_id="+15550001", queue="banking", skill="loans", priority=7,
                           reason="caller_request", intent_summary="loan", slots={},
                           transcript=(("caller", "a loan please"),), emotion_trail=(), created_at=time.time())
    await store.call_ended(call_id, "handoff", now(), packet)
    await store.close()

    store = await SqlCallStore.open(PG_URL, tmp_path / "spool", schema=schema)  # schema exists: reused
    call = await RecordApi(store).get_call(call_id)
    assert call is not None and call["outcome"] == "handoff" and call["flow"] == "banking"
    assert [t["caller_text"] for t in call["turns"]] == ["turn 0", "turn 1", "turn 2"]
    assert call["turns"][0]["entities"] == {"amount": 12.5, "nan": None}
    assert call["turns"][0]["response_ms"] == pytest.approx(750, abs=1)
    assert call["events"][0]["data"] == {"digit": "5"}
    assert (await RecordApi(store).handoff_for(call_id) or {}).get("priority") == 7
    assert [c["id"] for c in await RecordApi(store).list_calls(outcome="handoff")] == [call_id]
    await store.close()


async def test_spool_from_an_outage_replays_into_postgres(schema: str, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    down = await SqlCallStore.open("postgresql+asyncpg://postgres@127.0.0.1:1/test", spool)
    ids = [str(uuid.uuid4()) for _ in range(10)]
    for call_id in ids:
        await down.call_started(call_id, "1", "retail", now())
        await down.turn_completed(call_id, _turn(0))
        await down.call_ended(call_id, "completed", now(), None)
    await down.close()
    assert len(Spool(spool).take()[0]) == 30

    store = await SqlCallStore.open(PG_URL, spool, schema=schema)  # the database is "back"
    await asyncio.gather(*(store.turn_completed(call_id, _turn(1)) for call_id in ids))
    await store.flush()
    calls = await RecordApi(store).list_calls(limit=100)
    assert sorted(c["id"] for c in calls) == sorted(ids)
    assert all(c["turn_count"] == 2 and c["outcome"] == "completed" for c in calls)
    assert not Spool(spool).has_records()
    await store.close()
