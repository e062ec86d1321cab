"""The agent desktop: presence, the live screen pop and what the agent does about the call.

* ``GET /desktop/events`` — server-sent events for the logged-in person: their own presence changes and, when
  Asterisk connects a handed-off caller to them (``AgentConnect``, see ``telephony/presence.py``), the pop:
  why the caller is here, the intent summary, verified or not, the filled slots, the transcript and the
  emotion trail (all as the handoff packet has them: masked), the customer profile (:class:`CustomerProfiles`:
  the flow's back office, by the caller's number) and the caller's previous calls. Only the agent
  the call was connected to gets it; supervisors (and admins) get every pop and every presence change.
* ``POST /desktop/presence`` — available, break (with a reason) or offline, mirrored to the PBX.
* ``POST /desktop/actions`` — a disposition (from ``desktop.dispositions``), a note, a ticket or a callback
  for a call popped to this agent. A callback (a number and a time in ``desktop.timezone``) is also queued in
  the durable callback queue (``store/callbacks.py``) at the call's queue and priority, not before its time: the
  scheduler (``telephony/callbacks.py``) dials it when its place comes.

Pages need a session; forms carry the session's CSRF token (``people.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import OrderedDict, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from voicebot import events as ev
from voicebot.config import DesktopSettings
from voicebot.engines import CallQueries, TelephonyError
from voicebot.events import Bus
from voicebot.store.callbacks import CallbackRequest, SqlCallbackQueue
from voicebot.store.desktop import ACTION_KINDS, SqlDeskStore
from voicebot.store.tickets import TITLE_MAX, SqlTicketStore, caller_contact, contact_number
from voicebot.store.users import UserRecord
from voicebot.telephony.presence import AgentLine, Presence, PresenceDesk
from voicebot.types import HandoffPacket
from voicebot.web.auth import Role
from voicebot.web.pages import Pages, Refused

log = structlog.get_logger(__name__)

RECENT = 2000  # handoff packets and pops kept in memory (the store has them all)
WATCHERS = frozenset({Role.SUPERVISOR, Role.ADMIN})  # see every pop and presence change
STREAM_QUEUE = 100
KEEPALIVE_S = 15.0
TEXT_MAX = 2000
ALL = "*"  # the watchers' stream key

CALLBACK_AHEAD = timedelta(days=30)  # the latest an agent may schedule a callback
CALLBACK_NUMBER = re.compile(r"\+?[0-9 ().-]{3,32}")
PROFILE_TIMEOUT_S = 2.0  # a back office slower than this: the pop comes without the profile
DESK_KEY_HEADER = "X-Desk-Key"

Pop = dict[str, Any]
ProfileLookup = Callable[[str, str], Awaitable[dict[str, Any] | None]]  # (flow, caller's number) -> profile


class CustomerProfiles:
    """The caller's customer profile from the back office of the call's flow: ``GET {backend}/customers/by-phone/
    {number}`` (the contract docs/flows.md gives; the demo back office implements it). ``backend_for(flow)`` is the
    flow's backend URL (None: no profile); this service's own back office (``own_url``) also gets ``desk_key``."""

    def __init__(self, backend_for: Callable[[str], str | None], own_url: str, desk_key: str,
                 client: httpx.AsyncClient | None = None) -> None:
        self.backend_for, self.own_url, self.desk_key = backend_for, own_url.rstrip("/"), desk_key
        self._client = client or httpx.AsyncClient(timeout=PROFILE_TIMEOUT_S)

    async def lookup(self, flow: str, number: str) -> dict[str, Any] | None:
        """The profile, or None: no number, no backend, an unknown customer or a back office that failed (logged)."""
        base = self.backend_for(flow) if number else None
        if not base:
            return None
        url = f"{base.rstrip('/')}/customers/by-phone/{quote(number, safe='')}"
        headers = {DESK_KEY_HEADER: self.desk_key} if url.startswith(self.own_url + "/") else {}
        try:
            response = await self._client.get(url, headers=headers)
            if response.status_code == 404:
                return None
            response.raise_for_status()
            profile = response.json()
        except (httpx.HTTPError, ValueError) as error:
            log.warning("customer profile not read", flow=flow, error=str(error)[:200])
            return None
        return profile if isinstance(profile, dict) else None

    async def aclose(self) -> None:
        await self._client.aclose()


class DesktopHub:
    """Hears handoffs on the bus and presence changes from the desk; hands pops and changes to the open pages."""

    def __init__(self, calls: CallQueries, store: SqlDeskStore, bus: Bus, desk: PresenceDesk | None,
                 settings: DesktopSettings, profiles: ProfileLookup | None = None,
                 callbacks: SqlCallbackQueue | None = None) -> None:
        self.calls, self.store, self.bus, self.desk, self.settings = calls, store, bus, desk, settings
        self.profiles, self.callbacks = profiles, callbacks
        self._flows: OrderedDict[str, str] = OrderedDict()  # call id -> its flow (CallStarted)
        self._packets: OrderedDict[str, HandoffPacket] = OrderedDict()
        self._owners: OrderedDict[str, str] = OrderedDict()  # call id -> the agent it was connected to
        self._pops: dict[str, Pop] = {}  # agent -> the call on their screen
        self._lookups: set[asyncio.Task[None]] = set()  # customer profiles being read
        self._streams: defaultdict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)

    async def run(self) -> None:
        """Follow the bus and, with the PBX link, the desk, the PBX's queue events and the other workers' presence
        changes, until cancelled; at start the agents' saved states come back and the PBX is made to agree."""
        await self.load_agents()
        if self.desk is not None:
            await self.desk.restore()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._follow_bus())
            if self.desk is not None:
                group.create_task(self._follow_desk(self.desk))
                group.create_task(self.desk.follow())
                group.create_task(self.desk.follow_bus())
                group.create_task(self._resync(self.desk))

    @staticmethod
    async def _resync(desk: PresenceDesk) -> None:
        try:
            await desk.resync()
        except TelephonyError as error:  # the PBX's next login (FullyBooted) resyncs
            log.warning("presence not resynced at start: the PBX does not answer", error=str(error))

    async def load_agents(self) -> None:
        """Tell the desk every configured agent's interface and queues (again after a change)."""
        if self.desk is not None:
            for agent in await self.store.agents():
                self.desk.register(AgentLine(agent.name, agent.interface, agent.queues))

    async def _follow_bus(self) -> None:
        async for event in self.bus.subscribe():
            if isinstance(event, ev.CallStarted):
                self._flows[event.call_id] = event.flow
                while len(self._flows) > RECENT:
                    self._flows.popitem(last=False)
            elif isinstance(event, ev.HandedOff):
                self._packets[event.call_id] = event.packet
                while len(self._packets) > RECENT:
                    self._packets.popitem(last=False)

    async def _follow_desk(self, desk: PresenceDesk) -> None:
        async for change in desk.changes():
            self._send(change.agent, change.to_json())
            if change.state is Presence.ON_CALL and change.call_id:
                try:
                    pop = await self.pop(change.call_id)
                except Exception:  # a failed read never stops the desktop; the agent still has the call
                    log.exception("screen pop failed", call_id=change.call_id, agent=change.agent)
                    continue
                self._owners[change.call_id] = change.agent
                while len(self._owners) > RECENT:
                    self._owners.popitem(last=False)
                self._pops[change.agent] = pop
                self._send(change.agent, {"type": "pop", "agent": change.agent, **pop})
                log.info("screen pop", call_id=change.call_id, agent=change.agent)
                if pop["profile_pending"]:  # the back office answers after the pop, never holds it up
                    task = asyncio.create_task(self._add_profile(change.agent, pop))
                    self._lookups.add(task)
                    task.add_done_callback(self._lookups.discard)

    async def _add_profile(self, agent: str, pop: Pop) -> None:
        """The customer profile of a pop from the flow's back office, to the pop kept for the agent and their pages
        (a ``profile`` message; None: not found or not answered)."""
        try:
            flow = self._flows.get(pop["call_id"]) or await self.store.flow_of(pop["call_id"])
            profile = await self.profiles(flow, pop["caller_id"]) if self.profiles is not None else None
        except Exception:  # a failed read never stops the desktop
            log.exception("customer profile failed", call_id=pop["call_id"], agent=agent)
            profile = None
        pop.update(profile=profile, profile_pending=False)
        self._send(agent, {"type": "profile", "agent": agent, "call_id": pop["call_id"], "profile": profile})

    async def queue_callback(self, call_id: str, data: dict[str, Any]) -> dict[str, Any]:
        """Queue an agent's scheduled callback (``data`` from :func:`action_data`) at the call's queue and
        priority; the action's data gains the request's id and whether the number already had one waiting."""
        if self.callbacks is None:
            return data
        packet = self._packets.get(call_id)
        handoff: dict[str, Any] = asdict(packet) if packet is not None else (await self.calls.handoff_for(call_id) or {})
        when = datetime.fromisoformat(data["at"])
        request = await self.callbacks.request(call_id, data["number"], str(handoff.get("queue") or "general"),
                                               int(handoff.get("priority") or 0), when, not_before=when)
        log.info("callback scheduled", call_id=call_id, callback=request.id, at=data["at"])
        return {**data, "callback": request.id, "already_waiting": request.call_id != call_id
                or request.not_before != when}

    async def pop(self, call_id: str) -> Pop:
        """What the agent's screen shows about a call: its handoff packet (masked at the source) and the caller's
        previous calls; its customer profile follows (``profile_pending``)."""
        packet = self._packets.get(call_id)
        data: dict[str, Any] = asdict(packet) if packet is not None else (
            await self.calls.handoff_for(call_id) or await self._from_record(call_id))
        callback = await self.callbacks.for_call(call_id) if self.callbacks is not None else None
        if callback is not None and packet is None:
            data = {**data, "reason": data.get("reason") or "callback", "queue": data.get("queue") or callback.queue}
        slots = dict(data.get("slots") or {})
        caller_id = str(data.get("caller_id") or "")
        previous = await self.store.previous_calls(caller_id, but=call_id)
        return {"call_id": call_id, "caller_id": caller_id, "queue": data.get("queue") or "",
                "skill": data.get("skill") or "", "priority": data.get("priority") or 0,
                "reason": data.get("reason") or "", "intent_summary": data.get("intent_summary") or "",
                "verified": bool(data.get("verified")), "slots": slots,
                "transcript": [list(line) for line in data.get("transcript") or ()],
                "emotion_trail": [list(mark) for mark in data.get("emotion_trail") or ()],
                "profile": None, "profile_pending": self.profiles is not None and bool(caller_id),
                "callback": _callback_text(callback),
                "previous_calls": [{"id": p.id, "started_at": p.started_at.isoformat(timespec="minutes"),
                                    "flow": p.flow, "outcome": p.outcome, "intent": p.intent, "reason": p.reason}
                                   for p in previous],
                "known": bool(data)}

    async def _from_record(self, call_id: str) -> dict[str, Any]:
        """A call that was not handed off (a callback's original call) as its record has it: the caller, what they
        wanted, the (masked) transcript and the emotions heard."""
        record = await self.calls.get_call(call_id)
        if record is None:
            return {}
        intents = list(dict.fromkeys(t.intent for t in record.turns if t.intent))
        transcript = [line for t in record.turns for line in (("caller", t.caller_text), ("bot", t.bot_text)) if line[1]]
        return {"caller_id": record.caller_id, "queue": record.queue or "",
                "intent_summary": f"Caller wanted: {', '.join(intents)}" if intents else "",
                "transcript": transcript,
                "emotion_trail": [(t.emotion, t.emotion_score or 0.0) for t in record.turns if t.emotion]}

    async def caller_id(self, call_id: str) -> str:
        """The number a call came from, as its handoff packet or record has it (``""`` when unknown)."""
        packet = self._packets.get(call_id)
        if packet is not None:
            return packet.caller_id
        data = await self.calls.handoff_for(call_id) or await self._from_record(call_id)
        return str(data.get("caller_id") or "")

    def current_pop(self, agent: str) -> Pop | None:
        """The call on the agent's screen, while they are on it or wrapping it up."""
        if self.desk is not None and self.desk.state(agent).state not in (Presence.ON_CALL, Presence.WRAP_UP):
            return None
        return self._pops.get(agent)

    def may_act(self, user: UserRecord, call_id: str) -> bool:
        return self._owners.get(call_id) == user.name or Role(user.role) in WATCHERS

    @contextlib.contextmanager
    def subscription(self, user: UserRecord) -> Iterator[asyncio.Queue[dict[str, Any]]]:
        """The messages for this person while the block runs: their own, or every one for a watcher."""
        key = ALL if Role(user.role) in WATCHERS else user.name
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(STREAM_QUEUE)
        self._streams[key].add(queue)
        try:
            yield queue
        finally:
            self._streams[key].discard(queue)

    def _send(self, agent: str, message: dict[str, Any]) -> None:
        for queue in [*self._streams.get(agent, ()), *self._streams.get(ALL, ())]:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(message)


