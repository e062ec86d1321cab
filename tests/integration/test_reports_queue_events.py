"""Asterisk's queue events reach the report tables: the AMI peer (Asterisk's side, over TCP) sends what app_queue
sends, the real AMI client hears it, the presence desk follows the agent, and the queue recorder writes both;
the queue and agent reports then count them. Two workers hearing the same events keep them once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ami_peers import ami_settings, running_peer
from voicebot.caller.ami_peer import AmiPeer, PeerQueue
from voicebot.config import DesktopSettings, ReportSettings
from voicebot.reports.build import Reports
from voicebot.reports.recorder import QueueRecorder
from voicebot.store import database
from voicebot.store.models import AgentStateRow, QueueEventRow
from voicebot.store.reports import SqlReportStore
from voicebot.telephony.ami import AmiClient
from voicebot.telephony.presence import AgentLine, Presence, PresenceDesk



@pytest.fixture
async def peer() -> AsyncIterator[AmiPeer]:
    async with running_peer([PeerQueue("voicebot-banking")]) as peer:
        yield peer


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlReportStore]:
    engine = database.connect(f"sqlite+aiosqlite:///{tmp_path / 'voicebot.db'}")
    await database.upgrade(engine)
    yield SqlReportStore(engine)
    await engine.dispose()


async def _client(peer: AmiPeer) -> AmiClient:
    client = AmiClient(ami_settings(peer.port))
    await client.start()
    return client


async def _count(store: SqlReportStore, row: type) -> int:
    async with store._sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(row)) or 0)


async def _until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_queue_events_and_agent_states_land_in_the_store_once(peer: AmiPeer, store: SqlReportStore) -> None:
    first, second = await _client(peer), await _client(peer)  # two workers, one database
    desk = PresenceDesk(first, DesktopSettings(queue_wrapup_s={"banking": 0.3}))
    desk.register(AgentLine("ann", "PJSIP/1001", (("banking", 0),)))
    recorders = [QueueRecorder(first, desk, store, "voicebot-"), QueueRecorder(second, None, store, "voicebot-")]
    tasks = [asyncio.create_task(desk.follow()), *(asyncio.create_task(r.run()) for r in recorders)]
    call_id = str(uuid.uuid4())
    try:
        await desk.choose("ann", Presence.AVAILABLE)
        peer.emit("QueueCallerJoin", Channel="PJSIP/trunk-0001", Uniqueid="100.1", CallerIDNum="+15550001",
                  Queue="voicebot-banking", Position=1, Count=1, ChanVariable=f"VOICEBOT_UUID={call_id}")
        peer.emit("QueueCallerJoin", Channel="PJSIP/trunk-0002", Uniqueid="100.2", CallerIDNum="+15550002",
                  Queue="voicebot-banking", Position=2, Count=2)
        peer.agent_event("AgentConnect", "voicebot-banking", "PJSIP/1001", {"VOICEBOT_UUID": call_id},
                         HoldTime=12, RingTime=3)
        peer.emit("QueueCallerAbandon", Channel="PJSIP/trunk-0002", Uniqueid="100.2", CallerIDNum="+15550002",
                  Queue="voicebot-banking", Position=1, OriginalPosition=2, HoldTime=40)
        await _until(lambda: _state_is(desk, Presence.ON_CALL))
        peer.agent_event("AgentComplete", "voicebot-banking", "PJSIP/1001", {"VOICEBOT_UUID": call_id},
                         HoldTime=12, TalkTime=95, Reason="caller")
        await _until(lambda: _state_is(desk, Presence.AVAILABLE), 3.0)  # after the 0.3 s wrap-up
        await _until(lambda: _has(store, QueueEventRow, 5))
        await _until(lambda: _has(store, AgentStateRow, 4))  # available, on call, wrap-up, available
        await asyncio.sleep(0.2)  # the second worker's copies, if any, would land by now
        assert await _count(store, QueueEventRow) == 5 and await _count(store, AgentStateRow) == 4
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await desk.close()
        await first.close()
        await second.close()

    now = datetime.now(UTC)
    reports = Reports(store, ReportSettings(service_level_s=20))
    queues, agents = await reports.build(["queues", "agents"], reports.period(now - timedelta(hours=1), now))
    (banking,) = queues.records()
    assert (banking["queue"], banking["offered"], banking["answered"], banking["abandoned"]) == ("banking", 2, 1, 1)
    assert banking["service_level"] == 0.5 and banking["asa_s"] == 12 and banking["avg_abandon_s"] == 40
    assert banking["avg_talk_s"] == 95 and 0.2 <= banking["avg_wrap_s"] <= 2.0
    (ann,) = agents.records()
    assert (ann["agent"], ann["answered"], ann["service_level"]) == ("ann", 1, 1.0)
    events = await store.queue_events(reports.period(now - timedelta(hours=1), now))
    connect = next(e for e in events if e.event == "AgentConnect")
    assert connect.call_id == call_id and connect.agent == "ann" and connect.interface == "PJSIP/1001"
    join = next(e for e in events if e.event == "QueueCallerJoin" and e.unique_id == "100.1")
    assert join.call_id == call_id and join.position == 1


async def _state_is(desk: PresenceDesk, state: Presence) -> bool:
    return desk.state("ann").state is state


async def _has(store: SqlReportStore, row: type, n: int) -> bool:
    return await _count(store, row) >= n
