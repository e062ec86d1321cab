"""The QA console's store on a SQLite file and on PostgreSQL (a schema of its own per test): full-text search
kept up to date as turns are written, every filter of the call list, paging, corrections, score cards, scores
per flow over time and the corrected turns as examples."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from databases import DATABASES, migrated_call_store
from sqlalchemy import delete

from voicebot.store.models import CallRow, DeskActionRow
from voicebot.store.qa import CallFilter, Example, ScoreCard, SqlQaStore
from voicebot.store.repo import SqlCallStore
from voicebot.types import HandoffPacket, Turn

DAY = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday


@pytest.fixture(params=DATABASES)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlCallStore]:
    """The call store, migrated, on a SQLite file or in a fresh PostgreSQL schema (dropped afterwards)."""
    async with migrated_call_store(request.param, tmp_path) as opened:
        yield opened


def _packet(call_id: str, reason: str) -> HandoffPacket:
    return HandoffPacket(call_id=call_id, caller_id="+15550001", queue="banking", skill=None, priority=0,
                         reason=reason, intent_summary="", slots={}, transcript=(), emotion_trail=(),
                         created_at=DAY.timestamp())


async def _call(store: SqlCallStore, flow: str, started: datetime, outcome: str,
                turns: list[tuple[str, str | None, str | None, str]], reason: str | None = None) -> str:
    """A call with turns (caller words, intent, emotion, bot words)."""
    call_id = str(uuid.uuid4())
    at = started.timestamp()
    await store.call_started(call_id, "+15550001", flow, at)
    for index, (words, intent, emotion, bot) in enumerate(turns):
        await store.turn_completed(call_id, Turn(index=index, caller_text=words, intent=intent, emotion=emotion,
                                                 bot_text=bot))
    await store.call_ended(call_id, outcome, at + 60, _packet(call_id, reason) if reason else None)
    await store.flush()
    return call_id


async def _ids(qa: SqlQaStore, **wanted) -> set[str]:
    page = await qa.search(CallFilter(**wanted), limit=100)
    assert page.total == len(page.calls)
    return {listed.call.id for listed in page.calls}


async def test_search_and_every_filter(store: SqlCallStore) -> None:
    lost = await _call(store, "banking", DAY, "handoff",
                       [("my card was stolen yesterday", "lost_card", "negative", "I'm sorry. Let's block it."),
                        ("please hurry", None, "negative", "Passing you to a colleague.")], reason="caller_request")
    balance = await _call(store, "banking", DAY + timedelta(days=1), "completed",
                          [("what's my balance", "check_balance", "neutral", "Your balance is fifty dollars.")])
    parcel = await _call(store, "logistics", DAY + timedelta(days=8), "abandoned",
                         [("where is my parcel", "track_parcel", None, "Your parcel's tracking number?")])
    async with store.engine.begin() as conn:  # what the agent desktop records
        await conn.execute(DeskActionRow.__table__.insert(), [
            {"id": uuid.uuid4().hex, "call_id": lost, "user_name": "ann", "at": DAY, "kind": "disposition",
             "data": {"disposition": "resolved", "text": ""}}])
    qa = SqlQaStore(store.engine)
    everything = {lost, balance, parcel}

    assert await _ids(qa) == everything
    assert await _ids(qa, words="STOLEN card") == {lost}  # any case, words in any order
    assert await _ids(qa, words="stolen banana") == set()  # every word is needed
    assert await _ids(qa, words="balance") == {balance}  # the bot's words too ("Your balance")
    assert await _ids(qa, words='"stolen" (card* -') == {lost}  # FTS syntax is dropped, the words kept
    assert await _ids(qa, words="...") == everything  # no word: no search
    assert await _ids(qa, since=DAY.date() + timedelta(days=1)) == {balance, parcel}
    assert await _ids(qa, until=DAY.date() + timedelta(days=1)) == {lost, balance}  # the whole last day
    assert await _ids(qa, flow="logistics") == {parcel}
    assert await _ids(qa, intent="lost_card") == {lost}
    assert await _ids(qa, outcome="completed") == {balance}
    assert await _ids(qa, emotion="negative") == {lost}
    assert await _ids(qa, reason="caller_request") == {lost}
    assert await _ids(qa, contained=True) == {balance}
    assert await _ids(qa, contained=False) == {lost, parcel}
    assert await _ids(qa, agent="ann") == {lost}
    assert await _ids(qa, disposition="resolved") == {lost}
    assert await _ids(qa, disposition="complaint") == set()
    assert await _ids(qa, flow="banking", words="balance", contained=True) == {balance}

    newest = await qa.search(CallFilter(), limit=2)
    older = await qa.search(CallFilter(), limit=2, offset=2)
    assert [c.call.id for c in newest.calls] == [parcel, balance] and newest.total == 3
    assert [c.call.id for c in older.calls] == [lost] and newest.calls[0].call.turn_count == 1

    choices = await qa.choices()
    assert choices.flows == ("banking", "logistics") and choices.reasons == ("caller_request",)
    assert choices.intents == ("check_balance", "lost_card", "track_parcel")
    assert (choices.agents, choices.dispositions) == (("ann",), ("resolved",))


async def test_turns_written_after_the_migration_are_found_and_deleted_ones_are_not(store: SqlCallStore) -> None:
    qa = SqlQaStore(store.engine)
    first = await _call(store, "banking", DAY, "completed", [("the cheque bounced", None, None, "Okay.")])
    assert await _ids(qa, words="cheque") == {first}
    async with store.engine.begin() as conn:  # retention removes a call: its turns leave the index
        await conn.execute(delete(CallRow).where(CallRow.id == first))
    assert await _ids(qa, words="cheque") == set()


async def test_scores_corrections_and_examples(store: SqlCallStore) -> None:
    qa = SqlQaStore(store.engine)
    monday = await _call(store, "banking", DAY, "completed",
                         [("my balance please", "check_balance", None, "Your balance is ten dollars."),
                          ("block my cart", "check_balance", None, "Anything else?")])
    tuesday = await _call(store, "banking", DAY + timedelta(days=1), "handoff", [("hello", None, None, "Hi.")])
    later = await _call(store, "logistics", DAY + timedelta(days=7), "completed", [("parcel", None, None, "Ok.")])

    assert await qa.correct(monday, 5, "x", None, "quinn") is None  # no such turn
    await qa.correct(monday, 1, "block my card", "lost_card", "quinn")
    fixed = await qa.correct(monday, 1, "block my card please", None, "sue")  # the newest counts
    await qa.correct(tuesday, 0, None, "greeting", "quinn")  # the intent only
    corrections = await qa.corrections(monday)
    assert fixed is not None and corrections == {1: fixed}
    assert (fixed.caller_text, fixed.intent, fixed.user_name) == ("block my card please", None, "sue")

    assert await qa.examples() == [Example("banking", "check_balance", "block my card please"),
                                   Example("banking", "greeting", "hello")]
    assert await qa.examples("logistics") == []

    for call_id, flow_score in ((monday, 80.0), (tuesday, 40.0), (later, 100.0)):
        await qa.save_score(ScoreCard(call_id, "service", flow_score, {"polite": {"answer": "yes", "auto": False}},
                                      "", "quinn", DAY))
    await qa.save_score(ScoreCard(monday, "service", 90.0, {}, "rescored", "sue", DAY))  # replaces
    assert (await qa.scores(monday))["service"].score == 90.0
    assert (await qa.scores(monday))["service"].comment == "rescored"
    assert await _ids(qa, score_min=50) == {monday, later}
    assert await _ids(qa, score_max=50) == {tuesday}
    assert (await qa.search(CallFilter(flow="logistics"))).calls[0].score == 100.0

    weekly = await qa.flow_scores(date(2026, 11, 1), date(2026, 11, 30))
    assert [(s.flow, s.period, s.cards, s.mean) for s in weekly] == [
        ("banking", date(2026, 11, 2), 2, 65.0), ("logistics", date(2026, 11, 9), 1, 100.0)]
    daily = await qa.flow_scores(date(2026, 11, 3), date(2026, 11, 3), "day")
    assert [(s.flow, s.period, s.mean) for s in daily] == [("banking", date(2026, 11, 3), 40.0)]
    assert await qa.flow_scores(date(2026, 11, 1), date(2026, 11, 30), form="other") == []


async def test_voicebot_qa_export_writes_a_file_per_flow(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'voicebot.db'}"
    store = await SqlCallStore.open(url, tmp_path / "spool")
    try:
        banking = await _call(store, "banking", DAY, "completed", [("block my cart", None, None, "Okay.")])
        retail = await _call(store, "retail", DAY, "completed", [("where is my order", "order_status", None, "Ok.")])
        qa = SqlQaStore(store.engine)
        await qa.correct(banking, 0, "block my card", "lost_card", "quinn")
        await qa.correct(retail, 0, None, "track_order", "quinn")
    finally:
        await store.close()
    out = tmp_path / "examples"
    run = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "voicebot", "qa", "export", "--out", str(out),
                                                   "--url", url], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["banking.examples.yaml", "retail.examples.yaml"]
    assert yaml.safe_load((out / "retail.examples.yaml").read_text()) == {
        "intents": {"track_order": {"examples": ["where is my order"]}}}
    nothing = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "voicebot", "qa", "export", "--flow",
                                                       "parcels", "--url", url], capture_output=True, text=True,
                                      timeout=120)
    assert nothing.returncode == 1 and "no corrected turns" in nothing.stderr