def _callback_text(callback: CallbackRequest | None) -> str:
    """What the pop says of the call's callback, if it had one."""
    if callback is None:
        return ""
    asked = callback.requested_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"called back (reference {callback.id[:8].upper()}, asked {asked}, place kept since " \
           f"{callback.joined_at.astimezone(UTC):%H:%M} UTC, {callback.state})"


def desktop_routes(hub: DesktopHub, pages: Pages, tickets: SqlTicketStore | None = None) -> APIRouter:
    """The desktop's event stream and forms, for agents and those who watch them (401 without a session); an
    agent's ticket is opened in ``tickets`` when the web app has them."""
    router = APIRouter(include_in_schema=False)
    desk_people = WATCHERS | {Role.AGENT}

    async def agent_or_watcher(request: Request) -> UserRecord:
        return await pages.person(request, desk_people, api=True)

    async def posted(request: Request) -> tuple[UserRecord, dict[str, str]]:
        return await pages.posted(request, desk_people, api=True)

    @router.get("/desktop/events")
    async def events(request: Request) -> Response:
        user = await agent_or_watcher(request)

        async def lines() -> AsyncIterator[str]:
            with hub.subscription(user) as queue:
                yield "retry: 1000\n\n"
                while True:
                    try:
                        message = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"event: {message['type']}\ndata: {json.dumps(message)}\n\n"

        return StreamingResponse(lines(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @router.post("/desktop/presence")
    async def presence(request: Request) -> Response:
        user, fields = await posted(request)
        if hub.desk is None:
            raise Refused(409, "Presence needs the PBX link (ami.enabled).")
        try:
            state = Presence(fields.get("state", ""))
            await hub.load_agents()
            await hub.desk.choose(user.name, state, fields.get("reason", "")[:200])
        except ValueError as error:
            raise Refused(422, f"{str(error)[:1].upper()}{str(error)[1:]}.") from None
        except TelephonyError as error:
            log.warning("presence not changed: the PBX refused", agent=user.name, error=str(error))
            raise Refused(502, "The phone system did not take the change; try again.") from None
        return RedirectResponse("/", status_code=303)

    @router.post("/desktop/actions")
    async def action(request: Request) -> Response:
        user, fields = await posted(request)
        call_id, kind = fields.get("call_id", ""), fields.get("kind", "")
        if not hub.may_act(user, call_id):
            raise Refused(404, "This call was not handed to you.")
        if kind not in ACTION_KINDS:
            raise Refused(422, f"Choose an action: {', '.join(ACTION_KINDS)}.")
        data = action_data(kind, fields, hub.settings)
        if kind == "callback":
            data = await hub.queue_callback(call_id, data)
        if kind == "ticket" and "contact" not in data:  # a form without the field: the number that called
            data = {**data, "contact": caller_contact(await hub.caller_id(call_id))}
        if kind == "ticket" and tickets is not None:  # on the tickets list, assigned to the agent who opened it
            ticket = await tickets.open(title=data["text"][:TITLE_MAX], description=data["text"], call_id=call_id,
                                        contact=data["contact"], source="agent", created_by=user.name,
                                        assignee=user.name)
            data = {**data, "reference": ticket.reference}
        await hub.store.add_action(call_id, user.name, kind, data)
        log.info("desk action", call_id=call_id, agent=user.name, kind=kind)
        return RedirectResponse("/", status_code=303)

    return router


def action_data(kind: str, fields: dict[str, str], settings: DesktopSettings,
                now: datetime | None = None) -> dict[str, Any]:
    """An action's fields, checked: a configured disposition, a note's or ticket's text, a ticket's contact number
    (normalised; when the form has it: the agent may clear it), a callback's number and time (``at``: UTC, ISO;
    the form's local time read in ``settings.timezone``, from now to 30 days ahead). ``Refused`` (422) says what
    is missing or wrong."""
    text = fields.get("text", "").strip()[:TEXT_MAX]
    match kind:
        case "disposition":
            if fields.get("disposition") not in settings.dispositions:
                raise Refused(422, f"Choose a disposition: {', '.join(settings.dispositions)}.")
            return {"disposition": fields["disposition"], "text": text}
        case "callback":
            number, when = fields.get("number", "").strip(), fields.get("when", "").strip()[:32]
            if not number or not when:
                raise Refused(422, "A callback needs a number and a time.")
            if not CALLBACK_NUMBER.fullmatch(number) or not 3 <= sum(c.isdigit() for c in number) <= 15:
                raise Refused(422, "A callback number is 3 to 15 digits, with + ( ) - or spaces.")
            try:
                local = datetime.fromisoformat(when)
            except ValueError:
                raise Refused(422, "A callback time is a date and a time, e.g. 2026-12-07T10:30.") from None
            at = (local if local.tzinfo else local.replace(tzinfo=ZoneInfo(settings.timezone))).astimezone(UTC)
            now = now or datetime.now(UTC)
            if not now - timedelta(minutes=1) <= at <= now + CALLBACK_AHEAD:
                raise Refused(422, "Choose a callback time from now to 30 days ahead.")
            digits = "".join(c for c in number if c.isdigit())
            return {"number": ("+" if number.startswith("+") else "") + digits, "when": when,
                    "at": at.isoformat(), "text": text}
        case "ticket" if "contact" in fields:
            if not text:
                raise Refused(422, "Write the ticket's text.")
            try:
                return {"text": text, "contact": contact_number(fields["contact"])}
            except ValueError as error:
                raise Refused(422, f"{str(error)[:1].upper()}{str(error)[1:]}.") from None
        case _:
            if not text:
                raise Refused(422, f"Write the {kind}'s text.")
            return {"text": text}


def agent_view(hub: DesktopHub) -> Callable[[UserRecord], Awaitable[dict[str, Any]]]:
    """The agent page's values: presence, the call on screen, the dispositions."""

    async def view(user: UserRecord) -> dict[str, Any]:
        await hub.load_agents()
        state = hub.desk.state(user.name) if hub.desk is not None else None
        return {"presence": state.to_json() if state is not None else None, "pop": hub.current_pop(user.name),
                "dispositions": hub.settings.dispositions, "member": await hub.store.agent(user.name)}

    return view


