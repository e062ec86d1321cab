"""The durable callback queue: callers who chose to be called back rather than wait, in the database so a
request keeps its place across restarts.

A request is ``waiting`` until a scheduler claims it (``dialing``; the claim is one conditional UPDATE, so
two schedulers never both win it, and it counts an attempt) and then ``connected`` or ``failed``; or
``cancelled``. A scheduler that stopped mid-dial (a restart) leaves it ``dialing``; once that dial has surely
ended, :meth:`SqlCallbackQueue.settle_interrupted` puts it back to ``waiting`` at its place (its ``joined_at``
is kept) while it has attempts left, and fails it (``interrupted``) after that. One number has at most one live
(waiting or dialing) request: the unique ``active_number`` column, cleared when the request ends, so a number is
never dialled twice at once. An agent's scheduled callback (``not_before``) waits until its time and then takes
its place as a caller joining the queue then.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from voicebot.store.models import CallbackRow

WAITING, DIALING, CONNECTED, FAILED, CANCELLED = "waiting", "dialing", "connected", "failed", "cancelled"


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    id: str
    call_id: str
    number: str
    queue: str
    priority: int
    joined_at: datetime  # when the caller first joined the queue: their place
    requested_at: datetime
    state: str
    dialed_at: datetime | None
    finished_at: datetime | None
    channel: str
    result: str
    not_before: datetime | None = None  # not dialled before this time (an agent's scheduled callback)
    attempts: int = 0  # dials begun


class SqlCallbackQueue:
    """Callback requests in the call record database (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def request(self, call_id: str, number: str, queue: str, priority: int,
                      joined_at: datetime, not_before: datetime | None = None) -> CallbackRequest:
        """Queue a callback at the caller's place (``joined_at``), not dialled before ``not_before`` if given; a
        number with a live request gets that request back, unchanged (it keeps its earlier place and is not
        dialled twice)."""
        if not number:
            raise ValueError("a callback needs a number")
        row = CallbackRow(id=uuid.uuid4().hex, call_id=call_id, number=number, active_number=number,
                          queue=queue, priority=priority, joined_at=joined_at, requested_at=datetime.now(UTC),
                          state=WAITING, channel="", result="", not_before=not_before, attempts=0)
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            live = await self.live_for(number)
            if live is None:  # ended between the insert and the look-up: a new request is due
                return await self.request(call_id, number, queue, priority, joined_at, not_before)
            return live
        return _record(row)

    async def live_for(self, number: str) -> CallbackRequest | None:
        async with self._sessions() as session:
            row = await session.scalar(select(CallbackRow).where(CallbackRow.active_number == number))
            return _record(row) if row is not None else None

    async def for_call(self, call_id: str) -> CallbackRequest | None:
        """The latest request made in (or for) the call."""
        async with self._sessions() as session:
            row = await session.scalar(select(CallbackRow).where(CallbackRow.call_id == call_id)
                                       .order_by(CallbackRow.requested_at.desc()).limit(1))
            return _record(row) if row is not None else None

    async def get(self, request_id: str) -> CallbackRequest | None:
        async with self._sessions() as session:
            row = await session.get(CallbackRow, request_id)
            return _record(row) if row is not None else None

    async def waiting(self, queue: str | None = None) -> list[CallbackRequest]:
        """Waiting requests in ``Queue()``'s order: higher priority first, then who joined first (scheduled ones
        whose time has not come included: the scheduler leaves them)."""
        query = select(CallbackRow).where(CallbackRow.state == WAITING)
        if queue is not None:
            query = query.where(CallbackRow.queue == queue)
        query = query.order_by(CallbackRow.priority.desc(), CallbackRow.joined_at, CallbackRow.requested_at)
        async with self._sessions() as session:
            return [_record(row) for row in await session.scalars(query)]

    async def claim(self, request_id: str) -> bool:
        """Take a waiting request for dialling; False when it is no longer waiting (another scheduler took it,
        or it was cancelled)."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(CallbackRow)
                .where(CallbackRow.id == request_id, CallbackRow.state == WAITING)
                .values(state=DIALING, dialed_at=datetime.now(UTC), attempts=CallbackRow.attempts + 1)
            )
            return result.rowcount == 1  # type: ignore[attr-defined]

    async def finish(self, request_id: str, connected: bool, channel: str = "", result: str = "") -> None:
        """A dial ended: ``connected`` (the customer answered and went to the queue) or failed."""
        await self._end(request_id, CONNECTED if connected else FAILED, (DIALING,), channel, result)

    async def cancel(self, request_id: str, reason: str = "cancelled") -> bool:
        """Withdraw a waiting request (the caller preferred a ticket, called in again…)."""
        return await self._end(request_id, CANCELLED, (WAITING,), "", reason)

    async def settle_interrupted(self, dialing_before: datetime, max_attempts: int) -> list[CallbackRequest]:
        """Settle the requests claimed before ``dialing_before`` and never finished (their scheduler stopped
        mid-dial, and that dial has ended by now): back to ``waiting`` at their place while they have had fewer
        than ``max_attempts`` dials, ``failed`` (``interrupted``) after that; each as it is now."""
        async with self._sessions.begin() as session:
            rows = list(await session.scalars(
                select(CallbackRow)
                .where(CallbackRow.state == DIALING, CallbackRow.dialed_at < dialing_before)
                .with_for_update()
            ))
            for row in rows:
                if row.attempts < max_attempts:
                    row.state, row.dialed_at, row.result = WAITING, None, f"interrupted (attempt {row.attempts})"
                else:
                    row.state, row.active_number, row.result = FAILED, None, "interrupted"
                    row.finished_at = datetime.now(UTC)
        return [_record(row) for row in rows]

    async def _end(self, request_id: str, state: str, from_states: tuple[str, ...], channel: str,
                   result: str) -> bool:
        async with self._sessions.begin() as session:
            changed = await session.execute(
                update(CallbackRow)
                .where(CallbackRow.id == request_id, CallbackRow.state.in_(from_states))
                .values(state=state, active_number=None, finished_at=datetime.now(UTC), channel=channel,
                        result=result)
            )
            return changed.rowcount == 1  # type: ignore[attr-defined]


def _record(row: CallbackRow) -> CallbackRequest:
    return CallbackRequest(id=row.id, call_id=row.call_id, number=row.number, queue=row.queue,
                           priority=row.priority, joined_at=row.joined_at, requested_at=row.requested_at,
                           state=row.state, dialed_at=row.dialed_at, finished_at=row.finished_at,
                           channel=row.channel, result=row.result, not_before=row.not_before,
                           attempts=row.attempts)
