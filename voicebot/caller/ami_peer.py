"""An AMI peer: plays Asterisk's side of the Asterisk Manager Interface over real TCP, for the telephony
tests and for trying voicebot's call and queue control without a PBX.

It answers as Asterisk 22 does (wording and fields taken from ``main/manager.c`` and ``apps/app_queue.c``):
the ``Asterisk Call Manager/11.0.0`` banner; ``Login`` (``Authentication accepted`` then ``FullyBooted``, or
``Authentication failed`` and the connection closed); ``Permission denied`` before login; every response
echoing the action's ``ActionID``; ``QueueStatus`` as an event list (``EventList: start``, ``QueueParams`` /
``QueueMember`` / ``QueueEntry``, ``QueueStatusComplete`` with ``EventList: Complete`` and ``ListItems``);
``QueueAdd`` / ``QueueRemove`` / ``QueuePause`` with their ``QueueMember*`` events; ``Originate`` (``Async``:
acknowledged, then an ``OriginateResponse`` event; ``Local/`` channels answer, other technologies fail);
``Redirect``, ``Setvar`` / ``Getvar`` on the channels it originated; ``Ping``; ``Logoff`` (``Goodbye``).
A test adds unsolicited events with :meth:`AmiPeer.emit` (queue members' calls, with both channels' snapshots:
:meth:`AmiPeer.agent_event`) and drops every connection with :meth:`AmiPeer.drop`.

    python -m voicebot.caller.ami_peer --port 5038 --user voicebot-control:secret --queue voicebot-banking
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

VERSION = "11.0.0"  # AMI_VERSION of Asterisk 22
PRIVILEGE = {
    "QueueMemberAdded": "agent,all",
    "QueueMemberRemoved": "agent,all",
    "QueueMemberPause": "agent,all",
    "QueueMemberStatus": "agent,all",
    "AgentConnect": "agent,all",
    "AgentCalled": "agent,all",
    "AgentComplete": "agent,all",
    "AgentRingNoAnswer": "agent,all",
    "QueueCallerJoin": "agent,all",
    "QueueCallerLeave": "agent,all",
    "FullyBooted": "system,all",
    "OriginateResponse": "call,all",
    "Newchannel": "call,all",
    "Hangup": "call,all",
}


@dataclass
class PeerMember:
    interface: str
    name: str = ""
    state_interface: str = ""
    dynamic: bool = False
    penalty: int = 0
    paused: bool = False
    paused_reason: str = ""
    status: int = 1  # AST_DEVICE_NOT_INUSE
    calls_taken: int = 0


@dataclass
class PeerEntry:
    channel: str
    unique_id: str
    caller_id_num: str = "unknown"
    caller_id_name: str = "unknown"
    priority: int = 0
    joined_at: float = field(default_factory=time.time)


@dataclass
class PeerQueue:
    name: str
    strategy: str = "rrmemory"
    members: dict[str, PeerMember] = field(default_factory=dict)
    entries: list[PeerEntry] = field(default_factory=list)
    holdtime_s: int = 0  # the averages app_queue keeps (QueueParams Holdtime / TalkTime)
    talktime_s: int = 0


Fields = list[tuple[str, str]]


def parse(block: bytes) -> Fields:
    """An AMI message as its ``Key: Value`` pairs, in order (keys may repeat, e.g. ``Variable``)."""
    pairs = []
    for line in block.decode(errors="replace").split("\r\n"):
        key, sep, value = line.partition(":")
        if sep:
            pairs.append((key.strip(), value.strip()))
    return pairs


class _Session:
    """One manager connection."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.username: str | None = None
        self.events = True

    def send(self, lines: Iterable[tuple[str, object]]) -> None:
        if not self.writer.is_closing():
            self.writer.write("".join(f"{k}: {v}\r\n" for k, v in lines).encode() + b"\r\n")


