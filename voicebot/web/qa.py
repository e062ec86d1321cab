"""The QA console: the call list with filters and full-text search, each call's review page, score trends and
the export of corrected turns as training examples. For supervisors, QA staff and admins (``READERS``).

* ``GET /calls`` — the calls matching the filters (``CallFilter``: words, dates, flow, intent, outcome, emotion,
  handoff reason, contained, agent, disposition, QA score), newest first, a page at a time;
* ``GET /calls/{id}`` — the turn timeline with each stage's latency, what the bot heard beside the reviewer's
  correction, the intent and the dialog's decisions, the bot's words as spoken (say-as rendered), the call's
  events, its recording (``/calls/{id}/recording``) in step with the transcript (``static/qa.js``), and the
  score cards of the forms for its flow (rule questions answered from the record);
* ``POST /calls/{id}/turns/{n}/correction`` — a reviewer's correction of turn n (text, intent);
* ``POST /calls/{id}/scores/{form}`` — a filled score card (the rules are answered again, here, from the record);
* ``GET /qa/scores`` and ``GET /api/qa/scores`` — mean score per flow per day, week or month;
* ``GET /qa/export`` and ``GET /qa/export/{flow}.yaml`` — corrected turns as the flow's intent examples.

Without a QA console in the context (``People.qa`` None: an API-only set-up) the list is the latest calls and
the call page the transcript alone.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from voicebot.engines import CallQueries
from voicebot.qa.export import by_flow, flow_yaml
from voicebot.qa.forms import NA, AutoAnswer, ScoreForm, auto_answers, reviewer_answers, score
from voicebot.speech.say_as import normalize
from voicebot.store.qa import CallFilter, Correction, Period, ScoreCard
from voicebot.store.records import CallRecord, TurnRecord
from voicebot.store.users import UserRecord
from voicebot.web.context import QaConsole
from voicebot.web.pages import READERS, Pages, Refused

LATEST_CALLS = 50  # the list without a QA console
TEXT_MAX = 1000  # a corrected transcript
NAME_MAX = 64  # an intent, a filter value
TREND_WEEKS = 12  # the score trend's default span
TREND_DAYS_MAX = 3660
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)
STAGES = ("speech_start", "first_pause", "speech_end", "asr_final", "heard_again", "nlu_done", "dialog_done",
          "tts_first_audio", "first_frame_sent")
FILTER_FIELDS = ("words", "since", "until", "flow", "intent", "outcome", "emotion", "reason", "contained", "agent",
                 "disposition", "score_min", "score_max")


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage of a turn: its name and the milliseconds since the stage before it."""

    name: str
    ms: float


@dataclass(frozen=True, slots=True)
class TurnView:
    """A turn as the review page shows it."""

    turn: TurnRecord
    start_s: float  # where the caller's speech starts in the call (≈ its recording), seconds
    stages: tuple[Stage, ...]
    spoken: str  # the bot's words as the voice said them (say-as rendered)
    correction: Correction | None

    @property
    def said(self) -> str:
        """What the caller said: the reviewer's correction, else what the bot heard."""
        fixed = self.correction.caller_text if self.correction else None
        return self.turn.caller_text if fixed is None else fixed

    @property
    def intent(self) -> str | None:
        fixed = self.correction.intent if self.correction else None
        return fixed or self.turn.intent


@dataclass(frozen=True, slots=True)
class CardView:
    """A score card form on a call's page: the rules' answers, the stored card if any."""

    form: ScoreForm
    auto: dict[str, AutoAnswer]
    stored: ScoreCard | None

    def answer(self, question_id: str) -> str:
        if question_id in self.auto:
            return self.auto[question_id].answer
        return str(self.stored.answers.get(question_id, {}).get("answer", NA)) if self.stored else NA


