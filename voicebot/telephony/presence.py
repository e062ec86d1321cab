"""Agent presence, mirrored to Asterisk's queue membership through :class:`~voicebot.engines.TelephonyControl`.

An agent sets *available*, *break* (with a reason) or *offline* on their desktop; the desk makes Asterisk agree
(available: ``QueueAdd`` to each of their queues with its penalty, or unpause; break: ``QueuePause`` with the
reason; offline: ``QueueRemove``), so ``Queue()`` rings only available agents. *On call* and *wrap-up* are never
typed in: they follow the PBX's events (``AgentConnect`` or ``QueueMemberStatus`` in a call: on call;
``AgentComplete``: wrap-up, paused for the queue's wrap-up time, then available again). Every change is logged
and handed to the :meth:`PresenceDesk.changes` streams (the desktop pages); an ``AgentConnect`` names the call
(the ``VOICEBOT_UUID`` channel variable, asterisk/manager.conf's ``channelvars``) for the screen pop.

Every change this desk makes is also published on the event bus (:class:`voicebot.events.AgentPresence`), so the
desks of the other workers (and their pages) hear it (:meth:`PresenceDesk.follow_bus`), and saved
(``store/presence.py``): after a restart :meth:`PresenceDesk.restore` reads each agent's state back and
:meth:`PresenceDesk.resync` makes Asterisk's queue membership agree with it, again after every AMI (re)login
(``FullyBooted``: a restarted Asterisk has forgotten its dynamic members). A call in progress stays on call if
Asterisk says the member is in one; a wrap-up cut short by the restart ends (available).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
import uuid
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import structlog
from sqlalchemy.exc import SQLAlchemyError

from voicebot.config import DesktopSettings
from voicebot.engines import TelephonyControl, TelephonyError
from voicebot.events import AgentPresence, Bus
from voicebot.store.presence import SavedPresence, SqlPresenceStore
from voicebot.types import TelephonyEvent

log = structlog.get_logger(__name__)

CALL_VARIABLE = "VOICEBOT_UUID"  # set by the dialplan, inherited by the agent's channel
WRAP_UP_REASON = "wrap-up"
STREAM_QUEUE = 100  # changes buffered per changes() stream; a slower reader loses the oldest
DEVICE_BUSY = frozenset({2, 3, 7, 8})  # AST_DEVICE_INUSE, BUSY, RINGINUSE, ONHOLD: the member's phone is in a call


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

    def event(self, origin: str) -> AgentPresence:
        return AgentPresence(self.call_id or "", agent=self.agent, state=self.state.value, reason=self.reason,
                             queue=self.queue, origin=origin, at=self.at)

    @classmethod
    def of_event(cls, event: AgentPresence) -> PresenceChanged:
        return cls(event.agent, Presence(event.state), event.reason, event.call_id or None, event.queue, event.at)

    def same_as(self, other: PresenceChanged) -> bool:
        return (self.state, self.reason, self.call_id) == (other.state, other.reason, other.call_id)


class PresenceDesk:
    """Every known agent's state; mirrors chosen states to the PBX and follows its queue events."""

    def __init__(self, control: TelephonyControl, settings: DesktopSettings, bus: Bus | None = None,
                 store: SqlPresenceStore | None = None, origin: str = "") -> None:
        self.control, self.settings, self.bus, self.store = control, settings, bus, store
        self.origin = origin or uuid.uuid4().hex[:12]  # this desk's name on the bus
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
            return await self._set(PresenceChanged(agent, state, reason.strip() if state is Presence.BREAK else ""))

    async def follow(self) -> None:
        """Follow the PBX's queue events until cancelled; after every AMI login (``FullyBooted``), resync."""
        async for event in self.control.events():
            try:
                if event.name == "FullyBooted":
                    await self.resync()
                else:
                    await self._heard(event)
            except TelephonyError as error:
                log.warning("presence: the PBX refused a change", event=event.name, error=str(error))

    async def follow_bus(self) -> None:
        """Take the other workers' desks' changes from the bus until cancelled (shown, not mirrored again)."""
        if self.bus is None:
            return
        async for event in self.bus.subscribe():
            if isinstance(event, AgentPresence) and event.origin != self.origin:
                change = PresenceChanged.of_event(event)
                if not change.same_as(self.state(change.agent)):
                    if change.state is not Presence.WRAP_UP:
                        self._end_wrap_up(change.agent)
                    await self._set(change, share=False)

    async def restore(self) -> None:
        """Each known agent's last saved state (from before a restart); :meth:`resync` then makes the PBX agree."""
        if self.store is None:
            return
        try:
            saved = await self.store.load()
        except SQLAlchemyError as error:
            log.warning("presence: saved states not read; agents start offline", error=str(error))
            return
        for row in saved:
            if row.agent in self._lines and row.agent not in self._states:
                self._states[row.agent] = PresenceChanged(row.agent, Presence(row.state), row.reason, row.call_id,
                                                          row.queue, row.changed_at.timestamp())
        log.info("presence restored", agents={r.agent: r.state for r in saved if r.agent in self._lines})

    async def resync(self) -> None:
        """Make Asterisk's queue membership agree with every known agent's state: offline out of every queue, on
        break in each paused with the reason, available (or on call) in each; an agent on call whom Asterisk has
        in no call any more, or one in a wrap-up cut short, is available again. ``TelephonyError`` when the PBX
        does not answer (the next login resyncs)."""
        busy = {m.interface for s in await self.control.queue_status() for m in s.members
                if m.in_call or m.status in DEVICE_BUSY}
        async with self._lock:
            for agent, line in list(self._lines.items()):
                current = self.state(agent)
                state = current.state
                if state is Presence.WRAP_UP and agent in self._wrap_ups:
                    continue  # its timer ends it
                if state in (Presence.ON_CALL, Presence.WRAP_UP) and line.interface not in busy:
                    state = Presence.AVAILABLE
                if state is Presence.OFFLINE:
                    await self._leave(line)
                else:
                    await self._join(line, paused=state is Presence.BREAK, reason=current.reason)
                    if state is not Presence.ON_CALL:
                        await self.control.pause_queue_member(line.interface, state is Presence.BREAK,
                                                              reason=current.reason if state is Presence.BREAK
                                                              else "")
                if state is not current.state:
                    await self._set(PresenceChanged(agent, state))
        log.info("presence resynced with the PBX", agents=len(self._lines))

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
                await self._set(PresenceChanged(line.name, Presence.ON_CALL, call_id=call_of(fields), queue=queue))
            case "QueueMemberStatus" if fields.get("InCall") == "1" and current.state is Presence.AVAILABLE:
                await self._set(PresenceChanged(line.name, Presence.ON_CALL, queue=queue))
            case "AgentComplete" if current.state is Presence.ON_CALL:
                async with self._lock:
                    await self.control.pause_queue_member(line.interface, True, reason=WRAP_UP_REASON)
                    wrap = replace(current, state=Presence.WRAP_UP, reason=WRAP_UP_REASON, at=time.time())
                    await self._set(wrap)
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
            await self._set(PresenceChanged(line.name, Presence.AVAILABLE))

    def _end_wrap_up(self, agent: str) -> None:
        task = self._wrap_ups.pop(agent, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    # ------------------------------------------------------------------ mirroring

    async def _mirror(self, line: AgentLine, state: Presence, reason: str) -> None:
        if state is Presence.OFFLINE:
            await self._leave(line)
            return
        if self.state(line.name).state is Presence.OFFLINE:  # join every queue, paused for a break
            await self._join(line, paused=state is Presence.BREAK, reason=reason)
        await self.control.pause_queue_member(line.interface, state is Presence.BREAK,
                                              reason=reason if state is Presence.BREAK else "")

    async def _join(self, line: AgentLine, paused: bool, reason: str = "") -> None:
        for name, penalty in line.queues:
            try:
                await self.control.add_queue_member(self.settings.queue_prefix + name, line.interface, line.name,
                                                    penalty, paused=paused)
            except TelephonyError as error:
                if "Already there" not in str(error):  # a member still, from before a restart
                    raise

    async def _leave(self, line: AgentLine) -> None:
        for name, _ in line.queues:
            with contextlib.suppress(TelephonyError):  # not a member there: nothing to remove
                await self.control.remove_queue_member(self.settings.queue_prefix + name, line.interface)

    async def _set(self, change: PresenceChanged, share: bool = True) -> PresenceChanged:
        """The agent's state from now: to this desk's streams and, for a change made here (``share``), to the
        other workers over the bus and to the database."""
        self._states[change.agent] = change
        log.info("presence", agent=change.agent, state=change.state.value, reason=change.reason,
                 call_id=change.call_id, queue=change.queue, here=share)
        for stream in list(self._streams):
            if stream.full():
                stream.get_nowait()
            stream.put_nowait(change)
        if share and self.bus is not None:
            self.bus.publish(change.event(self.origin))
        if share and self.store is not None:
            try:
                await self.store.save(SavedPresence(change.agent, change.state.value, change.reason, change.call_id,
                                                    change.queue, datetime.fromtimestamp(change.at, UTC)))
            except SQLAlchemyError as error:  # the PBX and the pages have it; a restart may not
                log.warning("presence not saved", agent=change.agent, error=str(error))
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