class AmiPeer:
    """A manager interface on ``host``:``port`` (0: any free port, see :attr:`port`)."""

    def __init__(
        self,
        users: dict[str, str],
        queues: Iterable[PeerQueue] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        auth_failure_delay_s: float = 0.0,
    ) -> None:
        self.users = users
        self.queues = {q.name: q for q in queues}
        self.host, self._port = host, port
        self.auth_failure_delay_s = auth_failure_delay_s  # Asterisk sleeps 1 s before "Authentication failed"
        self.channels: dict[str, dict[str, str]] = {}  # originated channel -> its variables
        self.globals: dict[str, str] = {}
        self.connections: list[float] = []  # monotonic time of every accepted connection
        self.actions: list[Fields] = []  # every action received, in order
        self._sessions: set[_Session] = set()
        self._server: asyncio.Server | None = None
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self._port)
        self._port = self.port  # a restart after stop() listens on the same port

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
            self.drop()
            await self._server.wait_closed()
            self._server = None

    def drop(self) -> None:
        """Drop every connection, as a crashed or restarted Asterisk does (no Goodbye)."""
        for session in list(self._sessions):
            session.writer.transport.abort()
        self._sessions.clear()

    def emit(self, event: str, **fields: object) -> None:
        """An unsolicited event to every logged-in session that asked for events."""
        lines: list[tuple[str, object]] = [
            ("Event", event),
            ("Privilege", PRIVILEGE.get(event, "call,all")),
            ("Timestamp", f"{time.time():.6f}"),
        ]
        lines += list(fields.items())
        for session in list(self._sessions):
            if session.username is not None and session.events:
                session.send(lines)

    def agent_event(self, event: str, queue: str, interface: str, variables: dict[str, str] | None = None,
                    **fields: object) -> None:
        """An ``AgentCalled`` / ``AgentConnect`` / ``AgentComplete`` / ``AgentRingNoAnswer`` as app_queue.c sends
        it: the caller's channel snapshot, the member's (prefix ``Dest``), then ``Queue``, ``Interface``,
        ``MemberName`` and the event's own fields (``HoldTime``, ``RingTime``, ``TalkTime``, ``Reason``).
        ``variables`` are manager.conf's ``channelvars`` of both channels (``ChanVariable: NAME=value``)."""
        member = self.queues[queue].members.get(interface) if queue in self.queues else None
        stamp = f"{time.time():.0f}.{next(self._ids)}"
        snapshot: list[tuple[str, object]] = []
        for prefix, channel in (("", f"Local/caller-{stamp};2"), ("Dest", f"{interface}-{next(self._ids):08x}")):
            snapshot += [(f"{prefix}Channel", channel), (f"{prefix}ChannelState", 6),
                         (f"{prefix}ChannelStateDesc", "Up"), (f"{prefix}CallerIDNum", "<unknown>"),
                         (f"{prefix}CallerIDName", "<unknown>"), (f"{prefix}ConnectedLineNum", "<unknown>"),
                         (f"{prefix}ConnectedLineName", "<unknown>"), (f"{prefix}Language", "en"),
                         (f"{prefix}AccountCode", ""), (f"{prefix}Context", "voicebot-after"),
                         (f"{prefix}Exten", "s"), (f"{prefix}Priority", 1), (f"{prefix}Uniqueid", stamp),
                         (f"{prefix}Linkedid", stamp)]
            snapshot += [(f"{prefix}ChanVariable", f"{name}={value}") for name, value in (variables or {}).items()]
        lines: list[tuple[str, object]] = [("Event", event), ("Privilege", PRIVILEGE.get(event, "agent,all")),
                                           ("Timestamp", f"{time.time():.6f}"), *snapshot, ("Queue", queue),
                                           ("Interface", interface),
                                           ("MemberName", member.name if member else interface),
                                           *fields.items()]
        for session in list(self._sessions):
            if session.username is not None and session.events:
                session.send(lines)

    # ------------------------------------------------------------------ connection

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(writer)
        self._sessions.add(session)
        self.connections.append(time.monotonic())
        writer.write(f"Asterisk Call Manager/{VERSION}\r\n".encode())
        try:
            while not writer.is_closing():
                message = parse(await reader.readuntil(b"\r\n\r\n"))
                if not await self._handle(session, message):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._sessions.discard(session)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _handle(self, session: _Session, message: Fields) -> bool:
        """Answer one action; False ends the connection."""
        self.actions.append(message)
        m = {k.lower(): v for k, v in reversed(message)}  # first value wins, as astman_get_header
        action = m.get("action", "").lower()
        reply = _Reply(session, m.get("actionid", ""))
        if not action:
            reply.error("Missing action in request")
        elif session.username is None and action not in ("login", "logoff", "challenge"):
            reply.error("Permission denied")
        elif action == "login":
            return await self._login(session, reply, m)
        elif action == "logoff":
            reply.send("Goodbye", "Thanks for all the fish.")
            return False
        elif action == "ping":
            reply.ack(None, [("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")])
        elif handler := getattr(self, f"_action_{action}", None):
            handler(reply, m, message)
        else:
            reply.error(
                f"Invalid/unknown command: {m.get('action')}. Use Action: ListCommands to show available "
                "commands."
            )
        return True

    async def _login(self, session: _Session, reply: _Reply, m: dict[str, str]) -> bool:
        if session.username is not None:
            reply.ack("Already authenticated")
            return True
        username = m.get("username", "")
        if username not in self.users or self.users[username] != m.get("secret", ""):
            await asyncio.sleep(self.auth_failure_delay_s)
            reply.error("Authentication failed")
            return False
        session.username = username
        session.events = m.get("events", "on").lower() not in ("off", "no", "false")
        reply.ack("Authentication accepted")
        if session.events:
            session.send(
                [
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Uptime", 1),
                    ("LastReload", 1),
                    ("Status", "Fully Booted"),
                ]
            )
        return True

    # ------------------------------------------------------------------ queues (app_queue.c)

    def _action_queuestatus(self, reply: _Reply, m: dict[str, str], _: Fields) -> None:
        queue_filter, member_filter = m.get("queue", ""), m.get("member", "")
        reply.ack("Queue status will follow", list_flag="start")
        items = 0
        for q in self.queues.values():
            if queue_filter and q.name.lower() != queue_filter.lower():
                continue
            reply.event(
                "QueueParams",
                [
                    ("Queue", q.name),
                    ("Max", 0),
                    ("Strategy", q.strategy),
                    ("Calls", len(q.entries)),
                    ("Holdtime", q.holdtime_s),
                    ("TalkTime", q.talktime_s),
                    ("Completed", 0),
                    ("Abandoned", 0),
                    ("ServiceLevel", 0),
                    ("ServicelevelPerf", "0.0"),
                    ("ServicelevelPerf2", "0.0"),
                    ("Weight", 0),
                ],
            )
            items += 1
            for mem in q.members.values():
                if member_filter and member_filter not in (mem.interface, mem.name):
                    continue
                reply.event("QueueMember", [("Queue", q.name), *_member_status(mem)])
                items += 1
            for position, entry in enumerate(q.entries, 1):
                reply.event(
                    "QueueEntry",
                    [
                        ("Queue", q.name),
                        ("Position", position),
                        ("Channel", entry.channel),
                        ("Uniqueid", entry.unique_id),
                        ("CallerIDNum", entry.caller_id_num),
                        ("CallerIDName", entry.caller_id_name),
                        ("ConnectedLineNum", "unknown"),
                        ("ConnectedLineName", "unknown"),
                        ("Wait", int(time.time() - entry.joined_at)),
                        ("Priority", entry.priority),
                    ],
                )
                items += 1
        reply.event("QueueStatusComplete", [("EventList", "Complete"), ("ListItems", items)])

    def _action_queueadd(self, reply: _Reply, m: dict[str, str], _: Fields) -> None:
        name, interface = m.get("queue", ""), m.get("interface", "")
        if not name:
            return reply.error("'Queue' not specified.")
        if not interface:
            return reply.error("'Interface' not specified.")
        q = self.queues.get(name)
        if q is None:
            return reply.error("Unable to add interface to queue: No such queue")
        if interface in q.members:
            return reply.error("Unable to add interface: Already there")
        member = PeerMember(
            interface,
            m.get("membername") or interface,
            m.get("stateinterface") or interface,
            dynamic=True,
            penalty=_penalty(m.get("penalty", "")),
            paused=_true(m.get("paused", "")),
            paused_reason=m.get("reason", ""),
            status=4 if interface.startswith("PJSIP/") else 1,
        )
        q.members[interface] = member
        reply.ack("Added interface to queue")
        self.emit("QueueMemberAdded", Queue=q.name, **_member_event(member))

    def _action_queueremove(self, reply: _Reply, m: dict[str, str], _: Fields) -> None:
        name, interface = m.get("queue", ""), m.get("interface", "")
        if not name or not interface:
            return reply.error("Need 'Queue' and 'Interface' parameters.")
        q = self.queues.get(name)
        if q is None:
            return reply.error("Unable to remove interface from queue: No such queue")
        member = q.members.get(interface)
        if member is None:
            return reply.error("Unable to remove interface: Not there")
        if not member.dynamic:
            return reply.error("Member not dynamic")
        del q.members[interface]
        reply.ack("Removed interface from queue")
        self.emit("QueueMemberRemoved", Queue=q.name, **_member_event(member))

    def _action_queuepause(self, reply: _Reply, m: dict[str, str], _: Fields) -> None:
        interface, paused_s, name = m.get("interface", ""), m.get("paused", ""), m.get("queue", "")
        if not interface or not paused_s:
            return reply.error("Need 'Interface' and 'Paused' parameters.")
        paused = _true(paused_s)
        found = [
            (q, q.members[interface])
            for q in self.queues.values()
            if (not name or q.name == name) and interface in q.members
        ]
        if not found:
            return reply.error("Interface not found")
        for _, member in found:
            member.paused, member.paused_reason = paused, m.get("reason", "") if paused else ""
        reply.ack("Interface paused successfully" if paused else "Interface unpaused successfully")
        for q, member in found:
            self.emit("QueueMemberPause", Queue=q.name, **_member_event(member))

    # ------------------------------------------------------------------ channels (manager.c)

    def _action_originate(self, reply: _Reply, m: dict[str, str], message: Fields) -> None:
        channel = m.get("channel", "")
        if not channel:
            return reply.error("Channel not specified")
        if m.get("exten") and not (m.get("context") and m.get("priority")):
            return reply.error("Originate with 'Exten' requires 'Context' and 'Priority'")
        variables = dict(v.split("=", 1) for k, v in message if k.lower() == "variable" and "=" in v)
        if _true(m.get("async", "")):
            reply.ack("Originate successfully queued")
            task = asyncio.create_task(self._originated(reply.action_id, channel, m, variables))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif self._dial(channel, m, variables)[0]:
            reply.ack("Originate successfully queued")
        else:
            reply.error("Originate failed")

    def _dial(self, channel: str, m: dict[str, str], variables: dict[str, str]) -> tuple[bool, str, str]:
        """Local channels answer; other technologies have no such endpoint here."""
        unique_id = m.get("channelid") or f"{time.time():.0f}.{next(self._ids)}"
        if not channel.startswith("Local/"):
            return False, channel, unique_id
        name = f"{channel.removesuffix('/n')}-{next(self._ids):08x};1"
        self.channels[name] = dict(variables)
        return True, name, unique_id

    async def _originated(
        self, action_id: str, channel: str, m: dict[str, str], variables: dict[str, str]
    ) -> None:
        await asyncio.sleep(0.01)  # the dial happens after the acknowledgement, on its own thread
        answered, name, unique_id = self._dial(channel, m, variables)
        fields: dict[str, object] = {"ActionID": action_id} if action_id else {}
        self.emit(
            "OriginateResponse",
            **fields,
            Response="Success" if answered else "Failure",
            Channel=name,
            Context=m.get("context", ""),
            Exten=m.get("exten", ""),
            Reason=4 if answered else 0,
            Uniqueid=unique_id,
            CallerIDNum=m.get("callerid") or "<unknown>",
            CallerIDName="<unknown>",
        )

    def _action_redirect(self, reply: _Reply, m: dict[str, str], _: Fields) -> None:
        for header, problem in (
            ("channel", "Channel not specified"),
            ("context", "Context not specified"),
            ("exten", "Exten not specified"),
            ("priority", "Priority not specified"),
        ):
            if not m.get(header):
                return reply.error(problem)
        if m["channel"] not in self.channels:
            return reply.error("No such channel")
        reply.ack("Redirect successful")

    def _action_setvar(self, reply: _Reply, m: dict[str, str], _: Fields) -> None:
        if not m.get("variable"):
            return reply.error("No variable specified")
        channel = m.get("channel", "")
        if channel and channel not in self.channels:
            return reply.error("No such channel")
        (self.channels[channel] if channel else self.globals)[m["variable"]] = m.get("value", "")
        reply.ack("Variable Set")

    def _action_getvar(self, reply: _Reply, m: dict[str, str], _: Fields) -> None:
        if not m.get("variable"):
            return reply.error("No variable specified")
        channel = m.get("channel", "")
        if channel and channel not in self.channels:
            return reply.error("No such channel")
        value = (self.channels[channel] if channel else self.globals).get(m["variable"], "")
        reply.ack(None, [("Variable", m["variable"]), ("Value", value)])