def day(text: str) -> date:
    """A day written YYYY-MM-DD, from 1970 to 2999; ``ValueError`` otherwise (a year 9999 would overflow the
    day after)."""
    found = date.fromisoformat(text)
    if not FIRST_DAY <= found <= LAST_DAY:
        raise ValueError(f"a day from {FIRST_DAY} to {LAST_DAY}")
    return found


def call_filter(params: dict[str, str]) -> CallFilter:
    """The list's filter from its query string; ``Refused`` (422) for a value it cannot read."""
    values: dict[str, Any] = {}
    for name in FILTER_FIELDS:
        raw = params.get(name, "").strip()
        if not raw:
            continue
        if len(raw) > (200 if name == "words" else NAME_MAX):
            raise Refused(422, f"The {name} filter is too long.")
        try:
            if name in ("since", "until"):
                values[name] = day(raw)
            elif name in ("score_min", "score_max"):
                values[name] = float(raw)
                if not 0 <= values[name] <= 100:
                    raise ValueError
            elif name == "contained":
                values[name] = {"yes": True, "no": False}[raw]
            else:
                values[name] = raw
        except (ValueError, KeyError):
            raise Refused(422, f"The {name} filter cannot be {raw[:40]!r}: see the form for what it takes.") from None
    return CallFilter(**values)


TURN_GAP_S = 0.1  # the least a turn starts after the one before it on the page (qa.js matches within 0.05 s)


def turn_views(call: CallRecord, corrections: dict[int, Correction]) -> list[TurnView]:
    """The call's turns for the review page, in order."""
    views: list[TurnView] = []
    for turn in sorted(call.turns, key=lambda t: t.index):
        marks = {name: float(at) for name, at in turn.marks.items() if isinstance(at, int | float)}
        span_s = max(marks.values(), default=0.0) / 1000
        start = max(0.0, (turn.recorded_at - call.started_at).total_seconds() - span_s)
        if views:  # an estimate: never before the turn before it (the player highlights the last turn started)
            start = max(start, views[-1].start_s + TURN_GAP_S)
        stages, before = [], None
        for name in sorted(marks, key=lambda n: (marks[n], STAGES.index(n) if n in STAGES else len(STAGES))):
            stages.append(Stage(name, 0.0 if before is None else marks[name] - before))
            before = marks[name]
        views.append(TurnView(turn, round(start, 2), tuple(stages), normalize(turn.bot_text) if turn.bot_text else "",
                              corrections.get(turn.index)))
    return views


def trend_span(since: str, until: str, period: str) -> tuple[date, date, Period]:
    """The score trend's dates and period from a query string; ``ValueError`` when it cannot be read."""
    if period not in get_args(Period):
        raise ValueError(f"period is one of {', '.join(get_args(Period))}")
    last = day(until) if until else datetime.now(UTC).date()
    first = day(since) if since else last - timedelta(weeks=TREND_WEEKS)
    if first > last or (last - first).days > TREND_DAYS_MAX:
        raise ValueError(f"since comes before until, at most {TREND_DAYS_MAX} days before")
    return first, last, period  # type: ignore[return-value]


