"""Unmasked originals, encrypted, and the audit log of every view or export of them (migration 0008).

Only with ``pii.keep_unmasked``: the session seals the clear fields of a turn whose record it masked
(:class:`Sealer`, Fernet with ``pii.key``) into the turn's ``TurnCompleted`` event, so the bus and the
database only ever hold the token; the recorder hands it to :meth:`SqlPiiVault.keep`, which never waits: one
writer task stores the originals (an original the database refuses, in an outage, is lost with an error line;
the masked record, which spools, is what is never lost). A read
(:meth:`SqlPiiVault.read`, for a reader the web layer let through) writes its audit row in the same
transaction as it reads: no read goes unlogged, and a read that cannot be logged does not happen.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from voicebot.config import PiiSettings
from voicebot.store.models import PiiAuditRow, PiiOriginalRow

log = structlog.get_logger(__name__)

SEALED_FIELDS = ("caller_text", "bot_text", "decision", "entities")  # what a turn's original holds
KEEP_QUEUE = 10_000  # originals waiting for the writer; more are dropped (with an error line)


class Sealer:
    """Encrypts and decrypts originals with one Fernet key (AES-128-CBC and HMAC-SHA256)."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())  # ValueError for a key that is not 32 url-safe base64 bytes

    def seal(self, clear: Mapping[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(clear, default=str).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        """The clear fields; ``InvalidToken`` for a token of another key or altered."""
        return json.loads(self._fernet.decrypt(token.encode()))


def new_key() -> str:
    """A fresh key for ``pii.key`` (``voicebot pii key``)."""
    return Fernet.generate_key().decode()


def sealer_for(settings: PiiSettings) -> Sealer | None:
    """The service's sealer; None unless ``pii.keep_unmasked``. A missing or malformed key is a start-up error."""
    if not settings.keep_unmasked:
        return None
    key = settings.key.get_secret_value()
    if not key:
        raise ValueError("pii.keep_unmasked needs pii.key (a Fernet key: voicebot pii key)")
    try:
        return Sealer(key)
    except ValueError as error:
        raise ValueError(f"pii.key is not a Fernet key ({error}); make one with voicebot pii key") from None


@dataclass(frozen=True, slots=True)
class Original:
    """A turn as the caller said it and the bot answered it, before masking."""

    turn_index: int
    caller_text: str
    bot_text: str
    decision: str
    entities: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str
    role: str
    action: str  # view, export
    call_id: str
    detail: str


class SqlPiiVault:
    """The originals at rest and the audit log (one engine with the call records)."""

    def __init__(self, engine: AsyncEngine, sealer: Sealer | None) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.sealer = sealer
        self._queue: asyncio.Queue[PiiOriginalRow | None] = asyncio.Queue(KEEP_QUEUE)
        self._writer: asyncio.Task[None] | None = None

    async def keep(self, call_id: str, turn_index: int, sealed: str) -> None:
        """Queue one turn's sealed original (the token as the session made it) for the writer; never waits."""
        if self._writer is None:
            self._writer = asyncio.create_task(self._write(), name="pii-originals-writer")
        row = PiiOriginalRow(id=uuid.uuid4().hex, call_id=call_id, turn_index=turn_index, sealed=sealed,
                             created_at=datetime.now(UTC))
        try:
            self._queue.put_nowait(row)
        except asyncio.QueueFull:
            log.error("unmasked original dropped: the writer is behind", call_id=call_id, turn=turn_index)

    async def close(self) -> None:
        """Store the originals queued so far, then stop the writer."""
        if self._writer is not None:
            await self._queue.put(None)
            await self._writer
            self._writer = None

    async def _write(self) -> None:
        while (row := await self._queue.get()) is not None:
            try:
                async with self._sessions.begin() as session:
                    session.add(row)
            except Exception as error:  # noqa: BLE001 - a lost original must not stop the others
                log.error("unmasked original not stored", call_id=row.call_id, turn=row.turn_index,
                          error=str(error))

    async def read(self, call_id: str, *, actor: str, role: str, action: str = "view") -> list[Original]:
        """The call's originals in turn order, for ``actor`` acting as ``role``; the read is audited with them.
        Without a sealer (originals not kept) nothing is read and nothing logged: ``LookupError``."""
        if self.sealer is None:
            raise LookupError("unmasked originals are not kept (pii.keep_unmasked is off)")
        async with self._sessions.begin() as session:
            rows = (await session.scalars(select(PiiOriginalRow).where(PiiOriginalRow.call_id == call_id)
                                          .order_by(PiiOriginalRow.turn_index))).all()
            originals = []
            for row in rows:
                try:
                    clear = self.sealer.open(row.sealed)
                except InvalidToken:  # sealed under another key: unreadable, and said so
                    clear = {"caller_text": "", "bot_text": "", "decision": "(sealed with another key)"}
                originals.append(Original(row.turn_index, str(clear.get("caller_text", "")),
                                          str(clear.get("bot_text", "")), str(clear.get("decision", "")),
                                          dict(clear.get("entities") or {})))
            session.add(PiiAuditRow(id=uuid.uuid4().hex, at=datetime.now(UTC), actor=actor, role=role,
                                    action=action, call_id=call_id,
                                    detail=f"{len(originals)} turns: " + ",".join(str(o.turn_index)
                                                                                 for o in originals)))
        return originals

    async def audit(self, *, call_id: str | None = None, actor: str | None = None, limit: int = 100,
                    offset: int = 0) -> list[AuditEntry]:
        """The audit log, newest first."""
        query = select(PiiAuditRow).order_by(PiiAuditRow.at.desc(), PiiAuditRow.id).limit(limit).offset(offset)
        if call_id is not None:
            query = query.where(PiiAuditRow.call_id == call_id)
        if actor is not None:
            query = query.where(PiiAuditRow.actor == actor)
        async with self._sessions() as session:
            rows = (await session.scalars(query)).all()
        return [AuditEntry(r.at, r.actor, r.role, r.action, r.call_id, r.detail) for r in rows]
