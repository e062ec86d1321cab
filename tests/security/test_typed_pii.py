"""What people type is masked like what callers say: a card number and an e-mail address typed into a QA
correction or score card comment, an agent's note, disposition text or ticket, and a ticket's title, description
and comments are stored masked (the rows read back from a real SQLite file); without a masker (pii.mask off) they
are kept as typed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from databases import recorded_call
from voicebot.config import PiiSettings
from voicebot.nlu.pii import masker_for
from voicebot.store.desktop import SqlDeskStore
from voicebot.store.models import DeskActionRow, QaCorrectionRow, QaScoreRow, TicketHistoryRow, TicketRow
from voicebot.store.qa import ScoreCard, SqlQaStore
from voicebot.store.repo import SqlCallStore
from voicebot.store.tickets import SqlTicketStore
from voicebot.types import Turn

CARD, EMAIL = "4111 1111 1111 1111", "jane.doe@example.com"
TYPED = f"caller read card {CARD} and asked for mail to {EMAIL}"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[tuple[SqlCallStore, str]]:
    store = await SqlCallStore.open(f"sqlite+aiosqlite:///{tmp_path / 'voicebot.db'}", tmp_path / "spool")
    call = await recorded_call(store, "handoff", Turn(index=0, caller_text="my card was stolen", bot_text="Sorry."))
    try:
        yield store, call
    finally:
        await store.close()


async def _stored(store: SqlCallStore) -> list[str]:
    """Every typed text at rest: corrections, score comments, desk action data, tickets and their history."""
    async with store.engine.connect() as db:
        texts = list((await db.scalars(select(QaCorrectionRow.caller_text))).all())
        texts += (await db.scalars(select(QaScoreRow.comment))).all()
        texts += [str(data) for data in (await db.scalars(select(DeskActionRow.data))).all()]
        texts += [f"{r.title} | {r.description}" for r in (await db.execute(select(TicketRow))).all()]
        texts += (await db.scalars(select(TicketHistoryRow.comment))).all()
    return [t for t in texts if t]


async def _type_everywhere(store: SqlCallStore, call: str, mask: Callable[[str], str] | None) -> None:
    qa, desk, tickets = SqlQaStore(store.engine, mask), SqlDeskStore(store.engine, mask), \
        SqlTicketStore(store.engine, mask)
    assert await qa.correct(call, 0, TYPED, "lost_card", "quinn") is not None
    await qa.save_score(ScoreCard(call, "service", 1.0, {}, TYPED, "quinn", datetime.now(UTC)))
    for kind, data in (("note", {"text": TYPED}), ("disposition", {"disposition": "resolved", "text": TYPED}),
                       ("ticket", {"reference": "T-1", "number": "+15550001", "note": TYPED})):
        await desk.add_action(call, "ann", kind, data)
    ticket = await tickets.open(title=TYPED, description=TYPED, call_id=call, source="agent", created_by="ann")
    await tickets.update(ticket.id, "ann", comment=TYPED)


async def test_typed_card_numbers_and_emails_are_stored_masked(store) -> None:
    store, call = store
    await _type_everywhere(store, call, masker_for(PiiSettings()).mask)
    texts = await _stored(store)
    assert len(texts) == 7  # correction, comment, 3 desk actions, the ticket, its comment
    for text in texts:
        assert "[card ****1111]" in text and "[email]" in text, text
        assert CARD not in text and "1111 1111" not in text and EMAIL not in text, text
    async with store.engine.connect() as db:  # what is dialled back stays usable
        numbers = [d.get("number") for d in (await db.scalars(select(DeskActionRow.data))).all()]
    assert "+15550001" in numbers


async def test_without_a_masker_typed_text_is_kept_as_typed(store) -> None:
    store, call = store
    await _type_everywhere(store, call, None)
    texts = await _stored(store)
    assert len(texts) == 7 and all(CARD in text and EMAIL in text for text in texts), texts
