"""Agent presence shared by the workers and kept across a restart: two desks (two workers, each with its own AMI
client to the AMI peer) on the real Redis bus and one database; a change made on one is seen by the other (its
desk, its pages' stream) without being mirrored to the PBX twice; a restarted worker restores each agent's state
from the database and makes Asterisk's queue membership agree, also after Asterisk itself restarted."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ami_peers import ami_settings, running_peer, until
from services import require_service
from voicebot.call.bus_redis import RedisEventBus
from voicebot.caller.ami_peer import AmiPeer, PeerMember, PeerQueue
from voicebot.config import DesktopSettings
from voicebot.store import database
from voicebot.store.presence import SqlPresenceStore
from voicebot.store.users import SqlUserStore
from voicebot.telephony.ami import AmiClient
from voicebot.telephony.presence import AgentLine, Presence, PresenceDesk
from voicebot.web.auth import Role
from voicebot.web.logins import add_user

REDIS = "redis://127.0.0.1:6379/0"
ANN = AgentLine("ann", "PJSIP/1001", (("banking", 0), ("cards", 2)))
BOB = AgentLine("bob", "PJSIP/1002", (("banking", 0),))
SETTINGS = DesktopSettings(wrapup_s=5.0)


@pytest.fixture
async def peer() -> AsyncIterator[AmiPeer]:
    async with running_peer([PeerQueue("voicebot-banking"), PeerQueue("voicebot-cards")]) as peer:
        yield peer


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlPresenceStore]:
    engine = database.connect(f"sqlite+aiosqlite:///{tmp_path / 'voicebot.db'}")
    await database.upgrade(engine)
    for name in ("ann", "bob"):
        await add_user(SqlUserStore(engine), name, Role.AGENT, "correct horse battery")
    yield SqlPresenceStore(engine)
    await engine.dispose()


@contextlib.asynccontextmanager
async def worker(peer: AmiPeer, store: SqlPresenceStore, channel: str) -> AsyncIterator[PresenceDesk]:
    """One worker's desk: its AMI client and Redis bus, following both, started as DesktopHub.run starts it."""
    client = AmiClient(ami_settings(peer.port, reconnect_min_s=0.05, reconnect_max_s=0.2))
    bus = await RedisEventBus.open(REDIS, channel)
    desk = PresenceDesk(client, SETTINGS, bus, store)
    for line in (ANN, BOB):
        desk.register(line)
    await desk.restore()
    tasks = [asyncio.create_task(desk.follow()), asyncio.create_task(desk.follow_bus())]
    await client.start()
    await asyncio.sleep(0.1)  # subscribed to the PBX and the bus; the login's FullyBooted has resynced
    try:
        yield desk
    finally:
        for task in tasks:
            task.cancel()
        await desk.close()
        await client.close()
        await bus.close()


def actions(peer: AmiPeer, name: str) -> list[dict[str, str]]:
    return [dict(a) for a in peer.actions if dict(a).get("Action") == name]


