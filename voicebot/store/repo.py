"""The call record store: SQLite embedded by default, PostgreSQL through the same code.

Writing never blocks or breaks a call. The write methods turn their arguments into a JSON-safe record,
put it on a bounded queue and return at once. One writer task drains the queue in batches, one
transaction per batch. When the database fails (locked, down, disk full) the batch goes to the spool
(``spool.py``: JSON lines, fsync'd) and is replayed, in order, before the next successful write and at
start-up. When the queue is full (the database far behind) records go straight to the spool.

Replays are idempotent: turns and events carry an id made when they were queued, and call rows are
updated field by field, so a record written twice (a commit that failed after it happened) or out of
order (a spilled record overtaking a queued one) still gives the same rows.

Text goes through ``redact`` (identity by default) before it is queued: caller and bot text of turns and
the transcript of the handoff packet. PII masking plugs in there.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import exc, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from voicebot.store import database
from voicebot.store.models import CallRow, EventRow, TurnRow
from voicebot.store.spool import Record, Spool
from voicebot.types import CallOutcome, HandoffPacket, Turn

log = structlog.get_logger(__name__)

Redactor = Callable[[str], str]


@dataclasses.dataclass(frozen=True, slots=True)
class StoreHealth:
    """What ``/healthz`` says of the call record store."""

    status: str  # ok | degraded
    spooled: int = 0  # records waiting in the spool for the database
    held: int = 0  # records neither the database nor the spool took yet (in memory)
    write_failures: int = 0  # since start: writes the database failed (outages) or records it rejected

WRITE_CHUNK = 500  # records per transaction when a large spool is replayed


def no_redaction(text: str) -> str:
    return text


class SqlCallStore:
    """``engines.CallStore`` on SQLAlchemy 2 (async). Create with ``await SqlCallStore.open(...)``."""

    def __init__(self, engine: AsyncEngine, spool: Spool, *, redact: Redactor, queue_size: int,
                 batch_size: int, retry_s: float, schema: str | None = None) -> None:
        self._engine = engine
        self._schema_name = schema
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._spool = spool
        self._redact = redact
        self._queue: asyncio.Queue[Record] = asyncio.Queue(maxsize=queue_size)
        self._batch_size = batch_size
        self._retry_s = retry_s
        self._retry_at = 0.0  # loop time before which the database is not tried again
        self._schema_ready = False
        self._replay_pending = False  # the spool holds records
        self._held: list[Record] = []  # neither database nor spool would take these (disk full)
        self._overflow: list[Record] = []  # queue was full: on their way to the spool
        self._spill_task: asyncio.Task[None] | None = None
        self._spills = 0  # appends by the spill task, so a replay does not miss one made meanwhile
        self._commit_lock = asyncio.Lock()
        self._last_seq = 0
        self._write_failures = 0
        self._closed = False
        self._writer: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, url: str, spool_dir: Path, *, redact: Redactor = no_redaction,
                   queue_size: int = 10_000, batch_size: int = 200, busy_timeout_ms: int = 5000,
                   retry_s: float = 2.0, schema: str | None = None) -> SqlCallStore:
        """Connect, bring the schema up to date (Alembic), replay any spool, start the writer.

        ``url``: ``sqlite+aiosqlite:///var/voicebot.db`` or ``postgresql+asyncpg://user@host/db``.
        ``schema`` (PostgreSQL only) puts the tables in that schema. A database that is down at start-up
        does not stop the service: records spool until it is back.
        """
        engine = database.connect(url, busy_timeout_ms=busy_timeout_ms, schema=schema)
        spool = await asyncio.to_thread(Spool, spool_dir)
        store = cls(engine, spool, redact=redact, queue_size=queue_size, batch_size=batch_size,
                    retry_s=retry_s, schema=schema)
        try:
            await store._ensure_schema()
        except Exception as error:  # noqa: BLE001 - the bot still answers calls; records spool
            log.error("call record database unavailable at start-up; records will spool",
                      url=make_url(url).render_as_string(hide_password=True), error=str(error))
        store._replay_pending = await asyncio.to_thread(spool.has_records)
        if store._replay_pending and store._schema_ready:
            async with store._commit_lock:
                await store._commit([])
        store._writer = asyncio.create_task(store._run(), name="call-record-writer")
        return store

    # ------------------------------------------------------------------ write side (never blocks)

    async def call_started(self, call_id: str, caller_id: str, flow: str, started_at: float) -> None:
        self._submit(lambda: {"op": "start", "call_id": str(call_id), "caller_id": str(caller_id or ""),
                              "flow": str(flow or ""), "at": _wall(started_at)})

    async def turn_completed(self, call_id: str, turn: Turn) -> None:
        self._submit(lambda: self._turn_record(call_id, turn))

    async def event(self, call_id: str, kind: str, data: dict[str, Any], at: float | None = None) -> None:
        """An event of the call; ``at`` is when it happened (epoch or monotonic seconds; default: now)."""

        def record() -> Record:
            safe = _json_safe(data)
            if isinstance(safe.get("packet"), dict):
                safe["packet"] = self._redact_packet(safe["packet"])
            return {"op": "event", "id": uuid.uuid4().hex, "call_id": str(call_id),
                    "at": time.time() if at is None else _wall(at), "kind": str(kind), "data": safe}

        self._submit(record)

    async def call_ended(self, call_id: str, outcome: CallOutcome, ended_at: float,
                         handoff: HandoffPacket | None) -> None:
        def record() -> Record:
            packet = self._redact_packet(_json_safe(dataclasses.asdict(handoff))) if handoff else None
            return {"op": "end", "call_id": str(call_id), "outcome": str(outcome), "at": _wall(ended_at),
                    "handoff": packet}

        self._submit(record)

    async def flush(self) -> None:
        """Wait until every record queued so far is in the database or the spool (and try a replay)."""
        await self._queue.join()
        while self._spill_task is not None and not self._spill_task.done():
            await asyncio.shield(self._spill_task)
        if self._replay_pending or self._held:
            self._retry_at = 0.0
            async with self._commit_lock:
                await self._commit([])

    async def close(self) -> None:
        """Flush the queue, replay the spool if the database is back, stop the writer."""
        if self._closed:
            return
        self._closed = True  # from now on late records go straight to the spool, so the queue stays empty
        await self.flush()
        if self._writer is not None:
            async with self._commit_lock:  # the writer holds no batch now: stopping it loses nothing
                self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        if self._held:
            await asyncio.to_thread(self._last_resort, self._held)
        await self._engine.dispose()

    async def health(self) -> StoreHealth:
        """``ok``, or ``degraded`` while records wait in the spool or in memory (the database refused them)."""
        spooled = await asyncio.to_thread(self._spool.count)
        degraded = bool(spooled or self._held or self._overflow) or not self._schema_ready
        return StoreHealth("degraded" if degraded else "ok", spooled, len(self._held) + len(self._overflow),
                           self._write_failures)

    def _last_resort(self, records: list[Record]) -> None:
        """At shutdown neither the database nor the spool took these: keep them wherever a file can still be
        written, else in the log itself, and say which calls they belong to and where they are."""
        calls = sorted({str(r.get("call_id")) for r in records})
        data = "".join(json.dumps(r, separators=(",", ":"), default=str) + "\n" for r in records)
        for directory in (self._spool.directory, Path(tempfile.gettempdir()), Path.home()):
            path = directory / f"voicebot-unwritten-{time.time_ns()}.jsonl"
            try:
                with open(path, "x", encoding="utf-8") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError:
                continue
            log.critical("call records the database and the spool refused are kept in a file; replay them by "
                         "moving it into the spool directory as pending.jsonl", file=str(path),
                         records=len(records), calls=calls, spool=str(self._spool.directory))
            return
        log.critical("call records LOST from disk: the database and every directory refused them; they follow "
                     "in this line", records=len(records), calls=calls, data=data)

    @property
    def engine(self) -> AsyncEngine:
        """The engine it writes through; ``queries.SqlCallQueries`` reads through the same one."""
        return self._engine

    # ------------------------------------------------------------------ records

    def _submit(self, build: Callable[[], Record]) -> None:
        """Build the record and queue it; never raises, never waits."""
        try:
            record = build()
            self._last_seq = record["seq"] = max(self._last_seq + 1, time.time_ns())
        except Exception:  # noqa: BLE001 - a bad argument must not break the call
            log.exception("call record could not be built; dropped")
            return
        if self._closed:
            log.warning("call record after close; spooled", op=record["op"], call_id=record["call_id"])
            try:
                self._spool.append([record])
                self._replay_pending = True
            except OSError:
                log.critical("call record lost: store closed and spool unwritable", record=record)
            return
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            if not self._overflow:
                log.warning("call record queue full; spilling to the spool", size=self._queue.maxsize)
            self._overflow.append(record)
            if self._spill_task is None or self._spill_task.done():
                self._spill_task = asyncio.create_task(self._spill(), name="call-record-spill")

    def _turn_record(self, call_id: str, turn: Turn) -> Record:
        first = min(turn.marks.values(), default=0.0)
        response = turn.latency("speech_end", "first_frame_sent")
        return {
            "op": "turn", "id": uuid.uuid4().hex, "call_id": str(call_id), "at": time.time(),
            "index": int(turn.index), "caller_text": self._redact(turn.caller_text or ""),
            "asr_confidence": _number(turn.asr_confidence), "input_kind": str(turn.input_kind),
            "intent": _text(turn.intent), "intent_confidence": _number(turn.intent_confidence),
            "entities": _json_safe(turn.entities), "emotion": _text(turn.emotion),
            "emotion_score": _number(turn.emotion_score), "bot_text": self._redact(turn.bot_text or ""),
            "decision": str(turn.decision), "state": str(turn.state), "barged_in": bool(turn.barged_in),
            "marks": {stage: round((at - first) * 1000, 1) for stage, at in turn.marks.items()},
            "response_ms": None if response is None else round(response * 1000, 1),
        }

    def _redact_packet(self, packet: dict[str, Any]) -> dict[str, Any]:
        transcript = packet.get("transcript")
        if isinstance(transcript, list):
            packet["transcript"] = [[line[0], self._redact(str(line[1]))]
                                    if isinstance(line, list) and len(line) == 2 else line
                                    for line in transcript]
        return packet

    # ------------------------------------------------------------------ the writer

    async def _run(self) -> None:
        """Drain the queue in batches, one transaction each; retry the spool while it holds records."""
        while True:
            timeout = self._retry_s if (self._replay_pending or self._held) else None
            try:
                batch = [await asyncio.wait_for(self._queue.get(), timeout)]
            except TimeoutError:
                batch = []
            while len(batch) < self._batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            try:
                async with self._commit_lock:
                    await self._commit(batch)
            except Exception:  # noqa: BLE001 - the writer must outlive any fault
                log.exception("call record writer fault")
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _commit(self, batch: list[Record]) -> None:
        """Write spooled records and this batch, in order; on failure put the batch in the spool."""
        records, self._held = self._held + batch, []
        if not records and not self._replay_pending:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < self._retry_at:  # failed a moment ago: do not wait on it again per batch
            await self._to_spool(records)
            return
        spooled: list[Record] = []
        paths: list[Path] = []
        try:
            if self._replay_pending:
                spooled, paths = await asyncio.to_thread(self._spool.take)
            if not self._schema_ready:
                await self._ensure_schema()
            database.check_sqlite_files(self._engine.url)  # SQLite would die of SIGBUS instead of failing
            await self._write(sorted(spooled + records, key=lambda r: r.get("seq", 0)))
        except Exception as error:  # noqa: BLE001 - poison records are handled inside _write
            self._retry_at = loop.time() + self._retry_s
            self._write_failures += 1
            log.warning("call records not written (database unavailable); spooled", error=str(error),
                        records=len(records), waiting_in_spool=len(spooled))
            await self._to_spool(records)
            return
        if paths:
            await asyncio.to_thread(self._spool.done, paths)
            log.info("spooled call records replayed", records=len(spooled))
        spills = self._spills
        pending = await asyncio.to_thread(self._spool.has_records)
        self._replay_pending = pending or spills != self._spills

    async def _to_spool(self, records: list[Record]) -> None:
        if not records:
            return
        try:
            await asyncio.to_thread(self._spool.append, records)
            self._replay_pending = True
        except OSError as error:
            self._held = records + self._held
            log.critical("call record spool unwritable; holding records in memory", error=str(error),
                         records=len(self._held))

    async def _spill(self) -> None:
        """Move records that found the queue full into the spool."""
        while self._overflow:
            records, self._overflow = self._overflow, []
            try:
                await asyncio.to_thread(self._spool.append, records)
                self._spills += 1
                self._replay_pending = True
            except OSError as error:
                log.critical("call record spool unwritable", error=str(error), records=len(records))
                self._held.extend(records)

    async def _write(self, records: list[Record]) -> None:
        """Apply records in transactions of WRITE_CHUNK. Outages raise. A chunk that fails while the database
        answers holds a record it will never take: it is retried record by record and the records still
        refused go to ``rejected.jsonl``."""
        for start in range(0, len(records), WRITE_CHUNK):
            chunk = records[start:start + WRITE_CHUNK]
            try:
                await self._apply(chunk)
            except Exception as error:
                if _is_outage(error) or not await self._reachable():
                    raise
                log.error("call record batch refused; retrying one by one", error=str(error))
                for record in chunk:
                    try:
                        await self._apply([record])
                    except Exception as single:
                        if _is_outage(single) or not await self._reachable():
                            raise
                        log.error("call record refused; kept in rejected.jsonl", error=str(single),
                                  op=record.get("op"), call_id=record.get("call_id"))
                        self._write_failures += 1
                        await asyncio.to_thread(self._spool.reject, [record])

    async def _reachable(self) -> bool:
        try:
            async with self._engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any failure means the database is not there
            return False
        return True

    async def _apply(self, records: list[Record]) -> None:
        """One transaction. Creates a call row on first sight, so any order of records works."""
        async with self._sessions.begin() as session:
            calls = await _existing_calls(session, {r["call_id"] for r in records})
            seen = await _existing_ids(session, [r["id"] for r in records if r["op"] in ("turn", "event")])
            for r in records:
                op = r["op"]
                if op in ("turn", "event") and r["id"] in seen:
                    continue
                call = calls.get(r["call_id"])
                if call is None:
                    call = CallRow(id=r["call_id"], caller_id="", flow="", started_at=_dt(r["at"]),
                                   outcome="in_progress")
                    session.add(call)
                    calls[call.id] = call
                if op == "start":
                    call.caller_id, call.flow, call.started_at = r["caller_id"], r["flow"], _dt(r["at"])
                elif op == "end":
                    call.ended_at, call.outcome, call.handoff = _dt(r["at"]), r["outcome"], r["handoff"]
                    call.queue = (r["handoff"] or {}).get("queue")
                elif op == "turn":
                    session.add(TurnRow(
                        id=r["id"], call_id=call.id, index=r["index"], recorded_at=_dt(r["at"]),
                        **{k: r[k] for k in _TURN_FIELDS}))
                    seen.add(r["id"])
                elif op == "event":
                    session.add(EventRow(id=r["id"], call_id=call.id, at=_dt(r["at"]), kind=r["kind"],
                                         data=r["data"]))
                    seen.add(r["id"])
                else:
                    raise ValueError(f"unknown call record op {op!r}")
                if call.ended_at is not None:
                    call.duration_s = round((call.ended_at - call.started_at).total_seconds(), 3)

    async def _ensure_schema(self) -> None:
        database.check_sqlite_files(self._engine.url)
        await database.upgrade(self._engine, schema=self._schema_name)
        self._schema_ready = True


_TURN_FIELDS = ("caller_text", "asr_confidence", "input_kind", "intent", "intent_confidence", "entities",
                "emotion", "emotion_score", "bot_text", "decision", "state", "barged_in", "marks",
                "response_ms")


async def _existing_calls(session: AsyncSession, ids: set[str]) -> dict[str, CallRow]:
    rows = await session.scalars(select(CallRow).where(CallRow.id.in_(ids)))
    return {row.id: row for row in rows}


async def _existing_ids(session: AsyncSession, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    found = set(await session.scalars(select(TurnRow.id).where(TurnRow.id.in_(ids))))
    found |= set(await session.scalars(select(EventRow.id).where(EventRow.id.in_(ids))))
    return found


def _is_outage(error: BaseException) -> bool:
    """The database (not the record) failed: locked, disk full, connection lost or refused."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, exc.OperationalError | exc.InterfaceError | exc.DisconnectionError
                      | exc.TimeoutError | OSError | TimeoutError)


def _wall(t: float) -> float:
    """Epoch seconds. Accepts wall-clock epoch seconds or ``types.now()`` monotonic seconds (converted)."""
    return t if t > 1e9 else time.time() - (time.monotonic() - t)


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _json_safe(value: Any) -> Any:
    """Plain JSON (tuples as lists, unknown objects as strings, NaN and infinities as null)."""
    return _finite(json.loads(json.dumps(value, default=str)))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _number(value: Any) -> float | None:
    """Plain float (numpy scalars included), None for missing or non-finite values."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
