"""The reports on the web: a page with charts for supervisors, QA and admins, and the API beside it.

* ``GET /reports?from=&to=&flow=&queue=`` — every report of the period (``voicebot/reports/build.py``), each with
  its chart (Chart.js, vendored under ``static/vendor/``), its table and a CSV link;
* ``GET /api/reports`` — the report names; ``GET /api/reports/{name}`` — one report as JSON;
  ``GET /api/reports/{name}.csv`` — as CSV (scope ``read``: an API token, or the person's session for a GET).

``from`` and ``to`` are ISO dates or times (UTC unless they say otherwise); a date alone as ``to`` includes that
day. A bad period or an unknown report is a 422 or a 404, never a 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from voicebot.reports.build import REPORTS, Report, Reports, parse_moment
from voicebot.store.reports import Period
from voicebot.web.pages import READERS, Pages, Refused

TEXT_MAX = 64  # flow and queue names
MOMENT_MAX = 32
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"  # no control characters (PostgreSQL refuses NUL in text)


def report_routes(reports: Reports, reader: Callable[..., Awaitable[Any]], pages: Pages | None) -> APIRouter:
    """The report API (``reader``: the dependency that checks scope ``read``) and, with ``pages``, the page."""
    router = APIRouter()
    guard = [Depends(reader)]

    def period(start: str | None, end: str | None, flow: str | None, queue: str | None) -> Period:
        try:
            return reports.period(parse_moment(start) if start else None, parse_moment(end, end=True) if end else None,
                                  flow, queue)
        except ValueError as error:
            raise HTTPException(422, str(error)) from None

    async def one(name: str, chosen: Period) -> Report:
        if name not in REPORTS:
            raise HTTPException(404, f"no report {name[:40]!r}; reports: {', '.join(REPORTS)}")
        return (await reports.build([name], chosen))[0]

    @router.get("/api/reports", dependencies=guard)
    async def names() -> dict[str, Any]:
        return {"reports": [{"name": name, "title": title} for name, title in REPORTS.items()]}

    @router.get("/api/reports/{name}.csv", dependencies=guard, response_class=Response,
                responses={200: {"content": {"text/csv": {}}}, 404: {"description": "No such report"},
                           422: {"description": "A bad period"}})
    async def as_csv(name: str, start: str | None = Query(None, alias="from", max_length=MOMENT_MAX),
                     end: str | None = Query(None, alias="to", max_length=MOMENT_MAX),
                     flow: str | None = Query(None, max_length=TEXT_MAX, pattern=PRINTABLE),
                     queue: str | None = Query(None, max_length=TEXT_MAX, pattern=PRINTABLE)) -> Response:
        report = await one(name, period(start, end, flow, queue))
        filename = f"{name}_{report.period.start:%Y%m%d}-{report.period.end:%Y%m%d}.csv"
        return Response(report.csv(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @router.get("/api/reports/{name}", dependencies=guard,
                responses={404: {"description": "No such report"}, 422: {"description": "A bad period"}})
    async def as_json(name: str, start: str | None = Query(None, alias="from", max_length=MOMENT_MAX),
                      end: str | None = Query(None, alias="to", max_length=MOMENT_MAX),
                      flow: str | None = Query(None, max_length=TEXT_MAX, pattern=PRINTABLE),
                      queue: str | None = Query(None, max_length=TEXT_MAX, pattern=PRINTABLE)) -> dict[str, Any]:
        return (await one(name, period(start, end, flow, queue))).to_json()

    if pages is not None:
        @router.get("/reports", include_in_schema=False)
        async def page(request: Request) -> Response:
            user = await pages.person(request, READERS)
            asked = {k: "".join(c for c in request.query_params.get(k, "") if c.isprintable())[:TEXT_MAX]
                     for k in ("from", "to", "flow", "queue")}
            try:
                chosen = reports.period(parse_moment(asked["from"]) if asked["from"] else None,
                                        parse_moment(asked["to"], end=True) if asked["to"] else None,
                                        asked["flow"], asked["queue"])
            except ValueError as error:
                raise Refused(422, f"That period cannot be read: {error}.") from None
            built = await reports.build(list(REPORTS), chosen)
            flows, queues = await reports.store.flows_and_queues(chosen)
            query = urlencode({k: v for k, v in (("from", chosen.start.isoformat()), ("to", chosen.end.isoformat()),
                                                 ("flow", chosen.flow), ("queue", chosen.queue)) if v})
            return pages.page(request, "reports.html", user=user, reports=built, period=chosen, flows=flows,
                              queues=queues, query=query, asked=asked)

    return router
