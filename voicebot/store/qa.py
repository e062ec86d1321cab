"""The QA console's records: the call list with filters and full-text search over transcripts, reviewers'
corrections of turns, score cards, scores per flow over time, and the corrected turns as training examples.

Full-text search (migration 0009): SQLite's FTS5 table ``turns_fts``, PostgreSQL's generated column
``turns.search_words`` (``to_tsvector('simple', …)`` of the same words) with a GIN index; both kept up to date
as turns are written. A search is the words of the query (letters and digits; punctuation and operators are
dropped), all of which one turn must contain.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, String, and_, exists, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from voicebot.store.models import CallRow, DeskActionRow, QaCorrectionRow, QaScoreRow, TurnRow
from voicebot.store.queries import call_record
from voicebot.store.records import CallRecord

MAX_WORDS = 12
SEARCH_WORDS = literal_column("turns.search_words")  # PostgreSQL: the turn's tsvector (migration 0009, no model)
CONTAINED = "completed"  # served by the bot to the end
NOT_CONTAINED = ("handoff", "abandoned", "error")
Period = Literal["day", "week", "month"]


@dataclass(frozen=True, slots=True)
class CallFilter:
    """What the call list shows: every field None (or empty) lets every call through."""

    words: str = ""  # full-text search over what the caller and the bot said
    since: date | None = None  # started on or after this day (UTC)
    until: date | None = None  # started on or before this day (UTC)
    flow: str | None = None
    intent: str | None = None  # a turn understood as this intent
    outcome: str | None = None
    emotion: str | None = None  # a turn with this emotion
    reason: str | None = None  # the handoff's reason
    contained: bool | None = None  # served by the bot (outcome completed), or handed off, abandoned, failed
    agent: str | None = None  # an agent who recorded something about the call on their desktop
    disposition: str | None = None
    score_min: float | None = None  # a score card scored at least this
    score_max: float | None = None


@dataclass(frozen=True, slots=True)
class ListedCall:
    call: CallRecord  # without turns and events
    score: float | None  # the mean of its score cards, if scored


@dataclass(frozen=True, slots=True)
class CallPage:
    calls: tuple[ListedCall, ...]
    total: int  # calls matching the filter


@dataclass(frozen=True, slots=True)
class Choices:
    """The values the filters offer, as found in the records."""

    flows: tuple[str, ...]
    intents: tuple[str, ...]
    outcomes: tuple[str, ...]
    emotions: tuple[str, ...]
    reasons: tuple[str, ...]
    agents: tuple[str, ...]
    dispositions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Correction:
    """A reviewer's correction of a turn (None: that part unchanged)."""

    turn_index: int
    caller_text: str | None
    intent: str | None
    user_name: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ScoreCard:
    call_id: str
    form: str
    score: float
    answers: dict[str, Any]  # question id -> {"answer": yes/no/na/1-5, "auto": bool, "why": str}
    comment: str
    user_name: str
    scored_at: datetime


@dataclass(frozen=True, slots=True)
class FlowScores:
    """The score cards of one flow's calls that started in one period."""

    flow: str
    period: date  # the period's first day
    cards: int
    mean: float


@dataclass(frozen=True, slots=True)
class Example:
    """A corrected turn as a training example for its flow."""

    flow: str
    intent: str
    text: str


def search_words(query: str) -> list[str]:
    """The words a search looks for (lower case, at most ``MAX_WORDS``)."""
    return re.findall(r"\w+", query.casefold())[:MAX_WORDS]