class QaPages:
    """The console's pages; ``router`` serves them, ``call_list`` is also the readers' home page."""

    def __init__(self, pages: Pages, calls: CallQueries, console: QaConsole | None) -> None:
        self.pages, self.calls, self.console = pages, calls, console
        self.router = self._routes()

    async def call_list(self, request: Request, user: UserRecord) -> HTMLResponse:
        params = dict(request.query_params)
        if self.console is None:
            listed = [(call, None) for call in await self.calls.list_calls(limit=LATEST_CALLS)]
            return self.pages.page(request, "calls.html", user=user, listed=listed, total=len(listed))
        size = self.console.settings.page_size
        wanted = call_filter(params)
        try:
            number = max(1, min(int(params.get("page", "1")), 1_000_000))
        except ValueError:
            raise Refused(422, "The page number is a whole number.") from None
        found = await self.console.store.search(wanted, limit=size, offset=(number - 1) * size)
        pages = max(1, math.ceil(found.total / size))
        kept = {k: v for k, v in params.items() if k in FILTER_FIELDS and v}
        link = {n: f"/calls?{urlencode({**kept, 'page': n})}" for n in (number - 1, number + 1)}
        return self.pages.page(request, "calls.html", user=user, listed=[(c.call, c.score) for c in found.calls],
                               total=found.total, filters=kept, choices=await self.console.store.choices(),
                               page_number=number, pages=pages, previous=link[number - 1] if number > 1 else None,
                               next=link[number + 1] if number < pages else None)

    async def _call(self, call_id: str) -> CallRecord:
        try:
            call = await self.calls.get_call(str(uuid.UUID(call_id)))
        except ValueError:
            call = None
        if call is None:
            raise Refused(404, f"There is no call {call_id[:80]}.")
        return call

    async def call_page(self, request: Request, user: UserRecord, call: CallRecord, status: int = 200,
                        message: str = "", error: str = "") -> HTMLResponse:
        console = self.console
        corrections = await console.store.corrections(call.id) if console else {}
        cards: list[CardView] = []
        intents: tuple[str, ...] = ()
        if console is not None:
            stored = await console.store.scores(call.id)
            cards = [CardView(form, auto_answers(form, call), stored.get(form.name))
                     for form in console.forms.values() if form.applies_to(call.flow)]
            intents = (await console.store.choices()).intents
        return self.pages.page(request, "call.html", status, user=user, call=call, qa=console is not None,
                               turns=turn_views(call, corrections), cards=cards, intents=intents,
                               message=message or request.query_params.get("saved", "")[:120], error=error)

    def _routes(self) -> APIRouter:
        router = APIRouter(include_in_schema=False)
        pages = self.pages

        def console() -> QaConsole:
            if self.console is None:
                raise Refused(404, "The QA console is not set up on this server.")
            return self.console

        @router.get("/calls")
        async def calls_page(request: Request) -> Response:
            return await self.call_list(request, await pages.person(request, READERS))

        @router.get("/calls/{call_id}")
        async def call_page(request: Request, call_id: str) -> Response:
            user = await pages.person(request, READERS)
            return await self.call_page(request, user, await self._call(call_id))

        @router.post("/calls/{call_id}/turns/{index}/correction")
        async def correct(request: Request, call_id: str, index: int) -> Response:
            user, fields = await pages.posted(request, READERS)
            qa = console()
            call = await self._call(call_id)
            said = " ".join(fields.get("caller_text", "").split())
            intent = fields.get("intent", "").strip()
            if len(said) > TEXT_MAX or len(intent) > NAME_MAX or (intent and not intent.replace("_", "").isalnum()):
                return await self.call_page(request, user, call, 422, error=(
                    f"A transcript is at most {TEXT_MAX} characters; an intent is letters, digits and _."))
            turn = next((t for t in call.turns if t.index == index), None)
            if turn is None:
                raise Refused(404, f"The call has no turn {index}.")
            text = None if said == turn.caller_text else said
            chosen = None if intent == (turn.intent or "") else intent or None
            if text is None and chosen is None:
                return await self.call_page(request, user, call, 422, error=f"Turn {index + 1}: nothing changed.")
            await qa.store.correct(call.id, index, text, chosen, user.name)
            return RedirectResponse(f"/calls/{call.id}?{urlencode({'saved': f'Turn {index + 1} corrected.'})}"
                                    f"#turn-{index}", status_code=303)

        @router.post("/calls/{call_id}/scores/{form_name}")
        async def score_call(request: Request, call_id: str, form_name: str) -> Response:
            user, fields = await pages.posted(request, READERS)
            qa = console()
            call = await self._call(call_id)
            form = qa.forms.get(form_name)
            if form is None or not form.applies_to(call.flow):
                raise Refused(404, f"There is no score card {form_name[:64]!r} for this call's flow.")
            try:
                given = reviewer_answers(form, fields)
            except ValueError as problem:
                return await self.call_page(request, user, call, 422, error=f"{problem}.")
            comment = fields.get("comment", "").strip()[:TEXT_MAX]
            auto = auto_answers(form, call)
            answers = {q: {"answer": a.answer, "auto": True, "why": a.why} for q, a in auto.items()}
            answers |= {q: {"answer": a, "auto": False} for q, a in given.items()}
            result = score(form, {q: a["answer"] for q, a in answers.items()})
            if result is None:
                return await self.call_page(request, user, call, 422,
                                            error="Answer at least one question (not N/A) to score the call.")
            await qa.store.save_score(ScoreCard(call.id, form.name, result, answers, comment, user.name,
                                                datetime.now(UTC)))
            saved = f"{form.title or form.name}: scored {result:g}."
            return RedirectResponse(f"/calls/{call.id}?{urlencode({'saved': saved})}#card-{form.name}",
                                    status_code=303)

        @router.get("/qa/scores")
        async def scores_page(request: Request, since: str = "", until: str = "", period: str = "week",
                              form: str = "") -> Response:
            user = await pages.person(request, READERS)
            qa = console()
            try:
                first, last, span = trend_span(since, until, period)
            except ValueError as problem:
                raise Refused(422, f"The score trend cannot be drawn: {problem}.") from None
            found = await qa.store.flow_scores(first, last, span, form[:NAME_MAX] or None)
            table: dict[date, dict[str, Any]] = defaultdict(dict)
            for row in found:
                table[row.period][row.flow] = row
            flows = sorted({row.flow for row in found})
            return pages.page(request, "qa_scores.html", user=user, rows=sorted(table.items()), flows=flows,
                              since=first, until=last, period=span, form=form[:NAME_MAX], forms=sorted(qa.forms),
                              periods=get_args(Period))

        @router.get("/qa/export")
        async def export_page(request: Request) -> Response:
            user = await pages.person(request, READERS)
            flows = by_flow(await console().store.examples())
            return pages.page(request, "qa_export.html", user=user, flows=flows)

        @router.get("/qa/export/{flow}.yaml")
        async def export_flow(request: Request, flow: str) -> Response:
            await pages.person(request, READERS)
            intents = by_flow(await console().store.examples(flow[:NAME_MAX])).get(flow)
            if not intents:
                raise Refused(404, f"No corrected turns of flow {flow[:64]!r} to export.")
            body = flow_yaml(flow, intents, datetime.now(UTC))
            return Response(body, media_type="application/yaml", headers={
                "Content-Disposition": f'attachment; filename="{flow}.examples.yaml"', "Cache-Control": "no-store"})

        return router


def qa_api(console: QaConsole) -> APIRouter:
    """``GET /api/qa/scores`` for reporting tools (the caller includes it with the read scope)."""
    router = APIRouter()

    @router.get("/api/qa/scores", responses={401: {"description": "No valid credentials"},
                                             403: {"description": "The credentials lack the read scope"},
                                             422: {"description": "Dates or period not readable"}})
    async def flow_scores(since: str = Query("", max_length=10, description="First day (YYYY-MM-DD)"),
                          until: str = Query("", max_length=10, description="Last day (YYYY-MM-DD); default today"),
                          period: str = Query("week", max_length=5, description="day, week or month"),
                          form: str = Query("", max_length=NAME_MAX)) -> dict[str, Any]:
        """Mean QA score per flow and period (by the day each call started): ``scores`` oldest first."""
        try:
            first, last, span = trend_span(since, until, period)
        except ValueError as problem:
            raise HTTPException(422, str(problem)) from None
        found = await console.store.flow_scores(first, last, span, form or None)
        return {"since": first.isoformat(), "until": last.isoformat(), "period": span, "form": form or None,
                "scores": [{"flow": s.flow, "period": s.period.isoformat(), "cards": s.cards, "mean": s.mean}
                           for s in found]}

    return router
