"""The reports as tables: each :class:`Report` has columns, rows, a chart and its figures, for the web pages
(``web/reports.py``), the CSV export and ``voicebot report``. The facts come from ``store/reports.py``, the
arithmetic from ``measures.py``; this module only names, orders and rounds."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from voicebot.config import ReportSettings
from voicebot.reports import measures as m
from voicebot.store.reports import AgentState, Period, QueueEvent, SqlReportStore

PARALLEL_REPORTS = 3  # reports built at once: a page view holds at most this many of the store's connections
FORMULA_STARTS = frozenset("=+-@\t\r")
YEARS = (1970, 2999)  # what a period may cover: every database stores it, arithmetic never overflows
REPORTS: dict[str, str] = {  # name -> title, in the order the page shows them
    "containment": "Containment",
    "outcomes": "Call outcomes",
    "handoffs": "Handoff reasons",
    "intents": "Intent mix",
    "handle-time": "Bot handle time",
    "csat": "Customer satisfaction (survey)",
    "emotions": "Caller emotion",
    "queues": "Queues",
    "agents": "Agents",
    "latency": "Reply latency per stage",
}


@dataclass(frozen=True, slots=True)
class Chart:
    """How the page draws a report: the label column and the value columns, one data set each."""

    kind: Literal["bar", "doughnut"]
    label: str
    values: tuple[str, ...]
    stacked: bool = False
    scale: Literal["count", "rate", "amount"] = "count"  # whole numbers; 0 to 1; anything


@dataclass(frozen=True, slots=True)
class Report:
    name: str
    title: str
    period: Period
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    chart: Chart | None = None
    note: str = ""  # how the figures are counted, in one line
    figures: dict[str, Any] = field(default_factory=dict)  # headline figures besides the rows

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "from": self.period.start.isoformat(),
                "to": self.period.end.isoformat(), "flow": self.period.flow, "queue": self.period.queue,
                "note": self.note, "figures": self.figures, "columns": list(self.columns), "rows": self.records()}

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.columns)
        writer.writerows([_cell(v) for v in row] for row in self.rows)
        return out.getvalue()

    def chart_data(self) -> dict[str, Any] | None:
        """What ``static/reports.js`` hands Chart.js: labels and one data set per value column."""
        if self.chart is None or not self.rows:
            return None
        index = {c: i for i, c in enumerate(self.columns)}
        return {"kind": self.chart.kind, "stacked": self.chart.stacked, "scale": self.chart.scale,
                "labels": [str(row[index[self.chart.label]]) for row in self.rows],
                "datasets": [{"label": name, "data": [row[index[name]] for row in self.rows]}
                             for name in self.chart.values]}


class _Facts:
    """The queue facts of one period, read once for both the queue and the agent reports (built concurrently)."""

    def __init__(self, store: SqlReportStore, period: Period) -> None:
        self.store, self.period = store, period
        self._events: asyncio.Task[list[QueueEvent]] | None = None
        self._states: asyncio.Task[list[AgentState]] | None = None

    async def queue_events(self) -> list[QueueEvent]:
        if self._events is None:
            self._events = asyncio.ensure_future(self.store.queue_events(self.period))
        return await asyncio.shield(self._events)

    async def agent_states(self) -> list[AgentState]:
        if self._states is None:
            self._states = asyncio.ensure_future(self.store.agent_states(self.period))
        return await asyncio.shield(self._states)


class Reports:
    """Builds the named reports over the store (``clock``: the time now, UTC)."""

    def __init__(self, store: SqlReportStore, settings: ReportSettings,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store, self.settings, self.clock = store, settings, clock

    def period(self, start: datetime | None = None, end: datetime | None = None, flow: str | None = None,
               queue: str | None = None) -> Period:
        """``[start, end)`` in UTC (naive times are UTC): by default the last ``default_days`` up to now.
        ``ValueError`` when it ends before it starts."""
        end = _utc(end) if end else self.clock()
        start = _utc(start) if start else end - timedelta(days=self.settings.default_days)
        if end <= start:
            raise ValueError("the period must end after it starts")
        return Period(start, end, flow or None, queue or None)

    async def build(self, names: Sequence[str], period: Period) -> list[Report]:
        """The named reports of one period; ``KeyError`` for a name not in :data:`REPORTS`."""
        for name in names:
            if name not in REPORTS:
                raise KeyError(name)
        facts = _Facts(self.store, period)
        lanes = asyncio.Semaphore(PARALLEL_REPORTS)

        async def one(name: str) -> Report:
            async with lanes:
                return await getattr(self, "_" + name.replace("-", "_"))(facts)

        return list(await asyncio.gather(*(one(name) for name in names)))

    def _service_level_s(self, queue: str) -> float:
        return self.settings.queue_service_level_s.get(queue, self.settings.service_level_s)

    async def _containment(self, f: _Facts) -> Report:
        ended = sum(n for _, n in await self.store.outcomes(f.period))
        served = await self.store.served_calls(f.period, m.SERVED)
        window = timedelta(hours=self.settings.repeat_window_h)
        numbered = [c for c in served if c.caller_id]
        later = await self.store.later_calls((c.caller_id for c in numbered), f.period.start,
                                             max(c.ended_at or c.started_at for c in numbered) + window) \
            if numbered else []
        c = m.containment(ended, served, later, self.settings.repeat_window_h, self.clock())
        return Report("containment", REPORTS["containment"], f.period, ("measure", "calls", "contained", "rate"),
                      (("raw", c.calls, c.served, _r(c.raw_rate)), ("strict", c.calls, c.contained, _r(c.strict_rate))),
                      Chart("bar", "measure", ("rate",), scale="rate"),
                      f"raw: ended in the flow ÷ ended calls; strict: and no call from the number within "
                      f"{self.settings.repeat_window_h:g} h",
                      {"raw_rate": _r(c.raw_rate), "strict_rate": _r(c.strict_rate), "repeat_called": c.repeat_called,
                       "withheld_numbers": c.withheld, "window_open": c.pending})

    async def _outcomes(self, f: _Facts) -> Report:
        rows = m.shares(await self.store.outcomes(f.period))
        return Report("outcomes", REPORTS["outcomes"], f.period, ("outcome", "calls", "share"),
                      tuple((s.name, s.count, _r(s.share)) for s in rows), Chart("doughnut", "outcome", ("calls",)))

    async def _handoffs(self, f: _Facts) -> Report:
        rows = m.shares(await self.store.handoff_reasons(f.period))
        return Report("handoffs", REPORTS["handoffs"], f.period, ("reason", "calls", "share"),
                      tuple((s.name, s.count, _r(s.share)) for s in rows), Chart("bar", "reason", ("calls",)),
                      "calls handed to a person, by the reason the flow gave")

    async def _intents(self, f: _Facts) -> Report:
        rows = m.shares(await self.store.intents(f.period))
        return Report("intents", REPORTS["intents"], f.period, ("intent", "calls", "share"),
                      tuple((s.name, s.count, _r(s.share)) for s in rows), Chart("bar", "intent", ("calls",)),
                      "calls in which each intent was heard (a call counts once per intent)")

    async def _handle_time(self, f: _Facts) -> Report:
        rows = m.handle_times(await self.store.durations(f.period))
        return Report("handle-time", REPORTS["handle-time"], f.period, ("group", "calls", "mean_s", "p50_s", "p90_s"),
                      tuple((h.group, h.calls, _s(h.mean_s), _s(h.p50_s), _s(h.p90_s)) for h in rows),
                      Chart("bar", "group", ("mean_s", "p90_s"), scale="amount"), "seconds from the bot answering to its end of the call")

    async def _csat(self, f: _Facts) -> Report:
        rows = m.csat(await self.store.survey_scores(f.period))
        return Report("csat", REPORTS["csat"], f.period,
                      ("group", "responses", "mean_score", "csat", "score_1", "score_2", "score_3", "score_4", "score_5"),
                      tuple((c.group, c.responses, _s(c.mean_score), _r(c.csat), *c.distribution) for c in rows),
                      Chart("bar", "group", ("score_1", "score_2", "score_3", "score_4", "score_5"), stacked=True),
                      "post-call survey answers (1-5); CSAT = answers of 4 or 5 ÷ answers",
                      {"csat": _r(rows[0].csat), "responses": rows[0].responses})

    async def _emotions(self, f: _Facts) -> Report:
        rows = m.shares(await self.store.emotions(f.period))
        return Report("emotions", REPORTS["emotions"], f.period, ("emotion", "turns", "share"),
                      tuple((s.name, s.count, _r(s.share)) for s in rows), Chart("doughnut", "emotion", ("turns",)),
                      "the emotion read in each caller turn")

    async def _queues(self, f: _Facts) -> Report:
        rows = m.queue_figures(await f.queue_events(), await f.agent_states(), f.period.end, self._service_level_s)
        return Report("queues", REPORTS["queues"], f.period,
                      ("queue", "offered", "answered", "abandoned", "other_exits", "answered_in_sl", "service_level_s",
                       "service_level", "asa_s", "avg_abandon_s", "avg_talk_s", "avg_wrap_s", "aht_s"),
                      tuple((q.name, q.offered, q.answered, q.abandoned, q.other_exits, q.answered_in_sl,
                             q.service_level_s, _r(q.service_level), _s(q.asa_s), _s(q.avg_abandon_s),
                             _s(q.avg_talk_s), _s(q.avg_wrap_s), _s(q.aht_s)) for q in rows),
                      Chart("bar", "queue", ("answered", "abandoned", "other_exits"), stacked=True),
                      "from Asterisk's queue events; service level = answered within the threshold ÷ "
                      "(answered + abandoned)")

    async def _agents(self, f: _Facts) -> Report:
        states = await f.agent_states()
        rows = m.agent_figures(await f.queue_events(), states, f.period.end, self._service_level_s)
        spent = m.time_in_states(states, f.period.start, min(f.period.end, self.clock()))
        return Report("agents", REPORTS["agents"], f.period,
                      ("agent", "rung", "answered", "not_answered", "answered_in_sl", "service_level", "asa_s",
                       "avg_talk_s", "avg_wrap_s", "aht_s", *(f"{s}_s" for s in m.STATES)),
                      tuple((a.name, a.offered, a.answered, a.abandoned, a.answered_in_sl, _r(a.service_level),
                             _s(a.asa_s), _s(a.avg_talk_s), _s(a.avg_wrap_s), _s(a.aht_s),
                             *(_s(spent.get(a.name, {}).get(s, 0.0)) for s in m.STATES)) for a in rows),
                      Chart("bar", "agent", ("answered", "not_answered"), stacked=True),
                      "service level here = answered within the queue's threshold ÷ answered")

    async def _latency(self, f: _Facts) -> Report:
        rows = m.stage_latencies(await self.store.turn_marks(f.period, m.MARKS))
        return Report("latency", REPORTS["latency"], f.period, ("stage", "turns", "p50_ms", "p90_ms", "p95_ms", "p99_ms"),
                      tuple((s.stage, s.turns, _s(s.p50_ms), _s(s.p90_ms), _s(s.p95_ms), _s(s.p99_ms)) for s in rows),
                      Chart("bar", "stage", ("p50_ms", "p95_ms"), scale="amount"),
                      "milliseconds per stage of the bot's reply; reply = end of the caller's speech to the first "
                      "audio sent")


def _cell(value: Any) -> Any:
    """A CSV cell: empty for None; text a spreadsheet would run as a formula (=, +, -, @) is quoted with '."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def parse_moment(text: str, end: bool = False) -> datetime:
    """An ISO date or date-time (UTC unless it names its offset); a date alone is its midnight, or with ``end``
    the next midnight (the day is included). ``ValueError`` for anything else."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day + timedelta(days=1 if end else 0), time(), UTC)
        else:
            moment = _utc(datetime.fromisoformat(text))
    except (ValueError, OverflowError):
        raise ValueError(f"{text[:40]!r} is not a date (2026-12-01) or a time (2026-12-01T09:00)") from None
    if not YEARS[0] <= moment.year <= YEARS[1]:
        raise ValueError(f"a report covers years {YEARS[0]} to {YEARS[1]}")
    return moment


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _s(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
