"""What the reports read and the queue and agent events they keep (tables of migration 0010).

Writes: :meth:`SqlReportStore.add_queue_events` (Asterisk's queue events; an id is a digest of the event, so a
second worker hearing the same event adds nothing) and :meth:`SqlReportStore.add_agent_states` (ids digest the
state too: a batch written again adds nothing).
Reads: the facts of one period (:class:`Period`: from, to, flow, queue) as small frozen records, which the pure
measures of ``voicebot/reports/measures.py`` turn into figures. Nothing here computes a rate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from voicebot.store.models import AgentStateRow, CallRow, EventRow, QueueEventRow, TurnRow

INSERT_ROWS = 500  # rows per INSERT: the databases bound the parameters of one statement (32 766)
SURVEY_EVENT = "survey_answered"  # events.EventType.SURVEY_ANSWERED: a caller's score, in the events table


@dataclass(frozen=True, slots=True)
class Period:
    """What a report covers: calls started (events happened) in ``[start, end)``, of one flow and one queue
    when given. ``flow`` narrows the call measures; ``queue`` the queue and agent measures, and the call measures
    to the calls handed to that queue."""

    start: datetime
    end: datetime
    flow: str | None = None
    queue: str | None = None


@dataclass(frozen=True, slots=True)
class CallFact:
    """One call the bot served, as the containment reads it."""

    id: str
    caller_id: str
    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class QueueEvent:
    """One of Asterisk's queue events about a caller (``QueueCallerJoin``, ``QueueCallerLeave``,
    ``QueueCallerAbandon``, ``AgentConnect``, ``AgentComplete``, ``AgentRingNoAnswer``)."""

    id: str
    at: datetime
    event: str
    queue: str
    unique_id: str = ""
    call_id: str | None = None  # the caller's number is not kept here: the call has it
    agent: str | None = None
    interface: str | None = None
    hold_s: float | None = None
    talk_s: float | None = None
    ring_s: float | None = None
    position: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AgentState:
    """An agent's state from ``at`` until their next one."""

    agent: str
    state: str
    at: datetime
    reason: str = ""
    call_id: str | None = None
    queue: str | None = None


