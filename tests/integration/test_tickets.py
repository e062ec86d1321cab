"""Tickets at rest (store/tickets.py) on a SQLite file and on PostgreSQL: opened with a first history entry,
changed with one entry per change saying who and from what to what, filtered, never lost; bad values refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from databases import DATABASES, migrated_engine
from voicebot.nlu.pii import PiiMasker, PiiRules
from voicebot.store import database
from voicebot.store.tickets import SqlTicketStore, TicketFilter, parse_reference, reference


@pytest.fixture(params=DATABASES)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(request.param, tmp_path) as engine:
        yield engine


async def test_a_ticket_keeps_every_change_with_who_and_what(engine: AsyncEngine) -> None:
    tickets = SqlTicketStore(engine)
    opened = await tickets.open(title="  Refund   the jacket ", description="Size M was too small.",
                                call_id="c-1", queue="retail", source="flow", created_by="retail")
    assert (opened.title, opened.status, opened.priority, opened.assignee) == ("Refund the jacket", "open",
                                                                                "normal", None)
    assert parse_reference(opened.reference) == opened.id and opened.reference == reference(opened.id)

    taken = await tickets.update(opened.id, "sue", assignee="ann", priority="high", comment="Ann knows the shop.")
    assert taken is not None and (taken.assignee, taken.priority) == ("ann", "high")
    assert await tickets.update(opened.id, "ann", status="open") is not None  # no change, no comment: no entry
    done = await tickets.update(opened.id, "ann", status="resolved", comment="Refunded.")
    assert done is not None and done.status == "resolved" and done.updated_at >= taken.updated_at

    history = await tickets.history(opened.id)
    assert [(h.by, h.changes, h.comment) for h in history] == [
        ("retail", {"status": [None, "open"]}, ""),
        ("sue", {"assignee": [None, "ann"], "priority": ["normal", "high"]}, "Ann knows the shop."),
        ("ann", {"status": ["open", "resolved"]}, "Refunded."),
    ]
    unassigned = await tickets.update(opened.id, "sue", assignee="")
    assert unassigned is not None and unassigned.assignee is None
    assert (await tickets.history(opened.id))[-1].changes == {"assignee": ["ann", None]}


async def test_filters_select_by_status_assignee_call_words_and_visibility(engine: AsyncEngine) -> None:
    tickets = SqlTicketStore(engine)
    a = await tickets.open(title="Card never arrived", call_id="c-1", queue="banking", source="flow",
                           created_by="banking")
    b = await tickets.open(title="Parcel left in the safe place", description="nothing there", queue="logistics",
                           source="agent", created_by="ann", assignee="ann")
    c = await tickets.open(title="Wrong amount on the statement", queue="banking", source="qa", created_by="quinn")
    await tickets.update(c.id, "sue", status="in_progress", assignee="bob")

    async def ids(where: TicketFilter) -> list[int]:
        found, total = await tickets.find(where)
        assert total == len(found)
        return [t.id for t in found]

    assert await ids(TicketFilter()) == [c.id, b.id, a.id]  # most recently changed first
    assert await ids(TicketFilter(status="in_progress")) == [c.id]
    assert await ids(TicketFilter(assignee="-")) == [a.id]
    assert await ids(TicketFilter(queue="banking")) == [c.id, a.id]
    assert await ids(TicketFilter(call_id="c-1")) == [a.id]
    assert await ids(TicketFilter(text="SAFE nothing")) == [b.id]  # every word, title or description, any case
    assert await ids(TicketFilter(visible_to="ann")) == [b.id]
    assert await ids(TicketFilter(visible_to="quinn")) == [c.id]
    page, total = await tickets.find(TicketFilter(), limit=2, offset=2)
    assert [t.id for t in page] == [a.id] and total == 3
    assert [t.id for t in await tickets.for_call("c-1")] == [a.id]


async def test_the_contact_is_kept_unmasked_normalised_changed_in_the_history_and_found_by_its_digits(
        engine: AsyncEngine) -> None:
    tickets = SqlTicketStore(engine, PiiMasker(PiiRules()).mask)  # the masker takes numbers out of free text only
    opened = await tickets.open(title="Call back about +1 202 555 0143", contact="+1 (202) 555-0143",
                                source="flow", created_by="banking")
    assert (opened.contact, opened.title) == ("+12025550143", "Call back about [phone]")
    assert (await tickets.get(opened.id)).contact == "+12025550143"
    plain = await tickets.open(title="Review the greeting", source="qa", created_by="quinn")
    assert plain.contact == ""

    moved = await tickets.update(opened.id, "ann", contact="+44 20 7946 0018")
    assert moved is not None and moved.contact == "+442079460018"
    assert await tickets.update(opened.id, "ann", contact="+442079460018") is not None  # the same: no entry
    cleared = await tickets.update(opened.id, "sue", contact="")
    assert cleared is not None and cleared.contact == ""
    assert [h.changes for h in await tickets.history(opened.id)] == [
        {"status": [None, "open"], "contact": [None, "+12025550143"]},
        {"contact": ["+12025550143", "+442079460018"]},
        {"contact": ["+442079460018", None]},
    ]
    await tickets.update(plain.id, "quinn", contact="07700 900123")
    found, total = await tickets.find(TicketFilter(text="900123"))
    assert [t.id for t in found] == [plain.id] and total == 1

    with pytest.raises(ValueError, match="contact number"):
        await tickets.open(title="x", contact="call me", source="qa", created_by="quinn")
    with pytest.raises(ValueError, match="contact number"):
        await tickets.update(plain.id, "quinn", contact="PJSIP/1001", status="closed")
    assert (await tickets.get(plain.id)).contact == "07700 900123"  # the refused change left nothing behind
    assert (await tickets.get(plain.id)).status == "open"


async def test_tickets_opened_before_the_contact_column_are_kept_without_a_number(engine: AsyncEngine) -> None:
    schema = engine.get_execution_options().get("schema_translate_map", {}).get(None)  # PostgreSQL's own schema
    tickets = SqlTicketStore(engine)
    older = await tickets.open(title="Opened before 0013", contact="+12025550143", source="qa", created_by="quinn")
    assert await database.downgrade(engine, "0012", schema=schema) == "0012"
    assert await database.upgrade(engine, schema=schema) == database.head()
    kept = await tickets.get(older.id)
    assert kept is not None and (kept.title, kept.contact) == ("Opened before 0013", "")


async def test_bad_values_are_refused_and_unknown_tickets_are_none(engine: AsyncEngine) -> None:
    tickets = SqlTicketStore(engine)
    with pytest.raises(ValueError, match="title"):
        await tickets.open(title="   ", source="qa", created_by="quinn")
    with pytest.raises(ValueError, match="source"):
        await tickets.open(title="x", source="robot", created_by="quinn")
    ticket = await tickets.open(title="x", source="qa", created_by="quinn")
    with pytest.raises(ValueError, match="status"):
        await tickets.update(ticket.id, "sue", status="done")
    assert (await tickets.get(ticket.id)).status == "open"  # the refused change left nothing behind
    assert await tickets.update(ticket.id + 1000, "sue", status="closed") is None
    assert await tickets.get(ticket.id + 1000) is None
    assert parse_reference("T-000042") == 42 and parse_reference("t42") == 42 and parse_reference("x") is None
