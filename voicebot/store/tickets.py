"""Tickets and work orders: what a caller asked for that someone must do after the call.

Flows open them (the ``request_ticket`` function), agents from their desktop, QA and supervisors from a call's
page. Every change (status, assignee, priority, a comment) is a history entry saying who, when and what
changed from what; a ticket is never deleted, it is closed. A ticket's ``contact`` is the number to call back, a
typed field that is not masked (free text is): written by whoever opens the ticket, normalised by
:func:`contact_number`.
"""

from __future__ import annotations

from collections.abc import Callable
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import phonenumbers
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from voicebot.store.models import TicketHistoryRow, TicketRow

STATUSES = ("open", "in_progress", "waiting", "resolved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
SOURCES = ("flow", "agent", "qa", "supervisor", "admin")
TITLE_MAX = 200
TEXT_MAX = 4000
PAGE_MAX = 200
CONTACT_MAX = 32
CONTACT_CHARS = re.compile(r"\+?[0-9 ().\-/]+")


@dataclass(frozen=True, slots=True)
class Ticket:
    id: int
    call_id: str | None
    title: str
    description: str
    status: str
    priority: str
    queue: str
    assignee: str | None
    source: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    contact: str  # the number to call back: E.164 when it parses, else as given; "" for none

    @property
    def reference(self) -> str:
        """What callers and agents read out: ``T-000042``."""
        return reference(self.id)


@dataclass(frozen=True, slots=True)
class TicketChange:
    at: datetime
    by: str
    changes: dict[str, Any]  # field -> [old, new]
    comment: str


@dataclass(frozen=True, slots=True)
class TicketFilter:
    """Which tickets a list shows; empty fields do not filter."""

    status: str = ""
    assignee: str = ""  # a user's name; "-" for nobody
    queue: str = ""
    source: str = ""
    call_id: str = ""
    text: str = ""  # words in the title, description or contact
    visible_to: str = ""  # an agent's name: only tickets assigned to or opened by them


def reference(ticket_id: int) -> str:
    return f"T-{ticket_id:06d}"


def parse_reference(text: str) -> int | None:
    """``"T-000042"``, ``"t42"`` or ``"42"`` → 42; anything else → None."""
    digits = text.strip().upper().removeprefix("T").removeprefix("-")
    return int(digits) if digits.isdigit() and 0 < len(digits) <= 12 else None


def contact_number(text: str) -> str:
    """A number to call back, normalised: ``"+44 20 7946 0018"`` → ``"+442079460018"`` (E.164 when
    ``phonenumbers`` parses it as a possible number), an extension or a national number without its country as
    given (spaces collapsed), ``""`` for nothing. ``ValueError`` for text that is not a phone number."""
    given = " ".join(text.split())
    if not given:
        return ""
    digits = sum(c.isdigit() for c in given)
    if len(given) > CONTACT_MAX or not CONTACT_CHARS.fullmatch(given) or not 3 <= digits <= 15:
        raise ValueError("a contact number is 3 to 15 digits, with + ( ) - . / or spaces")
    try:
        number = phonenumbers.parse(given, None)
    except phonenumbers.NumberParseException:
        return given
    if not phonenumbers.is_possible_number(number):
        return given
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def caller_contact(caller_id: str) -> str:
    """A caller id as a ticket's contact: :func:`contact_number`'s, ``""`` for one that is no number (a withheld
    one, ``anonymous``): the ticket is opened without a number rather than not at all."""
    try:
        return contact_number(caller_id)
    except ValueError:
        return ""


def checked(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{what} is one of {', '.join(allowed)}")
    return value


class SqlTicketStore:
    """Tickets and their history in the call record database."""

    def __init__(self, engine: AsyncEngine, mask: Callable[[str], str] | None = None) -> None:
        """``mask``: the PII masker's (``pii.mask``), applied to titles, descriptions and comments before they are
        written."""
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._mask = mask or (lambda text: text)

    async def open(self, *, title: str, description: str = "", call_id: str | None = None, queue: str = "",
                   priority: str = "normal", assignee: str | None = None, contact: str = "", source: str,
                   created_by: str) -> Ticket:
        """A new open ticket (its first history entry records who opened it and the contact given). ``ValueError``
        on bad input."""
        title = self._mask(" ".join(title.split()))[:TITLE_MAX]
        if not title:
            raise ValueError("a ticket needs a title")
        now = datetime.now(UTC)
        row = TicketRow(call_id=call_id or None, title=title, description=self._mask(description.strip())[:TEXT_MAX],
                        status="open", priority=checked(priority, PRIORITIES, "the priority"), queue=queue[:64],
                        assignee=assignee or None, contact=contact_number(contact),
                        source=checked(source, SOURCES, "the source"), created_by=created_by[:64], created_at=now,
                        updated_at=now)
        opened: dict[str, Any] = {"status": [None, "open"]} | ({"contact": [None, row.contact]} if row.contact else {})
        async with self._sessions.begin() as session:
            session.add(row)
            await session.flush()
            session.add(TicketHistoryRow(ticket_id=row.id, at=now, by=created_by[:64], changes=opened, comment=""))
        return _ticket(row)

    async def get(self, ticket_id: int) -> Ticket | None:
        async with self._sessions() as session:
            row = await session.get(TicketRow, ticket_id)
            return _ticket(row) if row else None

    async def history(self, ticket_id: int) -> list[TicketChange]:
        async with self._sessions() as session:
            rows = await session.scalars(select(TicketHistoryRow).where(TicketHistoryRow.ticket_id == ticket_id)
                                         .order_by(TicketHistoryRow.at, TicketHistoryRow.id))
            return [TicketChange(r.at, r.by, r.changes, r.comment) for r in rows]

    async def update(self, ticket_id: int, by: str, *, status: str | None = None, priority: str | None = None,
                     assignee: str | None = None, contact: str | None = None, comment: str = "") -> Ticket | None:
        """Apply the given changes (``assignee=""`` unassigns, ``contact=""`` removes the number) with one history
        entry; None if no such ticket. Nothing changed and no comment: no entry. ``ValueError`` on bad input."""
        number = None if contact is None else contact_number(contact)
        async with self._sessions.begin() as session:
            row = await session.get(TicketRow, ticket_id, with_for_update=True)
            if row is None:
                return None
            wanted = {"status": checked(status, STATUSES, "the status") if status else None,
                      "priority": checked(priority, PRIORITIES, "the priority") if priority else None,
                      "assignee": None if assignee is None else assignee[:64], "contact": number}
            changes: dict[str, Any] = {}
            for name, value in wanted.items():
                if value is None:
                    continue
                new = value if name == "contact" else value or None  # an empty assignee is nobody
                if getattr(row, name) != new:
                    changes[name] = [getattr(row, name) or None, new or None]  # no contact: None, as nobody
                    setattr(row, name, new)
            comment = self._mask(comment.strip())[:TEXT_MAX]
            if changes or comment:
                row.updated_at = datetime.now(UTC)
                session.add(TicketHistoryRow(ticket_id=row.id, at=row.updated_at, by=by[:64], changes=changes,
                                             comment=comment))
            return _ticket(row)

    async def find(self, where: TicketFilter, limit: int = 50, offset: int = 0) -> tuple[list[Ticket], int]:
        """The tickets ``where`` selects, most recently changed first, and how many there are in all."""
        query = select(TicketRow)
        if where.status:
            query = query.where(TicketRow.status == where.status)
        if where.assignee == "-":
            query = query.where(TicketRow.assignee.is_(None))
        elif where.assignee:
            query = query.where(TicketRow.assignee == where.assignee)
        if where.queue:
            query = query.where(TicketRow.queue == where.queue)
        if where.source:
            query = query.where(TicketRow.source == where.source)
        if where.call_id:
            query = query.where(TicketRow.call_id == where.call_id)
        if where.visible_to:
            query = query.where(or_(TicketRow.assignee == where.visible_to, TicketRow.created_by == where.visible_to))
        for word in where.text.split()[:8]:
            pattern = f"%{word.lower()}%"
            query = query.where(or_(func.lower(TicketRow.title).like(pattern),
                                    func.lower(TicketRow.description).like(pattern), TicketRow.contact.like(pattern)))
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = await session.scalars(query.order_by(TicketRow.updated_at.desc(), TicketRow.id.desc())
                                         .limit(min(limit, PAGE_MAX)).offset(offset))
            return [_ticket(r) for r in rows], total

    async def for_call(self, call_id: str) -> list[Ticket]:
        tickets, _ = await self.find(TicketFilter(call_id=call_id), limit=PAGE_MAX)
        return tickets


def _ticket(row: TicketRow) -> Ticket:
    return Ticket(row.id, row.call_id, row.title, row.description, row.status, row.priority, row.queue,
                  row.assignee, row.source, row.created_by, row.created_at, row.updated_at, row.contact)
