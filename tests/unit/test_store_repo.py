"""The call record store on a real SQLite file: lifecycle, locks, outages, spool replay, overflow, load."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from record_api import RecordApi
from voicebot.store.repo import SqlCallStore
from voicebot.store.spool import Spool
from voicebot.types import HandoffPacket, Turn, now


def _turn(index: int, text: str = "I lost my card") -> Turn:
    turn = Turn(index=index, caller_text=text, asr_confidence=0.9, intent="card_lost", intent_confidence=0.8,
                entities={"account": "12345678"}, emotion="frustrated", emotion_score=0.7,
                bot_text="Sorry to hear that.", decision="intent card_lost", state="ask_account")
    base = now()
    for offset, stage in enumerate(("speech_end", "asr_final", "nlu_done", "dialog_done",
                                    "tts_first_audio", "first_frame_sent")):
        turn.mark(stage, base + offset * 0.1)
    return turn


def _packet(call_id: str) -> HandoffPacket:
    return HandoffPacket(call_id=call_id, caller_id="+15550001", queue="cards", skill="cards", priority=5,
                         reason="caller_request", intent_summary="card_lost", slots={"account": "12345678"},
                         transcript=(("bot", "Welcome."), ("caller", "I lost my card")),
                         emotion_trail=(("frustrated", 0.7),), created_at=time.time())


async def _write_call(store: SqlCallStore, call_id: str, turns: int = 3, handoff: bool = True) -> None:
    await store.call_started(call_id, "+15550001", "banking", now())
    for i in range(turns):
        await store.turn_completed(call_id, _turn(i))
        await store.event(call_id, "barge_in", {"turn": i, "partial": "wait"})
    await store.call_ended(call_id, "handoff" if handoff else "completed", now(),
                           _packet(call_id) if handoff else None)


def _count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _spooled(spool_dir: Path) -> int:
    return len(Spool(spool_dir).take()[0])


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "var" / "voicebot.db"


def _url(db: Path) -> str:
    return f"sqlite+aiosqlite:///{db}"


async def test_lifecycle_written_and_read_back(db: Path, tmp_path: Path) -> None:
    store = await SqlCallStore.open(_url(db), tmp_path / "spool", redact=lambda t: t.replace("card", "****"))
    await _write_call(store, "call-1", turns=3)
    await _write_call(store, "call-2", turns=1, handoff=False)
    await store.flush()

    call = await RecordApi(store).get_call("call-1")
    assert call is not None
    assert (call["caller_id"], call["flow"], call["outcome"], call["queue"]) == \
        ("+15550001", "banking", "handoff", "cards")
    assert call["ended_at"] >= call["started_at"] and call["duration_s"] >= 0
    assert abs(time.time() - _epoch(call["started_at"])) < 60  # monotonic start converted to wall clock
    assert [t["index"] for t in call["turns"]] == [0, 1, 2]
    first = call["turns"][0]
    assert first["caller_text"] == "I lost my ****"  # the redact hook ran
    assert first["bot_text"] == "Sorry to hear that." and first["intent"] == "card_lost"
    assert first["entities"] == {"account": "12345678"} and first["emotion"] == "frustrated"
    assert set(first["marks"]) == {"speech_end", "asr_final", "nlu_done", "dialog_done", "tts_first_audio",
                                   "first_frame_sent"}
    assert first["marks"]["speech_end"] == 0.0 and first["marks"]["first_frame_sent"] == pytest.approx(500, abs=1)
    assert first["response_ms"] == pytest.approx(500, abs=1)
    assert [e["kind"] for e in call["events"]] == ["barge_in"] * 3
    assert call["events"][0]["data"] == {"turn": 0, "partial": "wait"}

    handoff = await RecordApi(store).handoff_for("call-1")
    assert handoff is not None
    assert (handoff["queue"], handoff["skill"], handoff["priority"]) == ("cards", "cards", 5)
    assert handoff["transcript"][1] == ["caller", "I lost my ****"]
    assert await RecordApi(store).handoff_for("call-2") is None
    assert await RecordApi(store).handoff_for("nope") is None
    assert await RecordApi(store).get_call("nope") is None

    listed = await RecordApi(store).list_calls()
    assert {c["id"] for c in listed} == {"call-1", "call-2"}
    assert {c["id"]: c["turn_count"] for c in listed} == {"call-1": 3, "call-2": 1}
    assert [c["id"] for c in await RecordApi(store).list_calls(outcome="completed")] == ["call-2"]
    assert len(await RecordApi(store).list_calls(limit=1)) == 1 and len(await RecordApi(store).list_calls(offset=2)) == 0
    await store.close()
    assert _spooled(tmp_path / "spool") == 0


async def test_writes_return_while_database_locked_and_land_after_release(db: Path, tmp_path: Path) -> None:
    store = await SqlCallStore.open(_url(db), tmp_path / "spool", busy_timeout_ms=10_000)
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        await _write_call(store, "locked", turns=2)  # returns although the writer cannot write
        await asyncio.sleep(0.3)
        assert _count(db, "calls") == 0 and _count(db, "turns") == 0  # WAL: readers still read
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    await store.flush()
    call = await RecordApi(store).get_call("locked")
    assert call is not None and len(call["turns"]) == 2 and len(call["events"]) == 2
    assert call["outcome"] == "handoff"
    await store.close()


async def test_lock_longer_than_busy_timeout_spools_then_replays(db: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    store = await SqlCallStore.open(_url(db), spool, busy_timeout_ms=50, retry_s=0.2)
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        await _write_call(store, "spooled", turns=2)
        await store.flush()  # cannot write: everything is in the spool
        assert _spooled(spool) == 1 + 2 + 2 + 1
        assert _count(db, "calls") == 0
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    await store.flush()  # the database is back: the spool is replayed
    assert _spooled(spool) == 0
    call = await RecordApi(store).get_call("spooled")
    assert call is not None and len(call["turns"]) == 2 and call["outcome"] == "handoff"
    await store.close()


async def test_outage_spool_replayed_on_reopen_without_loss_or_duplicates(db: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    store = await SqlCallStore.open(_url(db), spool)
    await _write_call(store, "before", turns=1)
    await store.close()

    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    store = await SqlCallStore.open(_url(db), spool, busy_timeout_ms=50)
    for n in range(5):
        await _write_call(store, f"outage-{n}", turns=2)
    await store.close()  # the database is still locked: close leaves the records in the spool
    locker.execute("ROLLBACK")
    locker.close()
    assert _spooled(spool) == 5 * 6
    copy = tmp_path / "spool-copy"
    shutil.copytree(spool, copy)

    store = await SqlCallStore.open(_url(db), spool)  # start-up replays the spool
    await store.close()
    assert _spooled(spool) == 0
    assert (_count(db, "calls"), _count(db, "turns"), _count(db, "events")) == (6, 11, 11)

    shutil.rmtree(spool)
    shutil.copytree(copy, spool)  # the same records again, as if a replay had committed but not been noted
    store = await SqlCallStore.open(_url(db), spool)
    await store.close()
    assert (_count(db, "calls"), _count(db, "turns"), _count(db, "events")) == (6, 11, 11)
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM calls WHERE outcome = 'handoff' AND queue = 'cards'"
                           ).fetchone()[0] == 6


async def test_database_down_at_start_up_does_not_stop_the_calls(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    store = await SqlCallStore.open("postgresql+asyncpg://postgres@127.0.0.1:1/none", spool)
    await _write_call(store, "no-db", turns=2)
    await store.close()
    records, _ = Spool(spool).take()
    assert [r["op"] for r in records] == ["start", "turn", "event", "turn", "event", "end"]
    assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)


async def test_full_queue_spills_to_spool_and_nothing_is_lost(db: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    store = await SqlCallStore.open(_url(db), spool, queue_size=5, batch_size=5, busy_timeout_ms=10_000)
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        await _write_call(store, "burst", turns=20)  # 42 records into a queue of 5
        for _ in range(200):  # the spill runs in a thread; wait for it (not a timing assertion)
            if Spool(spool).has_records():
                break
            await asyncio.sleep(0.05)
        assert Spool(spool).has_records()
        assert _count(db, "turns") == 0
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    await store.flush()
    call = await RecordApi(store).get_call("burst")
    assert call is not None
    assert [t["index"] for t in call["turns"]] == list(range(20))
    assert len(call["events"]) == 20 and call["outcome"] == "handoff"
    assert _spooled(spool) == 0
    await store.close()


async def test_fifty_concurrent_calls(db: Path, tmp_path: Path) -> None:
    store = await SqlCallStore.open(_url(db), tmp_path / "spool", batch_size=50)

    async def caller(n: int) -> None:
        call_id = f"c{n:02d}"
        await store.call_started(call_id, f"+1555{n:04d}", "banking", now())
        for i in range(4):
            await asyncio.sleep(0)
            await store.turn_completed(call_id, _turn(i, f"utterance {i} of {n}"))
        await store.call_ended(call_id, "completed", now(), None)

    await asyncio.gather(*(caller(n) for n in range(50)))
    await store.flush()
    calls = await RecordApi(store).list_calls(limit=100)
    assert len(calls) == 50 and all(c["turn_count"] == 4 and c["outcome"] == "completed" for c in calls)
    one = await RecordApi(store).get_call("c17")
    assert one is not None and [t["caller_text"] for t in one["turns"]] == [f"utterance {i} of 17" for i in range(4)]
    await store.close()


async def test_rejected_record_does_not_block_the_others(db: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    # a record the database can never take (here: one from a spool an older version wrote, fields missing)
    Spool(spool).append([{"op": "turn", "id": "x" * 32, "call_id": "old", "at": time.time(), "seq": 1}])
    store = await SqlCallStore.open(_url(db), spool)
    await store.call_started("good", "1", "banking", now())
    await store.call_ended("good", "completed", now(), None)
    await store.flush()
    call = await RecordApi(store).get_call("good")
    assert call is not None and call["outcome"] == "completed"
    assert (spool / "rejected.jsonl").read_text().count("\n") == 1
    assert not Spool(spool).has_records()
    await store.close()


async def test_bad_arguments_never_raise_into_the_call(db: Path, tmp_path: Path) -> None:
    store = await SqlCallStore.open(_url(db), tmp_path / "spool")
    await store.event("odd", "weird", {"obj": object(), "bytes": b"\x00", "tuple": (1, 2)})
    await store.turn_completed("odd", None)  # type: ignore[arg-type]  # dropped with a log line
    await store.flush()
    call = await RecordApi(store).get_call("odd")
    assert call is not None and call["events"][0]["data"]["tuple"] == [1, 2]
    await store.close()


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


async def test_record_after_close_is_spooled_and_replayed_next_start(db: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    store = await SqlCallStore.open(_url(db), spool)
    await store.call_started("late", "1", "retail", now())
    await store.close()
    await store.call_ended("late", "abandoned", now(), None)  # a call task finishing during shutdown
    assert _spooled(spool) == 1
    store = await SqlCallStore.open(_url(db), spool)
    call = await RecordApi(store).get_call("late")
    assert call is not None and call["outcome"] == "abandoned" and call["flow"] == "retail"
    await store.close()


async def test_an_event_keeps_the_time_it_happened(db: Path, tmp_path: Path) -> None:
    """The recorder may write an event late (its queue behind a busy database): the event's own time is kept."""
    store = await SqlCallStore.open(_url(db), tmp_path / "spool")
    happened = time.time() - 30
    await store.call_started("call-late", "", "banking", now())
    await store.event("call-late", "dtmf", {"digit": "5"}, at=happened)
    await store.event("call-late", "dtmf", {"digit": "6"})
    await store.flush()
    call = await RecordApi(store).get_call("call-late")
    await store.close()
    assert call is not None
    late, current = (_epoch(e["at"]) for e in call["events"])
    assert late == pytest.approx(happened, abs=0.01) and abs(time.time() - current) < 30
