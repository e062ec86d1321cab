"""``voicebot report``: the reports of one period from the call record database, as text tables, CSV or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from voicebot.config import ReportSettings
from voicebot.reports.build import REPORTS, Report, Reports, parse_moment
from voicebot.store import database
from voicebot.store.reports import SqlReportStore


async def reports_at(url: str, names: Sequence[str], settings: ReportSettings, start: str | None = None,
                     end: str | None = None, flow: str | None = None, queue: str | None = None) -> list[Report]:
    """Bring the database up to date, then build the named reports (``all``: every one). ``ValueError`` for a bad
    period, ``KeyError`` for an unknown report."""
    wanted = list(REPORTS) if list(names) == ["all"] else list(names)
    engine = database.connect(url)
    try:
        await database.upgrade(engine)
        reports = Reports(SqlReportStore(engine), settings)
        period = reports.period(parse_moment(start) if start else None, parse_moment(end, end=True) if end else None,
                                flow, queue)
        return await reports.build(wanted, period)
    finally:
        await engine.dispose()


def as_text(reports: Sequence[Report]) -> str:
    """Aligned tables, one per report, with its period, note and headline figures."""
    out: list[str] = []
    for report in reports:
        p = report.period
        scope = "".join(f", {k} {v}" for k, v in (("flow", p.flow), ("queue", p.queue)) if v)
        out.append(f"{report.title} ({p.start:%Y-%m-%d %H:%M} to {p.end:%Y-%m-%d %H:%M} UTC{scope})")
        if report.note:
            out.append(f"  {report.note}")
        if report.figures:
            out.append("  " + ", ".join(f"{k.replace('_', ' ')} {_cell(v)}" for k, v in report.figures.items()))
        cells = [list(report.columns)] + [[_cell(v) for v in row] for row in report.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(report.columns))]
        for row in cells:
            out.append("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                        for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip())
        if not report.rows:
            out.append("  (nothing to count in this period)")
        out.append("")
    return "\n".join(out)


def as_json(reports: Sequence[Report]) -> str:
    return json.dumps(reports[0].to_json() if len(reports) == 1 else [r.to_json() for r in reports], indent=2)


def as_csv(reports: Sequence[Report]) -> str:
    """One report's CSV; several are separated by a line naming each."""
    if len(reports) == 1:
        return reports[0].csv()
    return "\r\n".join(f"# {r.name}\r\n{r.csv()}" for r in reports)


def _cell(value: object) -> str:
    return "—" if value is None else str(value)
