"""The telephony protocols: CallChannel is exactly what the session uses of its connection, and the AMI
client reads Asterisk's own wire text (copied from Asterisk 22's manager.c / app_queue.c formats)."""

from __future__ import annotations

import ast
import asyncio
import inspect

import pytest

import voicebot.call.session as session_module
from voicebot.audio.player import Player
from voicebot.audio.server import CallConnection
from voicebot.engines import AudioOutput, CallChannel, PlaybackHandle, TelephonyControl, TelephonyError
from voicebot.telephony.ami import AmiClient, _Pending, decode, encode, queue_statuses
from voicebot.types import QueueEntry, QueueMember

QUEUE_STATUS_EVENTS = [
    b"Event: QueueParams\r\nQueue: voicebot-banking\r\nMax: 0\r\nStrategy: rrmemory\r\nCalls: 1\r\n"
    b"Holdtime: 12\r\n"
    b"TalkTime: 40\r\nCompleted: 3\r\nAbandoned: 1\r\nServiceLevel: 0\r\nServicelevelPerf: 0.0\r\n"
    b"ServicelevelPerf2: 0.0\r\nWeight: 0\r\nActionID: a-1\r\n",
    b"Event: QueueMember\r\nQueue: voicebot-banking\r\nName: Alice\r\nLocation: PJSIP/agent-101\r\n"
    b"StateInterface: PJSIP/agent-101\r\nMembership: dynamic\r\nPenalty: 2\r\nCallsTaken: 7\r\n"
    b"LastCall: 0\r\n"
    b"LastPause: 0\r\nLoginTime: 1733390000\r\nInCall: 1\r\nStatus: 2\r\nPaused: 1\r\nPausedReason: lunch\r\n"
    b"Wrapuptime: 0\r\nActionID: a-1\r\n",
    b"Event: QueueEntry\r\nQueue: voicebot-banking\r\nPosition: 1\r\nChannel: PJSIP/trunk-00000001\r\n"
    b"Uniqueid: 1733390000.12\r\nCallerIDNum: 5551234\r\nCallerIDName: unknown\r\n"
    b"ConnectedLineNum: unknown\r\n"
    b"ConnectedLineName: unknown\r\nWait: 33\r\nPriority: 3\r\nActionID: a-1\r\n",
    b"Event: QueueStatusComplete\r\nActionID: a-1\r\nEventList: Complete\r\nListItems: 3\r\n",
]


