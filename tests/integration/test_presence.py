"""Agent presence (telephony/presence.py) through the real AMI client against the AMI peer over TCP: what the
agent chooses reaches Asterisk's queue membership (QueueAdd with interface and penalty, QueuePause with the
reason, QueueRemove), and on call / wrap-up follow the PBX's queue events."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from ami_peers import logged_in_client, running_peer, until
from voicebot.caller.ami_peer import AmiPeer, PeerQueue
from voicebot.config import DesktopSettings
from voicebot.telephony.presence import AgentLine, Presence, PresenceChanged, PresenceDesk

ANN = AgentLine("ann", "PJSIP/1001", (("banking", 0), ("cards", 2)))


@pytest.fixture
async def peer() -> AsyncIterator[AmiPeer]:
    async with running_peer([PeerQueue("voicebot-banking"), PeerQueue("voicebot-cards")]) as peer:
        yield peer


@pytest.fixture
async def desk(peer: AmiPeer) -> AsyncIterator[PresenceDesk]:
    async with logged_in_client(peer) as client:
        desk = PresenceDesk(client, DesktopSettings(wrapup_s=5.0, queue_wrapup_s={"banking": 0.3}))
        desk.register(ANN)
        following = asyncio.create_task(desk.follow())
        yield desk
        following.cancel()
        await desk.close()


def _actions(peer: AmiPeer, name: str) -> list[dict[str, str]]:
    return [dict(action) for action in peer.actions if dict(action).get("Action") == name]


async def test_available_adds_the_agent_to_each_queue_with_its_penalty(peer: AmiPeer, desk: PresenceDesk) -> None:
    change = await desk.choose("ann", Presence.AVAILABLE)
    assert change.state is Presence.AVAILABLE and desk.state("ann").state is Presence.AVAILABLE
    added = {(a["Queue"], a["Interface"], a["Penalty"], a["Paused"]) for a in _actions(peer, "QueueAdd")}
    assert added == {("voicebot-banking", "PJSIP/1001", "0", "false"), ("voicebot-cards", "PJSIP/1001", "2", "false")}
    for queue in ("voicebot-banking", "voicebot-cards"):
        member = peer.queues[queue].members["PJSIP/1001"]
        assert not member.paused and member.name == "ann"
    assert peer.queues["voicebot-cards"].members["PJSIP/1001"].penalty == 2


async def test_a_break_pauses_with_its_reason_and_available_unpauses(peer: AmiPeer, desk: PresenceDesk) -> None:
    await desk.choose("ann", Presence.AVAILABLE)
    await desk.choose("ann", Presence.BREAK, "lunch")
    pause = _actions(peer, "QueuePause")[-1]
    assert (pause["Interface"], pause["Paused"], pause["Reason"]) == ("PJSIP/1001", "true", "lunch")
    for queue in peer.queues.values():
        assert queue.members["PJSIP/1001"].paused and queue.members["PJSIP/1001"].paused_reason == "lunch"
    assert desk.state("ann").reason == "lunch"
    await desk.choose("ann", Presence.AVAILABLE)
    assert _actions(peer, "QueuePause")[-1]["Paused"] == "false"
    assert not any(q.members["PJSIP/1001"].paused for q in peer.queues.values())
    assert len(_actions(peer, "QueueAdd")) == 2  # a member already: unpaused, not added again


async def test_offline_removes_the_agent_from_every_queue(peer: AmiPeer, desk: PresenceDesk) -> None:
    await desk.choose("ann", Presence.AVAILABLE)
    await desk.choose("ann", Presence.OFFLINE)
    removed = {(a["Queue"], a["Interface"]) for a in _actions(peer, "QueueRemove")}
    assert removed == {("voicebot-banking", "PJSIP/1001"), ("voicebot-cards", "PJSIP/1001")}
    assert all("PJSIP/1001" not in q.members for q in peer.queues.values())
    await desk.choose("ann", Presence.BREAK, "training")  # from offline: joins paused, with the reason
    assert all(q.members["PJSIP/1001"].paused_reason == "training" for q in peer.queues.values())


async def test_a_break_needs_a_reason_and_the_pbx_states_cannot_be_chosen(peer: AmiPeer, desk: PresenceDesk) -> None:
    with pytest.raises(ValueError, match="why"):
        await desk.choose("ann", Presence.BREAK, " ")
    for state in (Presence.ON_CALL, Presence.WRAP_UP):
        with pytest.raises(ValueError, match="follows the calls"):
            await desk.choose("ann", state)
    with pytest.raises(ValueError, match="not a queue member"):
        await desk.choose("bob", Presence.AVAILABLE)
    assert desk.state("ann").state is Presence.OFFLINE and not _actions(peer, "QueueAdd")


async def test_on_call_and_wrap_up_follow_the_queue_events(peer: AmiPeer, desk: PresenceDesk) -> None:
    changes = desk.changes()
    await desk.choose("ann", Presence.AVAILABLE)
    assert (await anext(changes)).state is Presence.AVAILABLE
    call_id = str(uuid.uuid4())
    peer.agent_event("AgentCalled", "voicebot-banking", "PJSIP/1001", {"VOICEBOT_UUID": call_id})
    peer.agent_event("AgentConnect", "voicebot-banking", "PJSIP/1001", {"VOICEBOT_UUID": call_id},
                     HoldTime=4, RingTime=1)
    on_call: PresenceChanged = await asyncio.wait_for(anext(changes), 2)
    assert (on_call.state, on_call.call_id, on_call.queue) == (Presence.ON_CALL, call_id, "banking")
    with pytest.raises(ValueError, match="finish the call"):
        await desk.choose("ann", Presence.BREAK, "lunch")
    peer.agent_event("AgentComplete", "voicebot-banking", "PJSIP/1001", {"VOICEBOT_UUID": call_id},
                     HoldTime=4, TalkTime=30, Reason="caller")
    wrap_up = await asyncio.wait_for(anext(changes), 2)
    assert (wrap_up.state, wrap_up.call_id) == (Presence.WRAP_UP, call_id)
    assert all(q.members["PJSIP/1001"].paused_reason == "wrap-up" for q in peer.queues.values())
    started = time.monotonic()
    back = await asyncio.wait_for(anext(changes), 2)  # banking's wrap-up time: 0.3 s
    assert back.state is Presence.AVAILABLE and time.monotonic() - started >= 0.2
    assert not any(q.members["PJSIP/1001"].paused for q in peer.queues.values())


async def test_a_member_in_a_call_outside_the_queues_is_on_call(peer: AmiPeer, desk: PresenceDesk) -> None:
    await desk.choose("ann", Presence.AVAILABLE)
    peer.emit("QueueMemberStatus", Queue="voicebot-cards", MemberName="ann", Interface="PJSIP/1001", InCall=1,
              Status=2, Paused=0)
    peer.emit("QueueMemberStatus", Queue="voicebot-cards", MemberName="zed", Interface="PJSIP/1009", InCall=1)
    await until(lambda: desk.state("ann").state is Presence.ON_CALL)
    assert desk.state("ann").call_id is None and desk.state("zed").state is Presence.OFFLINE