class _Reply:
    """Responses to one action, echoing its ActionID (``astman_send_response_full``)."""

    def __init__(self, session: _Session, action_id: str) -> None:
        self.session, self.action_id = session, action_id

    def _id(self) -> list[tuple[str, object]]:
        return [("ActionID", self.action_id)] if self.action_id else []

    def send(
        self,
        response: str,
        message: str | None,
        extra: Iterable[tuple[str, object]] = (),
        list_flag: str | None = None,
    ) -> None:
        lines: list[tuple[str, object]] = [("Response", response), *self._id()]
        if list_flag:
            lines.append(("EventList", list_flag))
        if message is not None:
            lines.append(("Message", message))
        self.session.send([*lines, *extra])

    def ack(
        self, message: str | None, extra: Iterable[tuple[str, object]] = (), list_flag: str | None = None
    ) -> None:
        self.send("Success", message, extra, list_flag)

    def error(self, message: str) -> None:
        self.send("Error", message)

    def event(self, name: str, lines: Iterable[tuple[str, object]]) -> None:
        items = list(lines)
        head = [("Event", name)]
        if name.endswith("Complete"):  # astman_send_list_complete_start: the ActionID precedes EventList
            self.session.send([*head, *self._id(), *items])
        else:
            self.session.send([*head, *items, *self._id()])