def _uses(tree: ast.AST, base: str) -> set[str]:
    """Attribute names read on ``base`` (a dotted name such as ``self.conn``) in ``tree``."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and ast.unparse(node.value) == base:
            names.add(node.attr)
    return names


def _members(protocol: type) -> set[str]:
    return {name for name in vars(protocol) if not name.startswith("_")} | set(
        getattr(protocol, "__annotations__", {})
    )


def test_call_channel_is_exactly_what_the_session_uses_of_its_connection() -> None:
    tree = ast.parse(inspect.getsource(session_module))
    used = _uses(tree, "self.conn") | _uses(tree, "connection")
    assert used == _members(CallChannel)
    assert _uses(tree, "self.conn.player") == _members(AudioOutput)
    assert _uses(tree, "playback") == _members(PlaybackHandle)


async def test_audiosocket_connection_and_player_have_every_member_of_the_protocols() -> None:
    player = Player(lambda _: None, 8000)
    connection = CallConnection("c-1", ("127.0.0.1", 1), player, None, 10)  # type: ignore[arg-type]
    assert all(hasattr(connection, name) for name in _members(CallChannel))
    assert all(hasattr(player, name) for name in _members(AudioOutput))
    playback = player.play(b"\0" * 320)
    assert all(hasattr(playback, name) for name in _members(PlaybackHandle))
    player.close()


def test_ami_client_implements_every_telephony_action() -> None:
    for name in _members(TelephonyControl):
        ours, theirs = (
            inspect.signature(getattr(AmiClient, name)),
            inspect.signature(getattr(TelephonyControl, name)),
        )
        assert list(ours.parameters) == list(theirs.parameters), name


def test_actions_are_written_as_asterisk_reads_them() -> None:
    wire = encode("Originate", "a-7", [("Channel", "Local/1@x"), ("Variable", "A=1"), ("Variable", "B=2")])
    assert wire == (
        b"Action: Originate\r\nActionID: a-7\r\nChannel: Local/1@x\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n"
    )


def test_a_line_break_in_a_value_cannot_smuggle_headers_or_actions() -> None:
    with pytest.raises(TelephonyError, match="line break"):
        encode("Setvar", "a-8", [("Variable", "NOTE"), ("Value", "hi\r\n\r\nAction: Originate")])


def test_messages_are_read_with_values_that_contain_colons() -> None:
    message = decode(
        b"Event: Newchannel\r\nChannel: PJSIP/a-1\r\nTimestamp: 1733390000.123456\r\n"
        b"Context: default\r\nData: sip:100@10.0.0.1:5060\r\n"
    )
    assert message == {
        "Event": "Newchannel",
        "Channel": "PJSIP/a-1",
        "Timestamp": "1733390000.123456",
        "Context": "default",
        "Data": "sip:100@10.0.0.1:5060",
    }


def test_queue_status_events_become_typed_queues() -> None:
    [queue] = queue_statuses(decode(block) for block in QUEUE_STATUS_EVENTS)
    assert (
        queue.queue,
        queue.strategy,
        queue.calls,
        queue.holdtime_s,
        queue.talktime_s,
        queue.completed,
        queue.abandoned,
    ) == ("voicebot-banking", "rrmemory", 1, 12, 40, 3, 1)
    assert queue.members == (
        QueueMember(
            interface="PJSIP/agent-101",
            name="Alice",
            state_interface="PJSIP/agent-101",
            dynamic=True,
            penalty=2,
            calls_taken=7,
            in_call=True,
            status=2,
            paused=True,
            paused_reason="lunch",
        ),
    )
    assert queue.entries == (
        QueueEntry(
            position=1,
            channel="PJSIP/trunk-00000001",
            unique_id="1733390000.12",
            caller_id="5551234",
            wait_s=33,
            priority=3,
        ),
    )


async def test_an_event_list_ends_with_its_complete_event_and_an_error_at_once() -> None:
    loop = asyncio.get_running_loop()
    listing = _Pending(None, loop.create_future())
    listing.add(
        decode(b"Response: Success\r\nActionID: a-1\r\nEventList: start\r\nMessage: Queue status will follow")
    )
    for block in QUEUE_STATUS_EVENTS[:-1]:
        listing.add(decode(block))
        assert not listing.future.done()
    listing.add(decode(QUEUE_STATUS_EVENTS[-1]))
    response, events = listing.future.result()
    assert response["Message"] == "Queue status will follow" and len(events) == 4

    refused = _Pending("OriginateResponse", loop.create_future())
    refused.add(decode(b"Response: Error\r\nActionID: a-2\r\nMessage: Channel not specified"))
    assert refused.future.result()[0]["Message"] == "Channel not specified"


async def test_an_async_originate_ends_with_its_originate_response_even_if_it_comes_first() -> None:
    pending = _Pending("OriginateResponse", asyncio.get_running_loop().create_future())
    pending.add(
        decode(
            b"Event: OriginateResponse\r\nActionID: a-3\r\nResponse: Failure\r\nChannel: PJSIP/x\r\n"
            b"Reason: 0\r\nUniqueid: <unknown>"
        )
    )
    assert not pending.future.done()  # the acknowledgement is still to come
    pending.add(decode(b"Response: Success\r\nActionID: a-3\r\nMessage: Originate successfully queued"))
    response, events = pending.future.result()
    assert response["Response"] == "Success" and events[0]["Response"] == "Failure"
