"""The read side of the call records (``engines.CallQueries``) on SQLAlchemy 2 (async), SQLite or PostgreSQL.

It reads what ``repo.SqlCallStore`` wrote and returns ``records.CallRecord`` / ``TurnRecord`` /
``EventRecord``; it never writes. The web API (``/api/calls…``), the dialplan's handoff lookup, QA and
eval read through it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import selectinload

from voicebot.store.models import CallRow, EventRow, TurnRow
from voicebot.store.records import CallRecord, EventRecord, TurnRecord


class SqlCallQueries:
    """``engines.CallQueries`` over an engine (the store's, or one from ``database.connect``)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def get_call(self, call_id: str) -> CallRecord | None:
        """The call with its turns, events and handoff packet, or None."""
        async with self._sessions() as session:
            row = await session.scalar(
                select(CallRow).where(CallRow.id == call_id)
                .options(selectinload(CallRow.turns), selectinload(CallRow.events)))
            if row is None:
                return None
            return call_record(row, len(row.turns), tuple(_turn(t) for t in row.turns),
                               tuple(_event(e) for e in row.events))

    async def list_calls(self, limit: int = 50, offset: int = 0,
                         outcome: str | None = None) -> list[CallRecord]:
        """Newest calls first, without turns and events (``turn_count`` says how many turns)."""
        turn_count = (select(func.count(TurnRow.id)).where(TurnRow.call_id == CallRow.id)
                      .correlate(CallRow).scalar_subquery())
        query = select(CallRow, turn_count).order_by(CallRow.started_at.desc(), CallRow.id)
        if outcome:
            query = query.where(CallRow.outcome == outcome)
        async with self._sessions() as session:
            rows = (await session.execute(query.limit(limit).offset(offset))).all()
        return [call_record(call, count) for call, count in rows]

    async def handoff_for(self, call_id: str) -> dict[str, Any] | None:
        """The handoff packet of a call (queue, skill, priority, ...), or None when it was not handed off."""
        async with self._sessions() as session:
            return await session.scalar(select(CallRow.handoff).where(CallRow.id == call_id))


def call_record(row: CallRow, turn_count: int, turns: tuple[TurnRecord, ...] = (),
                events: tuple[EventRecord, ...] = ()) -> CallRecord:
    """The record of a call row (``store/qa.py`` lists calls through it too)."""
    return CallRecord(id=row.id, caller_id=row.caller_id, flow=row.flow, started_at=row.started_at,
                      ended_at=row.ended_at, outcome=row.outcome, duration_s=row.duration_s, queue=row.queue,
                      handoff=row.handoff, turn_count=turn_count, turns=turns, events=events)


def _turn(row: TurnRow) -> TurnRecord:
    return TurnRecord(index=row.index, recorded_at=row.recorded_at, caller_text=row.caller_text,
                      asr_confidence=row.asr_confidence, input_kind=row.input_kind, intent=row.intent,
                      intent_confidence=row.intent_confidence, entities=row.entities, emotion=row.emotion,
                      emotion_score=row.emotion_score, bot_text=row.bot_text, decision=row.decision,
                      state=row.state, barged_in=row.barged_in, marks=row.marks, response_ms=row.response_ms)


def _event(row: EventRow) -> EventRecord:
    return EventRecord(at=row.at, kind=row.kind, data=row.data)
