"""Tickets for people: a list with filters, a ticket with its history, forms to open and to change one.

Supervisors, QA and admins see every ticket; an agent sees the tickets assigned to them or opened by them.
Anyone who sees a ticket may change its status, comment on it or take it; only supervisors and admins assign
it to someone else or change its priority. Anyone who sees a ticket may change its contact (the number to call
back; a text that is not a number is refused with a message). Machines read ``GET /api/tickets`` with a ``read``
token.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from voicebot.store.tickets import (PRIORITIES, SOURCES, STATUSES, SqlTicketStore, Ticket, TicketFilter,
                                    parse_reference)
from voicebot.store.users import UserRecord
from voicebot.web.auth import Role
from voicebot.web.pages import Pages, Refused

PAGE = 50
MANAGERS = frozenset({Role.SUPERVISOR, Role.ADMIN})  # assign to others, change priority


def ticket_routes(pages: Pages, tickets: SqlTicketStore) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def visible(user: UserRecord, ref: str) -> Ticket:
        ticket_id = parse_reference(ref)
        ticket = await tickets.get(ticket_id) if ticket_id else None
        if ticket is None or not may_see(user, ticket):
            raise Refused(404, f"There is no ticket {ref[:20]}.")
        return ticket

    async def ticket_page(request: Request, user: UserRecord, ticket: Ticket, status: int = 200,
                          message: str = "", error: str = "") -> Response:
        people = [u.name for u in await pages.people.users.list() if u.disabled_at is None]
        return pages.page(request, "ticket.html", status, user=user, ticket=ticket,
                          history=await tickets.history(ticket.id), statuses=STATUSES, priorities=PRIORITIES,
                          people=people, manager=Role(user.role) in MANAGERS, message=message, error=error)

    @router.get("/tickets")
    async def list_page(request: Request, status: str = "", assignee: str = "", queue: str = "", source: str = "",
                        call: str = "", q: str = "", page: int = Query(1, ge=1, le=10_000)) -> Response:
        user = await pages.person(request)
        where = TicketFilter(status=status if status in STATUSES else "", assignee=assignee[:64],
                             queue=queue[:64], source=source if source in SOURCES else "", call_id=call[:64],
                             text=q[:200], visible_to=user.name if Role(user.role) == Role.AGENT else "")
        found, total = await tickets.find(where, limit=PAGE, offset=(page - 1) * PAGE)
        shown = {k: v for k, v in asdict(where).items() if v and k != "visible_to"}
        query = urlencode({{"call_id": "call", "text": "q"}.get(k, k): v for k, v in shown.items()})
        return pages.page(request, "tickets.html", user=user, tickets=found, total=total, page=page,
                          pages=max(1, -(-total // PAGE)), where=where, query=query, statuses=STATUSES,
                          sources=SOURCES, priorities=PRIORITIES)

    @router.post("/tickets")
    async def open_ticket(request: Request) -> Response:
        user, fields = await pages.posted(request)
        role = Role(user.role)
        assignee = fields.get("assignee", "").strip() if role in MANAGERS else user.name if role == Role.AGENT else ""
        try:
            ticket = await tickets.open(title=fields.get("title", ""), description=fields.get("description", ""),
                                        call_id=fields.get("call_id", "").strip()[:64] or None,
                                        queue=fields.get("queue", "").strip(), contact=fields.get("contact", ""),
                                        priority=fields.get("priority", "normal") if role in MANAGERS else "normal",
                                        assignee=assignee or None, source=role.value, created_by=user.name)
        except ValueError as error:
            raise Refused(422, f"The ticket was not opened: {error}.") from None
        return RedirectResponse(f"/tickets/{ticket.reference}", status_code=303)

    @router.get("/tickets/{ref}")
    async def detail(request: Request, ref: str) -> Response:
        user = await pages.person(request)
        return await ticket_page(request, user, await visible(user, ref))

    @router.post("/tickets/{ref}")
    async def change(request: Request, ref: str) -> Response:
        user, fields = await pages.posted(request)
        ticket = await visible(user, ref)
        manager = Role(user.role) in MANAGERS
        wanted = fields.get("assignee")
        if wanted is not None and not manager and wanted not in ("", user.name, ticket.assignee or ""):
            return await ticket_page(request, user, ticket, 403,
                                     error="Only a supervisor assigns a ticket to someone else.")
        try:
            changed = await tickets.update(ticket.id, user.name, status=fields.get("status") or None,
                                           priority=(fields.get("priority") or None) if manager else None,
                                           assignee=wanted, contact=fields.get("contact"),
                                           comment=fields.get("comment", ""))
        except ValueError as error:
            return await ticket_page(request, user, ticket, 422, error=f"Not saved: {error}.")
        assert changed is not None  # tickets are never deleted
        return await ticket_page(request, user, changed, message="Saved.")

    return router


def may_see(user: UserRecord, ticket: Ticket) -> bool:
    """Agents see the tickets assigned to them or opened by them; the other roles see all."""
    return Role(user.role) != Role.AGENT or user.name in (ticket.assignee, ticket.created_by)


def ticket_api(tickets: SqlTicketStore) -> APIRouter:
    """``GET /api/tickets``, the tickets filtered like the list page; included behind the ``read`` scope."""
    router = APIRouter()

    @router.get("/api/tickets")
    async def list_tickets(status: str = Query("", max_length=16), call: str = Query("", max_length=64),
                           assignee: str = Query("", max_length=64), limit: int = Query(50, ge=1, le=200),
                           offset: int = Query(0, ge=0, le=1_000_000)) -> TicketList:
        found, total = await tickets.find(TicketFilter(status=status, call_id=call, assignee=assignee), limit, offset)
        return TicketList(total=total, tickets=[TicketOut(**asdict(t), reference=t.reference) for t in found])

    return router


class TicketOut(BaseModel):
    """A ticket as ``GET /api/tickets`` gives it (``contact``: the number to call back, E.164 when it parses)."""

    id: int
    reference: str
    call_id: str | None
    title: str
    description: str
    status: str
    priority: str
    queue: str
    assignee: str | None
    contact: str
    source: str
    created_by: str
    created_at: datetime
    updated_at: datetime


class TicketList(BaseModel):
    total: int
    tickets: list[TicketOut]