async def saved(store: SqlPresenceStore, states: set[tuple[str, str]], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while {(s.agent, s.state) for s in await store.load()} != states:
        assert time.monotonic() < deadline, f"not saved in time: {states}"
        await asyncio.sleep(0.01)


@pytest.fixture
def channel() -> str:
    require_service("Redis", "127.0.0.1", 6379)
    return f"voicebot-test:{uuid.uuid4().hex}"


async def test_a_change_on_one_worker_is_seen_by_the_other_and_mirrored_once(
        peer: AmiPeer, store: SqlPresenceStore, channel: str) -> None:
    async with worker(peer, store, channel) as first, worker(peer, store, channel) as second:
        seen = second.changes()
        await first.choose("ann", Presence.BREAK, "lunch")
        change = await asyncio.wait_for(anext(seen), 3)
        assert (change.agent, change.state, change.reason) == ("ann", Presence.BREAK, "lunch")
        assert second.state("ann").state is Presence.BREAK
        assert len(actions(peer, "QueueAdd")) == 2 and len(actions(peer, "QueuePause")) == 1  # first's only
        await second.choose("ann", Presence.AVAILABLE)  # the agent's page is served by the other worker now
        await until(lambda: first.state("ann").state is Presence.AVAILABLE)
        assert not any(q.members["PJSIP/1001"].paused for q in peer.queues.values())
        call_id = str(uuid.uuid4())
        peer.agent_event("AgentConnect", "voicebot-cards", "PJSIP/1001", {"VOICEBOT_UUID": call_id},
                         HoldTime=2, RingTime=1)  # each worker hears it from the PBX as well
        await until(lambda: first.state("ann").call_id == call_id and second.state("ann").call_id == call_id)
        await saved(store, {("ann", "on_call")})
    assert [s.call_id for s in await store.load()] == [call_id]


async def test_a_restarted_worker_restores_each_agents_state_and_resyncs_the_queues(
        peer: AmiPeer, store: SqlPresenceStore, channel: str) -> None:
    async with worker(peer, store, channel) as before:
        await before.choose("ann", Presence.BREAK, "training")
        await before.choose("bob", Presence.AVAILABLE)
        await before.choose("bob", Presence.OFFLINE)
        await before.choose("bob", Presence.AVAILABLE)
    for queue in peer.queues.values():  # meanwhile Asterisk restarted too: its dynamic members are gone
        queue.members.clear()
    peer.queues["voicebot-cards"].members["PJSIP/1009"] = PeerMember("PJSIP/1009")  # someone else's
    async with worker(peer, store, channel) as after:
        assert (after.state("ann").state, after.state("ann").reason) == (Presence.BREAK, "training")
        assert after.state("bob").state is Presence.AVAILABLE
        await until(lambda: "PJSIP/1001" in peer.queues["voicebot-cards"].members)
        for queue in ("voicebot-banking", "voicebot-cards"):
            ann = peer.queues[queue].members["PJSIP/1001"]
            assert ann.paused and ann.paused_reason == "training" and ann.name == "ann"
        assert peer.queues["voicebot-cards"].members["PJSIP/1001"].penalty == 2
        bob = peer.queues["voicebot-banking"].members["PJSIP/1002"]
        assert not bob.paused and "PJSIP/1002" not in peer.queues["voicebot-cards"].members
        assert "PJSIP/1009" in peer.queues["voicebot-cards"].members  # not ours: left alone
        for queue in peer.queues.values():  # Asterisk restarts under the running worker
            queue.members.clear()
        peer.drop()
        await until(lambda: "PJSIP/1002" in peer.queues["voicebot-banking"].members)  # its login resynced
        assert peer.queues["voicebot-banking"].members["PJSIP/1001"].paused_reason == "training"


async def test_an_agent_on_call_at_the_restart_stays_on_call_only_if_asterisk_says_so(
        peer: AmiPeer, store: SqlPresenceStore, channel: str) -> None:
    async with worker(peer, store, channel) as before:
        await before.choose("ann", Presence.AVAILABLE)
        await before.choose("bob", Presence.AVAILABLE)
        for interface, call in (("PJSIP/1001", "call-a"), ("PJSIP/1002", "call-b")):
            peer.agent_event("AgentConnect", "voicebot-banking", interface, {"VOICEBOT_UUID": call})
        await saved(store, {("ann", "on_call"), ("bob", "on_call")})
    peer.queues["voicebot-banking"].members["PJSIP/1001"].status = 2  # in use: ann still talks; bob's call ended
    async with worker(peer, store, channel) as after:
        await until(lambda: after.state("bob").state is Presence.AVAILABLE)
        assert (after.state("ann").state, after.state("ann").call_id) == (Presence.ON_CALL, "call-a")
    assert {(s.agent, s.state) for s in await store.load()} == {("ann", "on_call"), ("bob", "available")}
