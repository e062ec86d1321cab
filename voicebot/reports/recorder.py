"""Keeps what the queue and agent reports need: Asterisk's queue events and the agents' states.

:class:`QueueRecorder` follows :meth:`TelephonyControl.events` (AMI: ``QueueCallerJoin``, ``QueueCallerLeave``,
``QueueCallerAbandon``, ``AgentConnect``, ``AgentComplete``, ``AgentRingNoAnswer``) and the presence desk's
changes (available, on call, wrap-up, break, offline) and writes them to ``queue_events`` and ``agent_states``
(``store/reports.py``). An event's row id is a digest of the event as Asterisk sent it (manager.conf's
``timestampevents = yes`` makes each one distinct), so several workers on one database, each hearing every
event, keep it once. Rows wait in memory while the database is away and are written again: calls never wait for
reports.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from datetime import UTC, datetime
from typing import Any

import structlog

from voicebot.engines import TelephonyControl
from voicebot.store.reports import AgentState, QueueEvent, SqlReportStore
from voicebot.telephony.presence import PresenceChanged, PresenceDesk, call_of
from voicebot.types import TelephonyEvent

log = structlog.get_logger(__name__)

QUEUE_EVENTS = frozenset({"QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentConnect",
                          "AgentComplete", "AgentRingNoAnswer"})
NOT_HASHED = frozenset({"Privilege", "ActionID"})  # may differ between the workers' AMI logins
MAX_PENDING = 10_000  # rows of each kind kept while the database is away
RETRY_S = 5.0


def queue_event(event: TelephonyEvent, queue_prefix: str) -> QueueEvent | None:
    """The row of one AMI queue event (None for other events, or one without a queue)."""
    f = event.fields
    if event.name not in QUEUE_EVENTS or not f.get("Queue"):
        return None
    digest = hashlib.sha256("\n".join(f"{k}:{v}" for k, v in sorted(f.items()) if k not in NOT_HASHED).encode())
    return QueueEvent(
        id=digest.hexdigest()[:32], at=_when(f.get("Timestamp", "")), event=event.name,
        queue=f["Queue"].removeprefix(queue_prefix)[:64], unique_id=(f.get("Uniqueid") or f.get("Linkedid", ""))[:64],
        call_id=call_of(f),
        agent=(f.get("MemberName") or None) if event.name.startswith("Agent") else None,
        interface=f.get("Interface") or None, hold_s=_seconds(f.get("HoldTime")), talk_s=_seconds(f.get("TalkTime")),
        ring_s=_seconds(f.get("RingTime")), position=_int(f.get("Position")), reason=f.get("Reason", "")[:32])


def agent_state(change: PresenceChanged) -> AgentState:
    return AgentState(change.agent, change.state.value, datetime.fromtimestamp(change.at, UTC), change.reason,
                      change.call_id, change.queue)


class QueueRecorder:
    """Writes the PBX's queue events and the desk's agent states to the report tables until cancelled. Rows
    wait in memory while the database is away (at most ``MAX_PENDING`` of each, the oldest dropped beyond) and
    are written again every ``retry_s``; writing a row twice keeps it once."""

    def __init__(self, control: TelephonyControl, desk: PresenceDesk | None, store: SqlReportStore,
                 queue_prefix: str, retry_s: float = RETRY_S) -> None:
        self.store, self.queue_prefix, self.retry_s = store, queue_prefix, retry_s
        self._events = control.events()  # subscribed now: nothing after this is missed
        self._changes = desk.changes() if desk is not None else None
        self._rows: deque[QueueEvent] = deque()
        self._states: deque[AgentState] = deque()
        self._wake = asyncio.Event()
        self.dropped = 0  # rows lost because the database was away too long

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._write_rows())
            group.create_task(self._follow_pbx())
            if self._changes is not None:
                group.create_task(self._follow_desk())

    async def _follow_pbx(self) -> None:
        async for event in self._events:
            row = queue_event(event, self.queue_prefix)
            if row is not None:
                self._keep(self._rows, row)

    async def _follow_desk(self) -> None:
        assert self._changes is not None
        async for change in self._changes:
            self._keep(self._states, agent_state(change))

    def _keep(self, pending: deque[Any], row: QueueEvent | AgentState) -> None:
        if len(pending) >= MAX_PENDING:
            pending.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error("report rows dropped: the database has been away too long", dropped=self.dropped)
        pending.append(row)
        self._wake.set()

    async def _write_rows(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while not await self._flush():
                await asyncio.sleep(self.retry_s)

    async def _flush(self) -> bool:
        """Write what waits; True when it is written (or nothing waited)."""
        rows, states = list(self._rows), list(self._states)
        try:
            await self.store.add_queue_events(rows)
            await self.store.add_agent_states(states)
        except Exception as error:  # noqa: BLE001 - the rows wait and are written again; calls never wait
            log.warning("report rows not written; retrying", rows=len(rows) + len(states), error=str(error))
            return False
        for pending, written in ((self._rows, rows), (self._states, states)):
            done = {id(row) for row in written}
            while pending and id(pending[0]) in done:
                pending.popleft()
        return True


def _when(stamp: str) -> datetime:
    """Asterisk's ``Timestamp`` (epoch seconds), else now."""
    try:
        return datetime.fromtimestamp(float(stamp), UTC)
    except ValueError:
        return datetime.now(UTC)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None
