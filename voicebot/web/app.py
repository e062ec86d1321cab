"""The web side of the service: health, metrics, the call API, the dialplan's announcement and handoff lookup.

It depends on a :class:`~voicebot.web.context.WebContext` only, never on the service. The pages for people
(login, a home page per role: ``people.py``) come with the context's ``people``; later features (agent
desktop over a websocket, QA console, reports, supervisor wallboard) mount here and read the same call
queries and event bus; other apps (the demo back office) come in the context's ``mounts``.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import asdict
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from voicebot import events as ev
from voicebot.call.directory import CallInfo
from voicebot.store.repo import StoreHealth
from voicebot.types import HandoffPacket
from voicebot.web.auth import Scope, require
from voicebot.web.context import WebContext
from voicebot.web.desktop import DesktopHub, agent_view, desktop_routes
from voicebot.web.logins import session_lookup
from voicebot.web.pages import Pages
from voicebot.web.people import mount_people
from voicebot.web.tickets import ticket_api
from voicebot.web.pii import pii_routes
from voicebot.web.qa import qa_api
from voicebot.web.recordings import handed_to, recording_routes
from voicebot.web.reports import report_routes

RECENT_CALLS = 2000  # the dialplan asks right after the bot hangs up, before the record may be written
# The announcement is a few short fields from the dialplan; anything bigger is refused before it is read.
ANNOUNCE_MAX_BYTES = 4096
ANNOUNCE_MAX_FIELDS = 16
FIELD_NAME_MAX, FIELD_VALUE_MAX = 64, 512
# What every route with call content may answer instead (documented in the OpenAPI schema)
REFUSALS: dict[int | str, dict[str, Any]] = {401: {"description": "No valid credentials (a session or an API token)"},
                                             403: {"description": "The credentials lack the route's scope"}}
MAX_OFFSET = 1_000_000_000  # far beyond any call list; bigger numbers overflow the databases' integers


def parse_qsl_bounded(body: str) -> list[tuple[str, str]]:
    """Form fields of the body; more than ``ANNOUNCE_MAX_FIELDS`` is a 422 (not a 500 from the parser)."""
    try:
        return parse_qsl(body, keep_blank_values=True, max_num_fields=ANNOUNCE_MAX_FIELDS)
    except ValueError:
        raise HTTPException(422, f"at most {ANNOUNCE_MAX_FIELDS} fields") from None


async def _bounded_body(request: Request) -> bytes:
    """The request body, refused with 413 as soon as it passes ``ANNOUNCE_MAX_BYTES`` (never buffered whole)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > ANNOUNCE_MAX_BYTES):
        raise HTTPException(413, f"announcement bodies are at most {ANNOUNCE_MAX_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > ANNOUNCE_MAX_BYTES:
            raise HTTPException(413, f"announcement bodies are at most {ANNOUNCE_MAX_BYTES} bytes")
    return bytes(body)


# Turn stages timed per turn (voicebot_turn_stage_seconds{stage}): from mark, to mark
TURN_STAGES = {"asr": ("speech_end", "asr_final"), "nlu": ("asr_final", "nlu_done"),
               "dialog": ("nlu_done", "dialog_done"), "tts": ("dialog_done", "tts_first_audio"),
               "send": ("tts_first_audio", "first_frame_sent"), "response": ("speech_end", "first_frame_sent")}
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2.5, 5, 10)


class StoreFigures(Collector):
    """The call record store's figures as of the last scrape (``/metrics`` reads them first)."""

    def __init__(self) -> None:
        self.health = StoreHealth("ok")

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("voicebot_store_spooled_records", "Call records waiting in the spool for the "
                                "database", value=self.health.spooled)
        yield GaugeMetricFamily("voicebot_store_held_records", "Call records neither the database nor the spool "
                                "took yet (in memory)", value=self.health.held)
        yield GaugeMetricFamily("voicebot_store_up", "1 while the store writes to the database, 0 while degraded",
                                value=float(self.health.status == "ok"))
        yield CounterMetricFamily("voicebot_store_write_failures", "Writes of call records the database failed "
                                  "(outage: spooled) or records it rejected", value=self.health.write_failures)