class SqlReportStore:
    """Queue and agent events, and the report facts, in the call record database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    # ------------------------------------------------------------------ writes

    async def add_queue_events(self, events: Iterable[QueueEvent]) -> None:
        """Keep queue events; one already kept (same id: another worker heard it too) is left as it is."""
        await self._insert(QueueEventRow, [_fields(e) for e in events])

    async def add_agent_states(self, states: Iterable[AgentState]) -> None:
        """Keep agent states; one already kept (the same agent, state, reason, call, queue and time) is left."""
        await self._insert(AgentStateRow, [{"id": _digest(s.agent, s.state, s.reason, s.call_id, s.queue,
                                                          s.at.isoformat()), "agent": s.agent, "state": s.state,
                                            "reason": s.reason, "at": s.at, "call_id": s.call_id, "queue": s.queue}
                                           for s in states])

    async def _insert(self, table: type[QueueEventRow | AgentStateRow], values: list[dict[str, Any]]) -> None:
        if not values:
            return
        insert = pg_insert if self._engine.dialect.name == "postgresql" else sqlite_insert
        async with self._sessions.begin() as session:
            for i in range(0, len(values), INSERT_ROWS):
                await session.execute(insert(table).values(values[i:i + INSERT_ROWS])
                                      .on_conflict_do_nothing(index_elements=["id"]))

    # ------------------------------------------------------------------ reads

    async def outcomes(self, period: Period) -> list[tuple[str, int]]:
        """Each outcome of the period's ended calls with its number of calls, most first."""
        calls = func.count(CallRow.id)
        query = select(CallRow.outcome, calls).where(*_calls_in(period), CallRow.outcome != "in_progress") \
            .group_by(CallRow.outcome).order_by(calls.desc(), CallRow.outcome)
        async with self._sessions() as session:
            return [(r[0], int(r[1])) for r in (await session.execute(query)).all()]

    async def handoff_reasons(self, period: Period) -> list[tuple[str, int]]:
        """Each handoff reason (read in SQL from the packets; "unknown" when none) with its calls, most first."""
        reason = CallRow.handoff["reason"].as_string()
        query = select(reason, func.count(CallRow.id)).where(*_calls_in(period), CallRow.outcome == "handoff") \
            .group_by(reason)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        merged: dict[str, int] = {}
        for name, calls in rows:
            merged[name or "unknown"] = merged.get(name or "unknown", 0) + int(calls)
        return sorted(merged.items(), key=lambda item: (-item[1], item[0]))

    async def durations(self, period: Period) -> list[tuple[str, float]]:
        """``(outcome, duration_s)`` of the period's ended calls."""
        query = select(CallRow.outcome, CallRow.duration_s).where(
            *_calls_in(period), CallRow.outcome != "in_progress", CallRow.duration_s.is_not(None))
        async with self._sessions() as session:
            return [(r[0], float(r[1])) for r in (await session.execute(query)).all()]

    async def served_calls(self, period: Period, outcome: str) -> list[CallFact]:
        """The period's calls that ended with ``outcome`` (the bot's: ``completed``)."""
        query = select(CallRow.id, CallRow.caller_id, CallRow.started_at, CallRow.ended_at) \
            .where(*_calls_in(period), CallRow.outcome == outcome)
        async with self._sessions() as session:
            return [CallFact(*r) for r in (await session.execute(query)).all()]

    async def later_calls(self, numbers: Iterable[str], after: datetime, until: datetime) -> list[tuple[str, datetime]]:
        """``(caller id, started_at)`` of every call from these numbers started in ``(after, until]``, whatever its
        flow: the repeat calls that make a served call not contained. One range read (``started_at`` is indexed),
        the numbers picked here."""
        wanted = {n for n in numbers if n}
        query = select(CallRow.caller_id, CallRow.started_at).where(CallRow.started_at > after,
                                                                    CallRow.started_at <= until)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [(number, started) for number, started in rows if number in wanted]

    async def intents(self, period: Period) -> list[tuple[str, int]]:
        """Each intent heard, with the number of calls it was heard in (most first)."""
        calls = func.count(func.distinct(TurnRow.call_id))
        query = select(TurnRow.intent, calls).join(CallRow, CallRow.id == TurnRow.call_id) \
            .where(*_calls_in(period), TurnRow.intent.is_not(None), TurnRow.input_kind != "continued") \
            .group_by(TurnRow.intent).order_by(calls.desc(), TurnRow.intent)
        async with self._sessions() as session:
            return [(r[0], int(r[1])) for r in (await session.execute(query)).all()]

    async def emotions(self, period: Period) -> list[tuple[str, int]]:
        """Each emotion label of the callers' turns with its number of turns."""
        turns = func.count(TurnRow.id)
        query = select(TurnRow.emotion, turns).join(CallRow, CallRow.id == TurnRow.call_id) \
            .where(*_calls_in(period), TurnRow.emotion.is_not(None), TurnRow.input_kind != "continued") \
            .group_by(TurnRow.emotion).order_by(turns.desc(), TurnRow.emotion)
        async with self._sessions() as session:
            return [(r[0], int(r[1])) for r in (await session.execute(query)).all()]

    async def survey_scores(self, period: Period) -> list[tuple[str, int]]:
        """``(flow, score)`` of every survey answer of the period's calls."""
        score = EventRow.data["score"].as_integer()
        query = select(CallRow.flow, score).join(CallRow, CallRow.id == EventRow.call_id) \
            .where(*_calls_in(period), EventRow.kind == SURVEY_EVENT, score.is_not(None))
        async with self._sessions() as session:
            return [(r[0], int(r[1])) for r in (await session.execute(query)).all()]

    async def turn_marks(self, period: Period, marks: Sequence[str]) -> list[dict[str, float]]:
        """These stage marks (ms after each turn's first mark; read in SQL) of the period's spoken and keyed turns,
        each turn's as a dict of the marks it reached."""
        query = select(*(TurnRow.marks[m].as_float() for m in marks)).join(CallRow, CallRow.id == TurnRow.call_id) \
            .where(*_calls_in(period), TurnRow.input_kind.in_(("speech", "dtmf")))
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [{m: v for m, v in zip(marks, row, strict=True) if v is not None} for row in rows]

    async def queue_events(self, period: Period) -> list[QueueEvent]:
        """The queue events of the period (of its queue), oldest first."""
        q = QueueEventRow
        query = select(q.id, q.at, q.event, q.queue, q.unique_id, q.call_id, q.agent, q.interface,
                       q.hold_s, q.talk_s, q.ring_s, q.position, q.reason) \
            .where(q.at >= period.start, q.at < period.end).order_by(q.at, q.id)
        if period.queue:
            query = query.where(q.queue == period.queue)
        async with self._sessions() as session:
            return [QueueEvent(*row) for row in (await session.execute(query)).all()]

    async def agent_states(self, period: Period) -> list[AgentState]:
        """The agents' states in the period, with each agent's last state before it (what they were in when it
        began), oldest first."""
        before = select(AgentStateRow.agent, func.max(AgentStateRow.at).label("at")) \
            .where(AgentStateRow.at < period.start).group_by(AgentStateRow.agent).subquery()
        opening = select(AgentStateRow).join(before, and_(AgentStateRow.agent == before.c.agent,
                                                          AgentStateRow.at == before.c.at))
        within = select(AgentStateRow).where(AgentStateRow.at >= period.start, AgentStateRow.at < period.end)
        async with self._sessions() as session:
            rows = [*await session.scalars(opening), *await session.scalars(within)]
        rows.sort(key=lambda r: (r.at, r.id))
        return [AgentState(r.agent, r.state, r.at, r.reason, r.call_id, r.queue) for r in rows]

    async def flows_and_queues(self, period: Period) -> tuple[list[str], list[str]]:
        """The flows with calls and the queues with queue events or handoffs in the period, and the period's own
        (the filters' choices)."""
        started = [CallRow.started_at >= period.start, CallRow.started_at < period.end]
        async with self._sessions() as session:
            flows = set(await session.scalars(select(CallRow.flow).where(*started).distinct()))
            queues = set(await session.scalars(select(QueueEventRow.queue).where(
                QueueEventRow.at >= period.start, QueueEventRow.at < period.end).distinct()))
            queues |= set(await session.scalars(select(CallRow.queue).where(*started).distinct()))
        return sorted(f for f in flows | {period.flow} if f), sorted(q for q in queues | {period.queue} if q)


def _calls_in(period: Period) -> list[ColumnElement[bool]]:
    where = [CallRow.started_at >= period.start, CallRow.started_at < period.end]
    if period.flow:
        where.append(CallRow.flow == period.flow)
    if period.queue:
        where.append(CallRow.queue == period.queue)
    return where


def _digest(*parts: object) -> str:
    return hashlib.sha256("\n".join("" if p is None else str(p) for p in parts).encode()).hexdigest()[:32]


def _fields(event: QueueEvent) -> dict[str, Any]:
    return {"id": event.id, "at": event.at, "event": event.event, "queue": event.queue, "unique_id": event.unique_id,
            "call_id": event.call_id, "agent": event.agent,
            "interface": event.interface, "hold_s": event.hold_s, "talk_s": event.talk_s, "ring_s": event.ring_s,
            "position": event.position, "reason": event.reason}
