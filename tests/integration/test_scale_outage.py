"""Nothing lost when PostgreSQL goes down mid-call: a real `voicebot serve` on a PostgreSQL server of the test's own
takes simulated calls over AudioSocket; the server is stopped (``pg_ctl stop -m fast``) once every call has
records in it, the calls go on and end, the worker spools, the server is started again, and then every call, turn
and event the worker published on the bus is in the database exactly once."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
from harness import CALLER_VOICE
from scale_support import (
    PrivatePostgres,
    Witness,
    api_token,
    assert_call_lines_named,
    assert_stored_exactly_once,
    asyncpg_dsn,
    json_log,
    start_worker,
    stored_records,
)
from services import require_service

from voicebot.caller.launcher import stop
from voicebot.caller.script import parse_script
from voicebot.caller.simulator import place_call

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CALLS = 3
SCRIPT = parse_script({"caller_id": "+15551230001", "flow": "banking", "steps": [
    {"wait_for_bot": {"timeout": 30}},
    {"say": "I want to check my balance"},
    {"wait_for_bot": {"timeout": 30}},
    {"pause": 3},  # the database is stopped about now
    {"dtmf": "12345678"},
    {"wait_for_bot": {"timeout": 30}},
    {"say": "yes"},
    {"wait_for_bot": {"timeout": 30}},
    {"dtmf": "4567"},
    {"wait_for_bot": {"timeout": 30, "quiet": 1.5}},
    "hangup",
]})


@pytest.fixture
def postgres():
    server = PrivatePostgres()
    server.start()
    yield server
    server.remove()


async def _turns_per_call(dsn: str, call_ids: list[str]) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT call_id, count(*) AS n FROM turns WHERE call_id = ANY($1) GROUP BY call_id",
                                call_ids)
    finally:
        await conn.close()
    return {row["call_id"]: row["n"] for row in rows}


async def _health(client: httpx.AsyncClient) -> dict:
    return (await client.get("/healthz")).json()["store"]


async def test_postgres_stopped_mid_call_loses_and_doubles_nothing(postgres: PrivatePostgres, tmp_path: Path) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    dsn = asyncpg_dsn(postgres.url)
    token = await api_token(postgres.url, "scale-outage")
    channel = f"voicebot-scale-test:{uuid.uuid4().hex}"
    async with Witness.on(channel) as witness:
        service = await start_worker(tmp_path / "worker", postgres.url, channel, "outage-worker")
        try:
            async with httpx.AsyncClient(base_url=service.web_url, timeout=10) as client:
                call_ids = [str(uuid.uuid4()) for _ in range(CALLS)]
                calls = [asyncio.create_task(place_call(
                    "127.0.0.1", service.audiosocket_port, SCRIPT, call_id=call_id, timeout=150,
                    web_url=service.web_url, announce=True, api_token=token, tts=CALLER_VOICE))
                    for call_id in call_ids]
                before: dict[str, int] = {}
                for _ in range(600):  # every call has records in the database: stop it mid-call
                    before = await _turns_per_call(dsn, call_ids)
                    if len(before) == CALLS or all(task.done() for task in calls):
                        break
                    await asyncio.sleep(0.1)
                assert len(before) == CALLS and not any(task.done() for task in calls), before
                await asyncio.to_thread(postgres.stop)
                results = await asyncio.gather(*calls)
                # the dialplan's token, accepted before the outage, still looks handoffs up; an unknown one waits
                during = await client.get(f"/api/calls/{call_ids[0]}/handoff",
                                          headers={"Authorization": f"Bearer {token}"})
                stranger = await client.get(f"/api/calls/{call_ids[0]}/handoff",
                                            headers={"Authorization": "Bearer vbt_not-a-token"})
                for _ in range(100):  # what the calls said after the stop waits in the spool
                    outage = await _health(client)
                    if outage["spooled_records"]:
                        break
                    await asyncio.sleep(0.1)
                metrics = (await client.get("/metrics")).text
                await asyncio.to_thread(postgres.start)
                for _ in range(300):
                    after = await _health(client)
                    if after["status"] == "ok" and not after["spooled_records"] and not after["held_records"]:
                        break
                    await asyncio.sleep(0.2)
        finally:
            code = await asyncio.to_thread(stop, service)
        expected = await witness.expected_records(set(call_ids))
    for result in results:
        assert result.ok, result.errors
        assert len(result.turns) == 4 and all(turn.latency_s is not None for turn in result.turns)  # answered
    assert outage["status"] == "degraded" and outage["spooled_records"] > 0, outage
    assert during.status_code == 200 and stranger.status_code == 503, (during.text, stranger.text)
    assert "voicebot_store_up 0.0" in metrics and "voicebot_store_write_failures_total 0.0" not in metrics
    assert after == {"status": "ok", "spooled_records": 0, "held_records": 0}, after
    assert code == 0
    assert not (tmp_path / "worker" / "spool" / "rejected.jsonl").exists()  # an outage is not a bad record
    stored = await stored_records(dsn, set(call_ids))
    assert_stored_exactly_once(expected, stored)
    assert all(len(stored[call_id].turns) > before[call_id] for call_id in call_ids)  # turns of the outage
    lines = json_log(service)
    assert assert_call_lines_named(lines, "outage-worker", set(call_ids)) >= CALLS
    assert any(line["event"].startswith("call records not written") for line in lines)
    assert any(line["event"] == "spooled call records replayed" for line in lines)