class Metrics:
    """Prometheus figures fed from the event bus (one registry per service, no globals)."""

    def __init__(self, active_calls: Callable[[], int], inference_queued: Callable[[], int] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.calls = Counter("voicebot_calls_total", "Calls ended, by outcome", ["outcome"], registry=self.registry)
        self.started = Counter("voicebot_calls_started_total", "Calls started", registry=self.registry)
        self.active = Gauge("voicebot_calls_active", "Calls in progress", registry=self.registry)
        self.active.set_function(active_calls)
        self.barge_ins = Counter("voicebot_barge_ins_total", "Bot prompts cut off by the caller",
                                 registry=self.registry)
        self.handoffs = Counter("voicebot_handoffs_total", "Calls handed to a human, by queue and reason",
                                ["queue", "reason"], registry=self.registry)
        self.faults = Counter("voicebot_faults_total", "Faults inside calls, by stage", ["stage"],
                              registry=self.registry)
        self.utterances = Histogram("voicebot_utterance_seconds", "Caller utterance length",
                                    buckets=(0.25, 0.5, 1, 2, 4, 8, 16), registry=self.registry)
        self.stages = Histogram("voicebot_turn_stage_seconds", "Turn latency per stage (response: end of the "
                                "caller's speech to the bot's first audio frame)", ["stage"],
                                buckets=LATENCY_BUCKETS, registry=self.registry)
        self.inference = Gauge("voicebot_inference_queued", "ASR, TTS and embedding jobs waiting for a worker of "
                               "the inference pool", registry=self.registry)
        self.inference.set_function(inference_queued or (lambda: 0))
        self.bus_lag = Histogram("voicebot_bus_lag_seconds", "From an event's creation (on any worker) to its "
                                 "arrival at this worker's web app", buckets=LATENCY_BUCKETS,
                                 registry=self.registry)
        self.store = StoreFigures()
        self.registry.register(self.store)

    def observe(self, event: ev.CallEvent) -> None:
        """One of this worker's own events."""
        match event:
            case ev.CallStarted():
                self.started.inc()
            case ev.CallEnded(outcome=outcome):
                self.calls.labels(outcome).inc()
            case ev.BargeInEvent():
                self.barge_ins.inc()
            case ev.HandedOff(packet=packet):
                self.handoffs.labels(packet.queue, packet.reason).inc()
            case ev.CallFault(stage=stage):
                self.faults.labels(stage).inc()
            case ev.SpeechEndedEvent(duration_s=duration):
                self.utterances.observe(duration)
            case ev.TurnCompleted(turn=turn):
                for stage, (start, end) in TURN_STAGES.items():
                    if (seconds := turn.latency(start, end)) is not None and seconds >= 0:
                        self.stages.labels(stage).observe(seconds)

    def heard(self, event: ev.CallEvent) -> None:
        """An event of any worker, as the bus delivered it here."""
        self.bus_lag.observe(max(0.0, time.time() - event.at))


def handoff_answer(packet: dict[str, Any] | HandoffPacket | None, briefing: bool = False) -> str:
    """What the dialplan reads with CURL(): ``queue=…&skill=…&priority=…&reason=…`` (``&briefing=1`` when the
    queue plays the agent a spoken briefing), or ``queue=`` when the bot served the call and did not hand off (the
    dialplan hangs up)."""
    if packet is None:
        return urlencode({"queue": ""})
    data = asdict(packet) if isinstance(packet, HandoffPacket) else packet
    answer = {"queue": data.get("queue") or "", "skill": data.get("skill") or "",
              "priority": data.get("priority") or 0, "reason": data.get("reason") or ""}
    return urlencode(answer | {"briefing": 1} if briefing else answer)


def create_app(ctx: WebContext) -> FastAPI:
    metrics = Metrics(ctx.active_calls, ctx.inference_queued)
    recent: OrderedDict[str, HandoffPacket | None] = OrderedDict()  # call id -> its handoff, if any
    desk = ctx.people.desktop.settings if ctx.people and ctx.people.desktop else None

    def briefed(packet: dict[str, Any] | HandoffPacket | None) -> bool:
        """The queue has the agent's spoken briefing on: the dialplan hands Queue() the call's file, which
        Asterisk plays to the member if it is written by then (session.py) and skips otherwise."""
        if packet is None or desk is None or desk.briefing_dir is None:
            return False
        queue = packet.queue if isinstance(packet, HandoffPacket) else packet.get("queue")
        return queue in desk.briefing_queues

    async def count_own_calls() -> None:
        """This worker's calls only (with a Redis bus every worker hears every call: Prometheus would count
        each call once per worker)."""
        async for event in ctx.bus.subscribe(lossless=True):
            metrics.observe(event)

    async def follow_handoffs() -> None:
        """Every worker's handoffs: the dialplan may ask any worker's web API."""
        async for event in ctx.bus.subscribe():
            metrics.heard(event)
            if isinstance(event, ev.CallStarted):
                recent[event.call_id] = None
            elif isinstance(event, ev.HandedOff):
                recent[event.call_id] = event.packet
            while len(recent) > RECENT_CALLS:
                recent.popitem(last=False)

    desktop = ctx.people.desktop if ctx.people is not None else None
    hub = DesktopHub(ctx.calls, desktop.store, ctx.bus, desktop.desk, desktop.settings,
                     desktop.profiles, desktop.callbacks) if desktop else None

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        tasks = [asyncio.create_task(count_own_calls()), asyncio.create_task(follow_handoffs())]
        if hub is not None:  # the agent desktop: pops and presence
            tasks.append(asyncio.create_task(hub.run()))
        yield
        for task in tasks:
            task.cancel()
        if hub is not None and hub.desk is not None:
            await hub.desk.close()

    app = FastAPI(title="voicebot", version="0.1.0", lifespan=lifespan)
    sessions = session_lookup(ctx.people.users, ctx.people.settings) if ctx.people is not None else None
    reader = [Depends(require(Scope.READ, ctx.principal_for, sessions))]
    dialplan = [Depends(require(Scope.DIALPLAN, ctx.principal_for, sessions))]

    @app.get("/healthz")
    async def healthz(response: Response) -> dict[str, Any]:
        """ok or degraded (the store spools) with 200; stopping with 503, so a balancer sends no new call."""
        store = await ctx.store_health()
        status = "stopping" if ctx.stopping() else store.status
        if status == "stopping":
            response.status_code = 503
        return {"status": status, "active_calls": ctx.active_calls(), "flows": ctx.flow_names(),
                "store": {"status": store.status, "spooled_records": store.spooled, "held_records": store.held}}

    @app.get("/metrics", response_class=Response,
             responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}})
    async def prometheus() -> Response:
        metrics.store.health = await ctx.store_health()
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/calls", dependencies=reader, responses=REFUSALS)
    async def list_calls(limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=MAX_OFFSET),
                         outcome: str | None = Query(None, max_length=32)) -> list[dict[str, Any]]:
        return [call.summary_json() for call in await ctx.calls.list_calls(limit=limit, offset=offset,
                                                                            outcome=outcome)]

    @app.get("/api/calls/{call_id}", dependencies=reader,
             responses={**REFUSALS, 404: {"description": "No such call"}})
    async def get_call(call_id: uuid.UUID) -> dict[str, Any]:
        call = await ctx.calls.get_call(str(call_id))
        if call is None:
            raise HTTPException(404, f"no call {call_id}")
        return call.to_json()

    @app.get("/api/calls/{call_id}/handoff", response_class=PlainTextResponse, dependencies=dialplan,
             responses=REFUSALS)
    async def handoff(call_id: uuid.UUID) -> str:
        """For the dialplan: where this call goes after the bot. ``queue=`` means the bot served the call
        (hang up); an empty body means voicebot never ran this call (refused): the dialplan's fallback queue."""
        call_id = str(call_id)  # canonical: lower case, hyphenated, as Asterisk's UUID() gives it
        await ctx.directory.handoff_looked_up(call_id)
        if call_id in recent:
            return handoff_answer(recent[call_id], briefed(recent[call_id]))
        if (packet := await ctx.calls.handoff_for(call_id)) is not None:
            return handoff_answer(packet, briefed(packet))
        if await ctx.calls.get_call(call_id) is not None:
            return handoff_answer(None)
        return ""

    @app.post("/api/calls/{call_id}/announce", status_code=204, dependencies=dialplan,
              responses={**REFUSALS, 413: {"description": "Body over ANNOUNCE_MAX_BYTES"}})
    async def announce(call_id: uuid.UUID, request: Request) -> Response:
        """The dialplan, just before AudioSocket(): who is calling, which number they dialled, which
        flow to run. Fields come as query parameters or a form body (Asterisk's CURL(url,data) posts
        ``caller_id=…&dnis=…``); other fields become dialog variables."""
        body = (await _bounded_body(request)).decode("utf-8", errors="replace")
        pairs = [*request.query_params.multi_items(), *parse_qsl_bounded(body)]
        if len(pairs) > ANNOUNCE_MAX_FIELDS:
            raise HTTPException(422, f"at most {ANNOUNCE_MAX_FIELDS} fields")
        for key, value in pairs:
            if not key or len(key) > FIELD_NAME_MAX or len(value) > FIELD_VALUE_MAX:
                raise HTTPException(422, f"field {key[:FIELD_NAME_MAX]!r}: names are 1 to {FIELD_NAME_MAX} "
                                         f"characters, values at most {FIELD_VALUE_MAX}")
        fields = dict(pairs)
        flow = fields.pop("flow", None) or None
        names = ctx.flow_names()
        routable = [name for name in names if ctx.routable(name)]
        if flow is not None and flow not in routable:
            hidden = " (hidden: VOICEBOT_DIALOG__HIDDEN_FLOWS)" if flow in names else ""
            raise HTTPException(422, f"unknown flow {flow!r}{hidden}; flows: {', '.join(routable)}")
        info = CallInfo(caller_id=fields.pop("caller_id", ""), dnis=fields.pop("dnis", ""), flow=flow,
                        variables=fields)
        await ctx.directory.announce(str(call_id), info)  # canonical, as the AudioSocket UUID comes
        return Response(status_code=204)

    @app.get("/api/flows", dependencies=reader, responses=REFUSALS)
    async def flows() -> dict[str, Any]:
        return {"flows": ctx.flow_names()}

    if ctx.people is not None:  # people's logins and pages (voicebot/web/people.py), the agent desktop
        mount_people(app, ctx.people, ctx.calls, agent_view(hub) if hub is not None else None)
        if ctx.people.qa is not None:  # the QA scores per flow for scripts too (the console's pages: web/qa.py)
            app.include_router(qa_api(ctx.people.qa), dependencies=reader)
        if hub is not None:
            app.include_router(desktop_routes(hub, Pages(ctx.people), ctx.people.tickets))
        if ctx.people.tickets is not None:  # pages: web/tickets.py, mounted with the people's pages
            app.include_router(ticket_api(ctx.people.tickets), dependencies=reader)
    if ctx.reports is not None:  # the reports: a page with charts for people, JSON and CSV for the API
        app.include_router(report_routes(ctx.reports, require(Scope.READ, ctx.principal_for, sessions),
                                         Pages(ctx.people) if ctx.people is not None else None))
    if ctx.recordings is not None:  # call recordings' playback with range requests (voicebot/web/recordings.py)
        app.include_router(recording_routes(ctx.recordings, reader[0], ctx.people,
                                            handed_to(hub) if hub is not None else None))
    if ctx.pii is not None:  # unmasked originals: admins (and QA when configured), every read audited
        app.include_router(pii_routes(ctx.pii, require(Scope.READ, ctx.principal_for, sessions),
                                      require(Scope.ADMIN, ctx.principal_for, sessions)))
    for path, mounted in ctx.mounts.items():
        app.mount(path, mounted)
    return app
