"""Keeps what the queue and agent reports need: Asterisk's queue events and the agents' states.

:class:`QueueRecorder` follows :meth:`TelephonyControl.events` (AMI: ``QueueCallerJoin``, ``QueueCallerLeave``,
``QueueCallerAbandon``, ``AgentConnect``, ``AgentComplete``, ``AgentRingNoAnswer``) and the presence desk's
changes (available, on call, wrap-up, break, offline) and writes them to ``queue_events`` and ``agent_states``
(``store/reports.py``). An event's row id is a digest of the event as Asterisk sent it (manager.conf's
``timestampevents = yes`` makes each one distinct), so several workers on one database, each hearing every
event, keep it once. A write that fails is logged and skipped: calls never wait for reports.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable
from datetime import UTC, datetime

import structlog

from voicebot.engines import TelephonyControl
from voicebot.store.reports import AgentState, QueueEvent, SqlReportStore
from voicebot.telephony.presence import PresenceChanged, PresenceDesk, call_of
from voicebot.types import TelephonyEvent

log = structlog.get_logger(__name__)

QUEUE_EVENTS = frozenset({"QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentConnect",
                          "AgentComplete", "AgentRingNoAnswer"})
NOT_HASHED = frozenset({"Privilege", "ActionID"})  # may differ between the workers' AMI logins
UNKNOWN = {"", "<unknown>", "unknown"}


def queue_event(event: TelephonyEvent, queue_prefix: str) -> QueueEvent | None:
    """The row of one AMI queue event (None for other events, or one without a queue)."""
    f = event.fields
    if event.name not in QUEUE_EVENTS or not f.get("Queue"):
        return None
    digest = hashlib.sha256("\n".join(f"{k}:{v}" for k, v in sorted(f.items()) if k not in NOT_HASHED).encode())
    caller = f.get("CallerIDNum", "")
    return QueueEvent(
        id=digest.hexdigest()[:32], at=_when(f.get("Timestamp", "")), event=event.name,
        queue=f["Queue"].removeprefix(queue_prefix)[:64], unique_id=(f.get("Uniqueid") or f.get("Linkedid", ""))[:64],
        call_id=call_of(f), caller_id="" if caller in UNKNOWN else caller[:64],
        agent=(f.get("MemberName") or None) if event.name.startswith("Agent") else None,
        interface=f.get("Interface") or None, hold_s=_seconds(f.get("HoldTime")), talk_s=_seconds(f.get("TalkTime")),
        ring_s=_seconds(f.get("RingTime")), position=_int(f.get("Position")), reason=f.get("Reason", "")[:32])


def agent_state(change: PresenceChanged) -> AgentState:
    return AgentState(change.agent, change.state.value, datetime.fromtimestamp(change.at, UTC), change.reason,
                      change.call_id, change.queue)


class QueueRecorder:
    """Writes the PBX's queue events and the desk's agent states to the report tables until cancelled."""

    def __init__(self, control: TelephonyControl, desk: PresenceDesk | None, store: SqlReportStore,
                 queue_prefix: str) -> None:
        self.store, self.queue_prefix = store, queue_prefix
        self._events = control.events()  # subscribed now: nothing after this is missed
        self._changes = desk.changes() if desk is not None else None

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._follow_pbx())
            if self._changes is not None:
                group.create_task(self._follow_desk())

    async def _follow_pbx(self) -> None:
        async for event in self._events:
            row = queue_event(event, self.queue_prefix)
            if row is not None:
                await self._write(self.store.add_queue_events([row]), event=row.event, queue=row.queue)

    async def _follow_desk(self) -> None:
        assert self._changes is not None
        async for change in self._changes:
            await self._write(self.store.add_agent_state(agent_state(change)), agent=change.agent,
                              state=change.state.value)

    @staticmethod
    async def _write(write: Awaitable[None], **context: object) -> None:
        try:
            await write
        except Exception as error:  # noqa: BLE001 - a report row lost is logged, never fatal
            log.warning("report row not written", error=str(error), **context)


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
