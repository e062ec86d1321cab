"""``TelephonyControl`` over the Asterisk Manager Interface (AMI): one TCP connection, logged in, kept up.

The wire: Asterisk greets with ``Asterisk Call Manager/<version>``; then messages are ``Key: Value`` lines
ended by an empty line, in both directions. Every action carries an ``ActionID`` that its response (and
the events it causes) echo; everything else is an unsolicited event, handed to every ``events()`` stream.
Lists (``QueueStatus``) answer ``EventList: start``, send their events and end with an event that says
``EventList: Complete``; an asynchronous ``Originate`` is acknowledged at once and ends with an
``OriginateResponse`` event.

A lost connection fails the actions in flight (``TelephonyError``) and is re-opened after
``reconnect_min_s``, doubled (with jitter) up to ``reconnect_max_s`` while attempts fail; actions issued
meanwhile wait for it, up to ``action_timeout_s``. Refused credentials are not retried: every action then
fails with Asterisk's message. An idle connection is probed with ``Ping`` every ``ping_interval_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import weakref
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import structlog

from voicebot.config import AmiSettings
from voicebot.engines import TelephonyError
from voicebot.types import (
    OriginateRequest,
    OriginateResult,
    QueueEntry,
    QueueMember,
    QueueStatus,
    TelephonyEvent,
    now,
)

log = structlog.get_logger(__name__)

BANNER = b"Asterisk Call Manager/"
EVENT_QUEUE = 1000  # events buffered per events() stream; a slower consumer loses the oldest
READ_LIMIT = 1 << 20  # the longest AMI message accepted

Message = dict[str, str]


def encode(action: str, action_id: str, fields: Iterable[tuple[str, str]] = ()) -> bytes:
    """One AMI action on the wire. ``fields`` may repeat a key (``Variable``). A line break in a key or a
    value (which would smuggle in headers or whole actions, e.g. from a caller's input) raises."""
    lines = [f"Action: {action}", f"ActionID: {action_id}"]
    lines += [f"{key}: {value}" for key, value in fields]
    if any("\r" in line or "\n" in line for line in lines):
        raise TelephonyError(f"AMI {action}: a line break in a field")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def decode(block: bytes) -> Message:
    """One AMI message (without its blank line) as a dict; a repeated key keeps its first value."""
    message: Message = {}
    for line in block.decode(errors="replace").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            message.setdefault(key.strip(), value.strip())
    return message


def _int(message: Message, key: str) -> int:
    try:
        return int(message.get(key, "0"))
    except ValueError:
        return 0


def queue_statuses(events: Iterable[Message]) -> list[QueueStatus]:
    """Assemble a ``QueueStatus`` list's ``QueueParams`` / ``QueueMember`` / ``QueueEntry`` events."""
    params: dict[str, Message] = {}
    members: dict[str, list[QueueMember]] = {}
    entries: dict[str, list[QueueEntry]] = {}
    for event in events:
        name, queue = event.get("Event"), event.get("Queue", "")
        if name == "QueueParams":
            params[queue] = event
        elif name == "QueueMember":
            members.setdefault(queue, []).append(
                QueueMember(
                    interface=event.get("Location", ""),
                    name=event.get("Name", ""),
                    state_interface=event.get("StateInterface", ""),
                    dynamic=event.get("Membership") == "dynamic",
                    penalty=_int(event, "Penalty"),
                    calls_taken=_int(event, "CallsTaken"),
                    in_call=event.get("InCall") == "1",
                    status=_int(event, "Status"),
                    paused=event.get("Paused") == "1",
                    paused_reason=event.get("PausedReason", ""),
                )
            )
        elif name == "QueueEntry":
            entries.setdefault(queue, []).append(
                QueueEntry(
                    position=_int(event, "Position"),
                    channel=event.get("Channel", ""),
                    unique_id=event.get("Uniqueid", ""),
                    caller_id=event.get("CallerIDNum", ""),
                    wait_s=_int(event, "Wait"),
                    priority=_int(event, "Priority"),
                )
            )
    return [
        QueueStatus(
            queue=queue,
            strategy=p.get("Strategy", ""),
            calls=_int(p, "Calls"),
            holdtime_s=_int(p, "Holdtime"),
            talktime_s=_int(p, "TalkTime"),
            completed=_int(p, "Completed"),
            abandoned=_int(p, "Abandoned"),
            members=tuple(members.get(queue, ())),
            entries=tuple(entries.get(queue, ())),
        )
        for queue, p in params.items()
    ]


@dataclass(slots=True)
class _Pending:
    """An action waiting for its response and, for lists and async originates, its closing event."""

    until: str | None  # the event that ends it (lists end with any event that says EventList: Complete)
    future: asyncio.Future[tuple[Message, list[Message]]]
    response: Message | None = None
    events: list[Message] = field(default_factory=list)
    listing: bool = False
    ended: bool = False

    def add(self, message: Message) -> None:
        if "Response" in message and self.response is None and "Event" not in message:
            self.response = message
            self.listing = message.get("EventList", "").lower() == "start"
        elif "Event" in message:
            if message.get("EventList", "").lower() == "complete" or message["Event"] == self.until:
                self.ended = True
            self.events.append(message)
        response = self.response
        if response is None or self.future.done():
            return
        waits = self.listing or self.until is not None
        if response.get("Response") == "Error" or not waits or self.ended:
            self.future.set_result((response, self.events))


class AmiClient:
    """Implements :class:`voicebot.engines.TelephonyControl` over one AMI connection."""

    def __init__(self, settings: AmiSettings) -> None:
        self.settings = settings
        self.connections = 0  # logins so far (a reconnect adds one)
        self._ids = itertools.count(1)
        self._id_prefix = f"voicebot-{random.getrandbits(32):08x}"
        self._pending: dict[str, _Pending] = {}
        self._subscribers: weakref.WeakSet[asyncio.Queue[TelephonyEvent]] = weakref.WeakSet()
        self._writer: asyncio.StreamWriter | None = None
        self._ready = asyncio.Event()
        self._refused: str | None = None  # Asterisk's answer to a refused login
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._last_io = 0.0

    # ------------------------------------------------------------------ lifecycle

    async def start(self, wait: bool = True) -> None:
        """Connect and log in (in the background; if ``wait``, until logged in or refused, at most
        ``action_timeout_s``). Raises :class:`TelephonyError` if refused or, with ``wait``, not up in time."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ami")
        if wait:
            await self._wait_ready()

    async def close(self) -> None:
        """Log off (``Response: Goodbye``) and stop reconnecting."""
        self._closing = True
        if self._ready.is_set():
            with contextlib.suppress(TelephonyError):
                await self._action("Logoff", (), timeout=min(2.0, self.settings.action_timeout_s))
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    # ------------------------------------------------------------------ TelephonyControl

    async def originate(self, request: OriginateRequest) -> OriginateResult:
        fields = [
            ("Channel", request.channel),
            ("Context", request.context),
            ("Exten", request.exten),
            ("Priority", str(request.priority)),
            ("Timeout", str(int(request.timeout_s * 1000))),
            ("Async", "true"),
        ]
        if request.caller_id:
            fields.append(("CallerID", request.caller_id))
        if request.channel_id:
            fields.append(("ChannelId", request.channel_id))
        fields += [("Variable", f"{name}={value}") for name, value in request.variables.items()]
        _, events = await self._action(
            "Originate",
            fields,
            until="OriginateResponse",
            timeout=request.timeout_s + self.settings.action_timeout_s,
        )
        result = events[-1]
        return OriginateResult(
            success=result.get("Response") == "Success",
            channel=result.get("Channel", ""),
            unique_id=result.get("Uniqueid", ""),
            reason=_int(result, "Reason"),
        )

    async def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> None:
        await self._action(
            "Redirect",
            [("Channel", channel), ("Context", context), ("Exten", exten), ("Priority", str(priority))],
        )

    async def set_variable(self, channel: str, name: str, value: str) -> None:
        await self._action("Setvar", [("Channel", channel), ("Variable", name), ("Value", value)])

    async def get_variable(self, channel: str, name: str) -> str:
        """A channel variable's value (empty when unset)."""
        response, _ = await self._action("Getvar", [("Channel", channel), ("Variable", name)])
        return response.get("Value", "")

    async def add_queue_member(
        self, queue: str, interface: str, name: str = "", penalty: int = 0, paused: bool = False
    ) -> None:
        fields = [
            ("Queue", queue),
            ("Interface", interface),
            ("Penalty", str(penalty)),
            ("Paused", "true" if paused else "false"),
        ]
        if name:
            fields.append(("MemberName", name))
        await self._action("QueueAdd", fields)

    async def remove_queue_member(self, queue: str, interface: str) -> None:
        await self._action("QueueRemove", [("Queue", queue), ("Interface", interface)])

    async def pause_queue_member(
        self, interface: str, paused: bool, queue: str | None = None, reason: str = ""
    ) -> None:
        fields = [("Interface", interface), ("Paused", "true" if paused else "false")]
        if queue:
            fields.append(("Queue", queue))
        if reason:
            fields.append(("Reason", reason))
        await self._action("QueuePause", fields)

    async def queue_status(self, queue: str | None = None) -> list[QueueStatus]:
        _, events = await self._action("QueueStatus", [("Queue", queue)] if queue else [])
        return queue_statuses(events)

    def events(self) -> AsyncIterator[TelephonyEvent]:
        """Subscribed at once (not at the first ``anext``); a stream dropped unread unsubscribes itself."""
        queue: asyncio.Queue[TelephonyEvent] = asyncio.Queue(EVENT_QUEUE)
        self._subscribers.add(queue)
        return self._stream(queue)

    async def _stream(self, queue: asyncio.Queue[TelephonyEvent]) -> AsyncIterator[TelephonyEvent]:
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.discard(queue)

    # ------------------------------------------------------------------ actions

    async def _wait_ready(self) -> None:
        if self._refused is None and not self._ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), self.settings.action_timeout_s)
        if self._refused is not None:
            raise TelephonyError(f"AMI login refused: {self._refused}")
        if not self._ready.is_set():
            raise TelephonyError(f"AMI not connected ({self.settings.host}:{self.settings.port})")

    async def _action(
        self,
        action: str,
        fields: Iterable[tuple[str, str]],
        until: str | None = None,
        timeout: float | None = None,
    ) -> tuple[Message, list[Message]]:
        """Send an action; return its response and the events it gathered. Raises on ``Response: Error``."""
        await self._wait_ready()
        writer = self._writer
        assert writer is not None
        action_id = f"{self._id_prefix}-{next(self._ids)}"
        pending = _Pending(until, asyncio.get_running_loop().create_future())
        self._pending[action_id] = pending
        try:
            writer.write(encode(action, action_id, fields))
            self._last_io = now()
            answer = await asyncio.wait_for(pending.future, timeout or self.settings.action_timeout_s)
        except TimeoutError:
            raise TelephonyError(f"AMI {action}: no answer in time") from None
        finally:
            self._pending.pop(action_id, None)
        response, events = answer
        if response.get("Response") == "Error":
            raise TelephonyError(f"AMI {action}: {response.get('Message', 'error')}")
        return response, events

    # ------------------------------------------------------------------ connection

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.settings.host, self.settings.port, limit=READ_LIMIT),
                    self.settings.action_timeout_s,
                )
            except (OSError, TimeoutError) as error:
                log.warning(
                    "AMI connect failed", host=self.settings.host, port=self.settings.port, error=str(error)
                )
            else:
                try:
                    await self._login(reader, writer)
                    attempt = 0
                    await self._serve(reader, writer)
                except _Refused as refused:
                    self._refused = str(refused)
                    log.error(
                        "AMI login refused; not retrying",
                        username=self.settings.username,
                        message=str(refused),
                    )
                    self._ready.set()  # wakes the waiting actions, which raise; cleared below
                    return
                except (
                    OSError,
                    TimeoutError,
                    asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError,
                    _ProtocolError,
                ) as error:
                    if not self._closing:
                        closed = isinstance(error, asyncio.IncompleteReadError)
                        log.warning(
                            "AMI connection lost",
                            error="closed by the peer" if closed else str(error) or type(error).__name__,
                        )
                finally:
                    self._disconnected(writer)
            if self._closing:
                return
            delay = min(self.settings.reconnect_max_s, self.settings.reconnect_min_s * 2**attempt)
            attempt += 1
            await asyncio.sleep(delay * random.uniform(0.8, 1.0))

    async def _login(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        timeout = self.settings.action_timeout_s
        banner = await asyncio.wait_for(reader.readline(), timeout)
        if not banner.startswith(BANNER):
            raise _ProtocolError(f"not an AMI banner: {banner[:60]!r}")
        action_id = f"{self._id_prefix}-login-{next(self._ids)}"
        writer.write(
            encode(
                "Login",
                action_id,
                [
                    ("Username", self.settings.username),
                    ("Secret", self.settings.secret.get_secret_value()),
                    ("Events", "on"),
                ],
            )
        )
        while True:
            message = decode(await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout))
            if message.get("ActionID") == action_id:
                break
        if message.get("Response") != "Success":
            raise _Refused(message.get("Message", "login refused"))
        self._writer = writer
        self._last_io = now()
        self.connections += 1
        self._ready.set()
        log.info(
            "AMI logged in",
            host=self.settings.host,
            port=self.settings.port,
            version=banner.decode(errors="replace").strip().partition("/")[2],
        )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pinger = asyncio.create_task(self._ping()) if self.settings.ping_interval_s > 0 else None
        try:
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                self._last_io = now()
                self._dispatch(decode(block))
        finally:
            if pinger is not None:
                pinger.cancel()

    def _dispatch(self, message: Message) -> None:
        pending = self._pending.get(message.get("ActionID", ""))
        if pending is not None:
            pending.add(message)
        elif "Event" in message:
            event = TelephonyEvent(name=message["Event"], fields=message, at=now())
            for queue in list(self._subscribers):
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(event)

    async def _ping(self) -> None:
        """Probe an idle connection; a dead one is closed, which starts a reconnect."""
        interval = self.settings.ping_interval_s
        while True:
            await asyncio.sleep(max(0.0, self._last_io + interval - now()))
            if now() - self._last_io < interval:
                continue
            try:
                await self._action("Ping", ())
            except TelephonyError:
                log.warning("AMI ping not answered; reconnecting")
                if self._writer is not None:
                    self._writer.transport.abort()
                return

    def _disconnected(self, writer: asyncio.StreamWriter) -> None:
        self._ready.clear()
        self._writer = None
        writer.transport.abort()
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(TelephonyError("AMI connection lost"))
        self._pending.clear()


class _Refused(Exception):
    """Asterisk refused the login (bad credentials, or not permitted from this address)."""


class _ProtocolError(Exception):
    """The peer is not an AMI server."""
