"""API tokens at rest: name, scopes and the SHA-256 of the secret (never the secret itself)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from voicebot.store.models import ApiTokenRow


@dataclass(frozen=True, slots=True)
class TokenRecord:
    name: str
    scopes: tuple[str, ...]
    hint: str  # the first characters of the secret, to recognise it
    created_at: datetime
    revoked_at: datetime | None


class SqlTokenStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def add(self, name: str, digest: str, scopes: tuple[str, ...], hint: str) -> None:
        """Store a new token; ``ValueError`` if an active token already has that name."""
        async with self._sessions.begin() as session:
            taken = await session.scalar(select(ApiTokenRow.name).where(ApiTokenRow.name == name))
            if taken is not None:
                raise ValueError(f"a token named {name!r} exists (names are never reused); choose another name")
            session.add(ApiTokenRow(name=name, digest=digest, scopes=" ".join(sorted(scopes)), hint=hint,
                                    created_at=datetime.now(UTC)))

    async def active(self, digest: str) -> TokenRecord | None:
        async with self._sessions() as session:
            row = await session.scalar(select(ApiTokenRow).where(ApiTokenRow.digest == digest,
                                                                 ApiTokenRow.revoked_at.is_(None)))
            return _record(row) if row is not None else None

    async def list(self) -> list[TokenRecord]:
        async with self._sessions() as session:
            return [_record(row) for row in await session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.name))]

    async def revoke(self, name: str) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(update(ApiTokenRow).where(ApiTokenRow.name == name,
                                                                     ApiTokenRow.revoked_at.is_(None))
                                           .values(revoked_at=datetime.now(UTC)))
            return bool(result.rowcount)


def _record(row: ApiTokenRow) -> TokenRecord:
    return TokenRecord(row.name, tuple(row.scopes.split()), row.hint, row.created_at, row.revoked_at)