class SqlQaStore:
    """The QA records in the call record database (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine, mask: Callable[[str], str] | None = None) -> None:
        """``mask``: the PII masker's (``pii.mask``), applied to what reviewers type before it is written."""
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._postgres = engine.dialect.name == "postgresql"
        self._mask = mask or (lambda text: text)

    async def search(self, wanted: CallFilter, limit: int = 50, offset: int = 0) -> CallPage:
        """The calls matching ``wanted``, newest first, a page at a time, with how many match in all."""
        conditions = self._conditions(wanted)
        turns = (select(func.count(TurnRow.id)).where(TurnRow.call_id == CallRow.id)
                 .correlate(CallRow).scalar_subquery())
        score = (select(func.avg(QaScoreRow.score)).where(QaScoreRow.call_id == CallRow.id)
                 .correlate(CallRow).scalar_subquery())
        query = (select(CallRow, turns, score).where(*conditions)
                 .order_by(CallRow.started_at.desc(), CallRow.id).limit(limit).offset(offset))
        async with self._sessions() as session:
            total = await session.scalar(select(func.count(CallRow.id)).where(*conditions))
            rows = (await session.execute(query)).all()
        return CallPage(tuple(ListedCall(call_record(call, count), None if mean is None else round(mean, 1))
                              for call, count, mean in rows), int(total or 0))

    def _conditions(self, wanted: CallFilter) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if words := search_words(wanted.words):
            where.append(self._words(words))
        if wanted.since:
            where.append(CallRow.started_at >= datetime.combine(wanted.since, time(), UTC))
        if wanted.until:
            where.append(CallRow.started_at < datetime.combine(wanted.until + timedelta(days=1), time(), UTC))
        for column, value in ((CallRow.flow, wanted.flow), (CallRow.outcome, wanted.outcome)):
            if value:
                where.append(column == value)
        for column, value in ((TurnRow.intent, wanted.intent), (TurnRow.emotion, wanted.emotion)):
            if value:
                where.append(exists().where(TurnRow.call_id == CallRow.id, column == value))
        if wanted.reason:
            where.append(CallRow.handoff["reason"].as_string() == wanted.reason)
        if wanted.contained is not None:
            where.append(CallRow.outcome == CONTAINED if wanted.contained else CallRow.outcome.in_(NOT_CONTAINED))
        if wanted.agent:
            where.append(exists().where(DeskActionRow.call_id == CallRow.id, DeskActionRow.user_name == wanted.agent))
        if wanted.disposition:
            where.append(exists().where(DeskActionRow.call_id == CallRow.id, DeskActionRow.kind == "disposition",
                                        DeskActionRow.data["disposition"].as_string() == wanted.disposition))
        if wanted.score_min is not None or wanted.score_max is not None:
            bounds = [QaScoreRow.call_id == CallRow.id]
            if wanted.score_min is not None:
                bounds.append(QaScoreRow.score >= wanted.score_min)
            if wanted.score_max is not None:
                bounds.append(QaScoreRow.score <= wanted.score_max)
            where.append(exists().where(*bounds))
        return where

    def _words(self, words: list[str]) -> ColumnElement[bool]:
        """Calls with a turn holding every word: the FTS5 table on SQLite, the GIN-indexed tsvector column on
        PostgreSQL."""
        if self._postgres:
            query = func.plainto_tsquery(literal_column("'simple'::regconfig"), " ".join(words))
            return exists().where(TurnRow.call_id == CallRow.id, SEARCH_WORDS.op("@@")(query))
        match = " ".join(f'"{word}"' for word in words)
        found = text("SELECT call_id FROM turns_fts WHERE turns_fts MATCH :match").bindparams(match=match)
        return CallRow.id.in_(found.columns(call_id=String))

    async def choices(self) -> Choices:
        """The distinct values of each filter in the records, sorted."""
        queries = (select(CallRow.flow), select(TurnRow.intent), select(CallRow.outcome), select(TurnRow.emotion),
                   select(CallRow.handoff["reason"].as_string()), select(DeskActionRow.user_name),
                   select(DeskActionRow.data["disposition"].as_string())
                   .where(DeskActionRow.kind == "disposition"))
        found = []
        async with self._sessions() as session:
            for query in queries:
                values = (await session.scalars(query.distinct())).all()
                found.append(tuple(sorted(v for v in values if v)))
        return Choices(*found)

    async def correct(self, call_id: str, turn_index: int, caller_text: str | None, intent: str | None,
                      user_name: str) -> Correction | None:
        """Record a reviewer's correction of a turn; None when the call has no such turn."""
        async with self._sessions.begin() as session:
            turn = await session.scalar(select(TurnRow.id).where(TurnRow.call_id == call_id,
                                                                 TurnRow.index == turn_index))
            if turn is None:
                return None
            typed = None if caller_text is None else self._mask(caller_text)
            row = QaCorrectionRow(id=uuid.uuid4().hex, call_id=call_id, turn_index=turn_index, caller_text=typed,
                                  intent=intent, user_name=user_name, at=datetime.now(UTC))
            session.add(row)
        return _correction(row)

    async def corrections(self, call_id: str) -> dict[int, Correction]:
        """The newest correction of each corrected turn of a call."""
        async with self._sessions() as session:
            rows = (await session.scalars(select(QaCorrectionRow).where(QaCorrectionRow.call_id == call_id)
                                          .order_by(QaCorrectionRow.at, QaCorrectionRow.id))).all()
        return {row.turn_index: _correction(row) for row in rows}

    async def save_score(self, card: ScoreCard) -> None:
        """Store a call's score card (replacing the same form's earlier card)."""
        async with self._sessions.begin() as session:
            row = await session.get(QaScoreRow, (card.call_id, card.form))
            if row is None:
                row = QaScoreRow(call_id=card.call_id, form=card.form)
                session.add(row)
            row.score, row.answers, row.comment = card.score, card.answers, self._mask(card.comment)
            row.user_name, row.scored_at = card.user_name, card.scored_at

    async def scores(self, call_id: str) -> dict[str, ScoreCard]:
        """A call's score cards by form."""
        async with self._sessions() as session:
            rows = (await session.scalars(select(QaScoreRow).where(QaScoreRow.call_id == call_id))).all()
        return {row.form: ScoreCard(row.call_id, row.form, row.score, row.answers, row.comment, row.user_name,
                                    row.scored_at) for row in rows}

    async def flow_scores(self, since: date, until: date, period: Period = "week",
                          form: str | None = None) -> list[FlowScores]:
        """Mean score per flow and period (by the day each call started), oldest period first."""
        query = (select(CallRow.flow, CallRow.started_at, QaScoreRow.score)
                 .join(QaScoreRow, QaScoreRow.call_id == CallRow.id)
                 .where(CallRow.started_at >= datetime.combine(since, time(), UTC),
                        CallRow.started_at < datetime.combine(until + timedelta(days=1), time(), UTC)))
        if form:
            query = query.where(QaScoreRow.form == form)
        groups: dict[tuple[date, str], list[float]] = defaultdict(list)
        async with self._sessions() as session:
            for flow, started, value in (await session.execute(query)).all():
                groups[(period_start(started.date(), period), flow)].append(value)
        return [FlowScores(flow, start, len(values), round(sum(values) / len(values), 1))
                for (start, flow), values in sorted(groups.items())]

    async def examples(self, flow: str | None = None) -> list[Example]:
        """Every corrected turn (of ``flow``, or of all flows) as a training example, oldest call first."""
        query = (select(CallRow.flow, TurnRow.caller_text, TurnRow.intent, QaCorrectionRow)
                 .join(TurnRow, and_(TurnRow.call_id == QaCorrectionRow.call_id,
                                     TurnRow.index == QaCorrectionRow.turn_index))
                 .join(CallRow, CallRow.id == QaCorrectionRow.call_id)
                 .order_by(CallRow.started_at, QaCorrectionRow.turn_index, QaCorrectionRow.at, QaCorrectionRow.id))
        if flow:
            query = query.where(CallRow.flow == flow)
        newest: dict[tuple[str, int], Example] = {}
        async with self._sessions() as session:
            for call_flow, heard, understood, fix in (await session.execute(query)).all():
                intent = fix.intent or understood
                newest[(fix.call_id, fix.turn_index)] = Example(
                    call_flow, intent or "", heard if fix.caller_text is None else fix.caller_text)
        return [example for example in newest.values() if example.intent]


def period_start(day: date, period: Period) -> date:
    """The first day of the day's week (Monday) or month, or the day itself."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def _correction(row: QaCorrectionRow) -> Correction:
    return Correction(row.turn_index, row.caller_text, row.intent, row.user_name, row.at)
