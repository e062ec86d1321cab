"""The AMI client (telephony/ami.py) against the AMI peer (caller/ami_peer.py) over real TCP sockets: login,
every action, the QueueStatus event list, unsolicited events, a dropped connection and reconnect with
back-off, logoff."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from ami_peers import SECRET, USER, ami_settings, logged_in_client, running_peer, until
from voicebot.caller.ami_peer import AmiPeer, PeerEntry, PeerMember, PeerQueue
from voicebot.config import CHECKOUT, AmiSettings
from voicebot.engines import TelephonyError
from voicebot.telephony.ami import AmiClient
from voicebot.types import OriginateRequest, QueueEntry, QueueMember, TelephonyEvent

AGENT = "PJSIP/agent-101"


def _queues() -> list[PeerQueue]:
    banking = PeerQueue(
        "voicebot-banking",
        members={
            "Local/agent@voicebot-demo-agent/n": PeerMember(
                "Local/agent@voicebot-demo-agent/n", "Demo banking agent", "Local/agent@voicebot-demo-agent/n"
            )
        },
    )
    banking.entries.append(PeerEntry("PJSIP/trunk-00000001", "1733390000.12", "5551234", priority=3))
    return [banking, PeerQueue("voicebot-cards")]


RECONNECT = {"reconnect_min_s": 0.1, "reconnect_max_s": 0.4}


def _settings(port: int, **changes: object) -> AmiSettings:
    return ami_settings(port, **(RECONNECT | changes))


@pytest.fixture
async def peer() -> AsyncIterator[AmiPeer]:
    async with running_peer(_queues()) as peer:
        yield peer


@pytest.fixture
async def client(peer: AmiPeer) -> AsyncIterator[AmiClient]:
    async with logged_in_client(peer, **RECONNECT) as client:
        yield client


async def _next(events: AsyncIterator[TelephonyEvent], name: str) -> TelephonyEvent:
    async def find() -> TelephonyEvent:
        async for event in events:
            if event.name == name:
                return event
        raise AssertionError("event stream ended")

    return await asyncio.wait_for(find(), 2.0)


async def test_login_with_good_credentials(peer: AmiPeer, client: AmiClient) -> None:
    assert client.connected and client.connections == 1
    login = dict(peer.actions[0])
    assert login["Action"] == "Login" and login["Username"] == USER and login["Secret"] == SECRET
    assert login["ActionID"]


async def test_bad_credentials_are_refused_and_not_retried(peer: AmiPeer) -> None:
    client = AmiClient(_settings(peer.port, secret=SecretStr("wrong")))
    with pytest.raises(TelephonyError, match="Authentication failed"):
        await client.start()
    await asyncio.sleep(0.3)  # longer than the back-off: a retry would have connected again
    assert len(peer.connections) == 1 and not client.connected
    with pytest.raises(TelephonyError, match="Authentication failed"):
        await client.queue_status()
    await client.close()


async def test_actions_carry_unique_action_ids_echoed_in_their_responses(
    peer: AmiPeer, client: AmiClient
) -> None:
    await asyncio.gather(*(client.queue_status() for _ in range(5)), client.set_variable("", "G", "1"))
    ids = [dict(action)["ActionID"] for action in peer.actions]
    assert len(ids) == 7 and len(set(ids)) == 7


async def test_queue_status_event_list_becomes_queue_status_dataclasses(client: AmiClient) -> None:
    queues = {q.queue: q for q in await client.queue_status()}
    assert set(queues) == {"voicebot-banking", "voicebot-cards"}
    banking = queues["voicebot-banking"]
    assert banking.strategy == "rrmemory" and banking.calls == 1
    assert banking.members == (
        QueueMember(
            interface="Local/agent@voicebot-demo-agent/n",
            name="Demo banking agent",
            state_interface="Local/agent@voicebot-demo-agent/n",
            dynamic=False,
            penalty=0,
            calls_taken=0,
            in_call=False,
            status=1,
            paused=False,
            paused_reason="",
        ),
    )
    [entry] = banking.entries
    assert entry == QueueEntry(
        position=1,
        channel="PJSIP/trunk-00000001",
        unique_id="1733390000.12",
        caller_id="5551234",
        wait_s=entry.wait_s,
        priority=3,
    )
    assert queues["voicebot-cards"].members == () and queues["voicebot-cards"].entries == ()
    [only] = await client.queue_status("voicebot-cards")
    assert only.queue == "voicebot-cards"


async def test_add_pause_and_remove_a_queue_member(peer: AmiPeer, client: AmiClient) -> None:
    events = client.events()
    await client.add_queue_member("voicebot-cards", AGENT, name="Alice", penalty=2)
    added = await _next(events, "QueueMemberAdded")
    assert added.fields["Interface"] == AGENT and added.fields["MemberName"] == "Alice"
    with pytest.raises(TelephonyError, match="Already there"):
        await client.add_queue_member("voicebot-cards", AGENT)
    with pytest.raises(TelephonyError, match="No such queue"):
        await client.add_queue_member("voicebot-nope", AGENT)

    await client.pause_queue_member(AGENT, True, "voicebot-cards", reason="lunch")
    assert (await _next(events, "QueueMemberPause")).fields["PausedReason"] == "lunch"
    [cards] = await client.queue_status("voicebot-cards")
    [alice] = cards.members
    assert (alice.name, alice.penalty, alice.dynamic, alice.paused, alice.paused_reason) == (
        "Alice",
        2,
        True,
        True,
        "lunch",
    )
    await client.pause_queue_member(AGENT, False)  # every queue
    assert not peer.queues["voicebot-cards"].members[AGENT].paused
    with pytest.raises(TelephonyError, match="Interface not found"):
        await client.pause_queue_member("PJSIP/nobody", True)

    await client.remove_queue_member("voicebot-cards", AGENT)
    assert (await _next(events, "QueueMemberRemoved")).fields["Interface"] == AGENT
    with pytest.raises(TelephonyError, match="Not there"):
        await client.remove_queue_member("voicebot-cards", AGENT)
    with pytest.raises(TelephonyError, match="Member not dynamic"):  # configured in queues.conf
        await client.remove_queue_member("voicebot-banking", "Local/agent@voicebot-demo-agent/n")


async def test_originate_then_set_variable_and_redirect_the_new_channel(
    peer: AmiPeer, client: AmiClient
) -> None:
    result = await client.originate(
        OriginateRequest(
            "Local/100@voicebot-test/n",
            "voicebot-test",
            "100",
            variables={"VOICEBOT_FLOW": "banking"},
            channel_id="call-1",
        )
    )
    assert result.success and result.reason == 4 and result.unique_id == "call-1"
    assert result.channel.startswith("Local/100@voicebot-test-") and result.channel.endswith(";1")
    assert peer.channels[result.channel] == {"VOICEBOT_FLOW": "banking"}

    await client.set_variable(result.channel, "VOICEBOT_QUEUE", "cards")
    assert await client.get_variable(result.channel, "VOICEBOT_QUEUE") == "cards"
    assert await client.get_variable(result.channel, "VOICEBOT_FLOW") == "banking"
    await client.redirect(result.channel, "voicebot-after", "s")
    redirect = dict(peer.actions[-1])
    assert (redirect["Action"], redirect["Context"], redirect["Exten"], redirect["Priority"]) == (
        "Redirect",
        "voicebot-after",
        "s",
        "1",
    )

    with pytest.raises(TelephonyError, match="No such channel"):
        await client.set_variable("Local/nothing-00000000;1", "X", "1")
    with pytest.raises(TelephonyError, match="No such channel"):
        await client.redirect("Local/nothing-00000000;1", "voicebot-after", "s")


async def test_an_originate_that_fails_says_so(client: AmiClient) -> None:
    result = await client.originate(OriginateRequest("PJSIP/nobody", "voicebot-test", "100"))
    assert not result.success and result.reason == 0


async def test_unsolicited_events_reach_every_consumer(peer: AmiPeer, client: AmiClient) -> None:
    async def two(events: AsyncIterator[TelephonyEvent]) -> list[TelephonyEvent]:
        return [await anext(events), await anext(events)]

    waiting = [asyncio.ensure_future(asyncio.wait_for(two(client.events()), 2.0)) for _ in range(2)]
    await asyncio.sleep(0.01)  # both streams subscribed
    peer.emit("QueueMemberStatus", Queue="voicebot-banking", Interface=AGENT, Status=6)
    peer.emit("AgentConnect", Queue="voicebot-banking", Interface=AGENT, HoldTime=4, Channel="PJSIP/trunk-1")
    for status, connect in await asyncio.gather(*waiting):
        assert (status.name, status.fields["Status"]) == ("QueueMemberStatus", "6")
        assert (connect.name, connect.fields["HoldTime"], connect.fields["Channel"]) == (
            "AgentConnect",
            "4",
            "PJSIP/trunk-1",
        )


async def test_a_dropped_connection_fails_the_action_in_flight_and_reconnects(
    peer: AmiPeer, client: AmiClient
) -> None:
    in_flight = asyncio.ensure_future(client.queue_status())
    await asyncio.sleep(0)  # written, not yet answered
    peer.drop()
    with pytest.raises(TelephonyError, match="connection lost"):
        await in_flight
    dropped = time.monotonic()
    await until(lambda: client.connections == 2)
    assert peer.connections[-1] - dropped >= 0.1 * 0.8 - 0.01  # reconnect_min_s, less its jitter
    assert len(await client.queue_status()) == 2


async def test_reconnect_backs_off_while_the_peer_keeps_failing_then_recovers(
    peer: AmiPeer, client: AmiClient
) -> None:
    port = peer.port
    await peer.stop()  # Asterisk restarting: the port accepts connections and closes them
    attempts: list[float] = []

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        attempts.append(time.monotonic())
        writer.close()

    dead = await asyncio.start_server(refuse, "127.0.0.1", port)
    await until(lambda: len(attempts) >= 5, timeout=5.0)
    dead.close()
    await dead.wait_closed()
    gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    assert gaps[1] > gaps[0] * 1.4  # doubling (jitter takes at most 20 %)
    assert all(gap < 0.4 + 0.15 for gap in gaps)  # capped at reconnect_max_s
    assert not client.connected
    with pytest.raises(TelephonyError, match="not connected"):
        await client.set_variable("", "X", "1")  # waits action_timeout_s for the connection, then fails

    await peer.start()  # Asterisk is back on the same port
    await until(lambda: client.connected, timeout=3.0)
    assert len(await client.queue_status()) == 2


async def test_an_idle_connection_is_pinged(peer: AmiPeer) -> None:
    client = AmiClient(_settings(peer.port, ping_interval_s=0.05))
    await client.start()
    await until(lambda: any(dict(action)["Action"] == "Ping" for action in peer.actions))
    await client.close()


async def test_logoff_says_goodbye_and_does_not_reconnect(peer: AmiPeer) -> None:
    client = AmiClient(_settings(peer.port))
    await client.start()
    await client.close()
    assert dict(peer.actions[-1])["Action"] == "Logoff"
    await asyncio.sleep(0.3)
    assert len(peer.connections) == 1 and not client.connected


async def test_the_service_builds_the_client_only_when_enabled_and_never_waits_for_asterisk(
    peer: AmiPeer,
) -> None:
    from voicebot.app import open_telephony

    assert await open_telephony(AmiSettings()) is None  # off by default
    client = await open_telephony(_settings(peer.port))
    assert client is not None
    await until(lambda: client.connected)
    await client.close()

    port = peer.port
    await peer.stop()  # Asterisk down at start-up: the service starts anyway, the client keeps trying
    absent = await open_telephony(_settings(port))
    assert absent is not None and not absent.connected
    await peer.start()
    await until(lambda: absent.connected, timeout=3.0)
    await absent.close()


def _asterisk_ami() -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", 5038)) == 0


@pytest.mark.skipif(
    not _asterisk_ami(), reason="no Asterisk AMI on 127.0.0.1:5038 (asterisk/README.md sets one up)"
)
def test_check_ami_passes_against_the_real_asterisk() -> None:
    """The same client against a real Asterisk set up as asterisk/README.md says (user and queues from the
    checkout's asterisk/manager.conf and queues.conf)."""
    done = subprocess.run(
        [sys.executable, str(CHECKOUT / "asterisk" / "check_ami.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAIL" not in done.stdout and done.stdout.count("PASS") >= 15