def _member_status(member: PeerMember) -> list[tuple[str, object]]:
    """A member in a ``QueueStatus`` list (``Name`` / ``Location``)."""
    return [("Name", member.name), ("Location", member.interface), *_member_common(member)]


def _member_event(member: PeerMember) -> dict[str, object]:
    """A member in a ``QueueMember*`` event (``MemberName`` / ``Interface``)."""
    return {
        "MemberName": member.name,
        "Interface": member.interface,
        **dict(_member_common(member)),
        "Ringinuse": 0,
    }


def _member_common(member: PeerMember) -> list[tuple[str, object]]:
    return [
        ("StateInterface", member.state_interface),
        ("Membership", "dynamic" if member.dynamic else "static"),
        ("Penalty", member.penalty),
        ("CallsTaken", member.calls_taken),
        ("LastCall", 0),
        ("LastPause", 0),
        ("LoginTime", int(time.time())),
        ("InCall", 0),
        ("Status", member.status),
        ("Paused", int(member.paused)),
        ("PausedReason", member.paused_reason),
        ("Wrapuptime", 0),
    ]


def _true(value: str) -> bool:
    """Asterisk's ast_true."""
    return value.strip().lower() in ("yes", "true", "y", "t", "1", "on")


def _penalty(value: str) -> int:
    try:
        return max(0, int(value))
    except ValueError:
        return 0


async def _main(args: argparse.Namespace) -> None:
    users = dict(u.split(":", 1) for u in args.user)
    peer = AmiPeer(users, [PeerQueue(q) for q in args.queue], args.host, args.port)
    await peer.start()
    print(
        f"AMI peer on {args.host}:{peer.port}; users {', '.join(users)}; "
        f"queues {', '.join(args.queue) or '-'}"
    )
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="An AMI peer that answers as Asterisk 22 does.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5038)
    parser.add_argument("--user", action="append", default=[], help="USERNAME:SECRET (repeatable)")
    parser.add_argument("--queue", action="append", default=[], help="a queue name (repeatable)")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
