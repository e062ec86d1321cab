"""Agent presence, mirrored to Asterisk's queue membership through :class:`~voicebot.engines.TelephonyControl`.

An agent sets *available*, *break* (with a reason) or *offline* on their desktop; the desk makes Asterisk agree
(available: ``QueueAdd`` to each of their queues with its penalty, or unpause; break: ``QueuePause`` with the
reason; offline: ``QueueRemove``), so ``Queue()`` rings only available agents. *On call* and *wrap-up* are never
typed in: they follow the PBX's events (``AgentConnect`` or ``QueueMemberStatus`` in a call: on call;
``AgentComplete``: wrap-up, paused for the queue's wrap-up time, then available again). Every change is logged
and handed to the :meth:`PresenceDesk.changes` streams (the desktop pages); an ``AgentConnect`` names the call
(the ``VOICEBOT_UUID`` channel variable, asterisk/manager.conf's ``channelvars``) for the screen pop.

The states live in this process; after a restart every agent is offline here until they choose again.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import structlog

from voicebot.config import DesktopSettings
from voicebot.engines import TelephonyControl, TelephonyError
from voicebot.types import TelephonyEvent

log = structlog.get_logger(__name__)

CALL_VARIABLE = "VOICEBOT_UUID"  # set by the dialplan, inherited by the agent's channel
WRAP_UP_REASON = "wrap-up"
STREAM_QUEUE = 100  # changes buffered per changes() stream; a slower reader loses the oldest


class Presence(enum.StrEnum):
    AVAILABLE = "available"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    BREAK = "break"
    OFFLINE = "offline"


CHOSEN = frozenset({Presence.AVAILABLE, Presence.BREAK, Presence.OFFLINE})  # what an agent may set by hand


@dataclass(frozen=True, slots=True)
class AgentLine:
    """An agent as a queue member: their interface and their bot queues with a penalty each."""

    name: str
    interface: str  # e.g. PJSIP/1001
    queues: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """An agent's new state; ``call_id`` names the call when they are on one (the screen pop's key)."""

    agent: str
    state: Presence
    reason: str = ""
    call_id: str | None = None
    queue: str | None = None  # the bot queue of the call
    at: float = field(default_factory=time.time)  # wall-clock epoch seconds

    def to_json(self) -> dict[str, object]:
        return {"type": "presence_changed", "agent": self.agent, "state": self.state.value, "reason": self.reason,
                "call_id": self.call_id, "queue": self.queue, "at": self.at}


class PresenceDesk:
    """Every known agent's state; mirrors chosen states to the PBX and follows its queue events."""

    def __init__(self, control: TelephonyControl, settings: DesktopSettings) -> None:
        self.control, self.settings = control, settings
        self._lines: dict[str, AgentLine] = {}
        self._states: dict[str, PresenceChanged] = {}
        self._streams: weakref.WeakSet[asyncio.Queue[PresenceChanged]] = weakref.WeakSet()
        self._wrap_ups: dict[str, asyncio.Task[None]] = {}
        self._lock = asyncio.Lock()  # one change at a time: the PBX sees them in order

    def register(self, line: AgentLine) -> None:
        """Know (or update) an agent's interface and queues."""
        self._lines[line.name] = line

    def state(self, agent: str) -> PresenceChanged:
        return self._states.get(agent) or PresenceChanged(agent, Presence.OFFLINE, at=0.0)

    def changes(self) -> AsyncIterator[PresenceChanged]:
        """Every change from now on (subscribed at once)."""
        queue: asyncio.Queue[PresenceChanged] = asyncio.Queue(STREAM_QUEUE)
        self._streams.add(queue)
        return self._stream(queue)

    async def _stream(self, queue: asyncio.Queue[PresenceChanged]) -> AsyncIterator[PresenceChanged]:
        try:
            while True:
                yield await queue.get()
        finally:
            self._streams.discard(queue)

    async def choose(self, agent: str, state: Presence, reason: str = "") -> PresenceChanged:
        """An agent's own choice (available, break with a reason, offline), made true in the PBX first.
        ``ValueError`` for a state that only the PBX sets, an unknown agent or a call in progress;
        ``TelephonyError`` when the PBX refuses (the state is then unchanged)."""
        if state not in CHOSEN:
            raise ValueError(f"{state.value} follows the calls; choose one of {', '.join(sorted(CHOSEN))}")
        line = self._lines.get(agent)
        if line is None:
            raise ValueError(f"{agent} is not a queue member (voicebot user add … --interface --queues)")
        async with self._lock:
            if self.state(agent).state is Presence.ON_CALL:
                raise ValueError("finish the call first")
            if state is Presence.BREAK and not reason.strip():
                raise ValueError("say why you take a break")
            self._end_wrap_up(agent)
            await self._mirror(line, state, reason.strip())
            return self._set(PresenceChanged(agent, state, reason.strip() if state is Presence.BREAK else ""))

    async def follow(self) -> None:
        """Follow the PBX's queue events until cancelled."""
        async for event in self.control.events():
            try:
                await self._heard(event)
            except TelephonyError as error:
                log.warning("presence: the PBX refused a change", event=event.name, error=str(error))

    async def close(self) -> None:
        for task in self._wrap_ups.values():
            task.cancel()
        self._wrap_ups.clear()

    # ------------------------------------------------------------------ the PBX's events

    async def _heard(self, event: TelephonyEvent) -> None:
        fields = event.fields
        line = self._by_interface(fields.get("Interface", ""))
        if line is None:
            return
        current = self.state(line.name)
        queue = self._bot_queue(fields.get("Queue", ""))
        match event.name:
            case "AgentCalled":
                log.info("presence: agent rung", agent=line.name, queue=queue)
            case "AgentConnect":
                self._end_wrap_up(line.name)
                self._set(PresenceChanged(line.name, Presence.ON_CALL, call_id=call_of(fields), queue=queue))
            case "QueueMemberStatus" if fields.get("InCall") == "1" and current.state is Presence.AVAILABLE:
                self._set(PresenceChanged(line.name, Presence.ON_CALL, queue=queue))
            case "AgentComplete" if current.state is Presence.ON_CALL:
                async with self._lock:
                    await self.control.pause_queue_member(line.interface, True, reason=WRAP_UP_REASON)
                    wrap = replace(current, state=Presence.WRAP_UP, reason=WRAP_UP_REASON, at=time.time())
                    self._set(wrap)
                seconds = self.settings.queue_wrapup_s.get(queue or "", self.settings.wrapup_s)
                self._wrap_ups[line.name] = asyncio.create_task(self._after_wrap_up(line, seconds))

    async def _after_wrap_up(self, line: AgentLine, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._wrap_ups.pop(line.name, None)
        async with self._lock:
            if self.state(line.name).state is not Presence.WRAP_UP:
                return
            try:
                await self.control.pause_queue_member(line.interface, False)
            except TelephonyError as error:
                log.warning("presence: wrap-up not ended in the PBX", agent=line.name, error=str(error))
                return
            self._set(PresenceChanged(line.name, Presence.AVAILABLE))

    def _end_wrap_up(self, agent: str) -> None:
        task = self._wrap_ups.pop(agent, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    # ------------------------------------------------------------------ mirroring

    async def _mirror(self, line: AgentLine, state: Presence, reason: str) -> None:
        was = self.state(line.name).state
        queues = [(self.settings.queue_prefix + name, penalty) for name, penalty in line.queues]
        if state is Presence.OFFLINE:
            for queue, _ in queues:
                with contextlib.suppress(TelephonyError):  # not a member there: nothing to remove
                    await self.control.remove_queue_member(queue, line.interface)
            return
        if was is Presence.OFFLINE:  # join every queue, paused for a break
            for queue, penalty in queues:
                try:
                    await self.control.add_queue_member(queue, line.interface, line.name, penalty,
                                                        paused=state is Presence.BREAK)
                except TelephonyError as error:
                    if "Already there" not in str(error):  # a member still, from before a restart
                        raise
        await self.control.pause_queue_member(line.interface, state is Presence.BREAK,
                                              reason=reason if state is Presence.BREAK else "")

    def _set(self, change: PresenceChanged) -> PresenceChanged:
        self._states[change.agent] = change
        log.info("presence", agent=change.agent, state=change.state.value, reason=change.reason,
                 call_id=change.call_id, queue=change.queue)
        for stream in list(self._streams):
            if stream.full():
                stream.get_nowait()
            stream.put_nowait(change)
        return change

    def _by_interface(self, interface: str) -> AgentLine | None:
        return next((line for line in self._lines.values() if line.interface == interface), None) \
            if interface else None

    def _bot_queue(self, queue: str) -> str | None:
        return queue.removeprefix(self.settings.queue_prefix) if queue else None


def call_of(fields: dict[str, str]) -> str | None:
    """The voicebot call an ``AgentConnect`` is about: the ``VOICEBOT_UUID`` channel variable of the agent's
    channel (inherited) or of the caller's (``DestChanVariable`` / ``ChanVariable: VOICEBOT_UUID=…``)."""
    for key in ("DestChanVariable", "ChanVariable"):
        name, _, value = fields.get(key, "").partition("=")
        if name == CALL_VARIABLE and value:
            return value
    return None
