"""People who log in to the web app, and their sessions, at rest.

A user has a name, a role and an argon2 hash of the password (hashing happens in ``voicebot.web.people``;
this module stores what it is given). A session is stored as the SHA-256 of the cookie's secret; it is
valid while not revoked, used within the idle timeout and younger than the absolute one. Disabling a user
or changing the password revokes every session of that user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from voicebot.store.models import UserRow, WebSessionRow

TOUCH_EVERY = timedelta(seconds=60)  # a session's last use is written at most this often


@dataclass(frozen=True, slots=True)
class UserRecord:
    name: str
    role: str
    password_hash: str
    created_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True, slots=True)
class SessionLimits:
    idle: timedelta  # unused this long: ended
    absolute: timedelta  # this long after login: ended


class SqlUserStore:
    """Users and their web sessions in the call record database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def add(self, name: str, role: str, password_hash: str) -> None:
        """Store a new user; ``ValueError`` if the name is taken (names are never reused)."""
        async with self._sessions.begin() as session:
            if await session.scalar(select(UserRow.name).where(UserRow.name == name)) is not None:
                raise ValueError(f"a user named {name!r} exists")
            session.add(UserRow(name=name, role=role, password_hash=password_hash, created_at=datetime.now(UTC)))

    async def get(self, name: str) -> UserRecord | None:
        async with self._sessions() as session:
            row = await session.get(UserRow, name)
            return _user(row) if row is not None else None

    async def list(self) -> list[UserRecord]:
        async with self._sessions() as session:
            return [_user(row) for row in await session.scalars(select(UserRow).order_by(UserRow.name))]

    async def set_password(self, name: str, password_hash: str) -> bool:
        """Replace the hash and end the user's sessions; False if there is no such user."""
        async with self._sessions.begin() as session:
            result = await session.execute(update(UserRow).where(UserRow.name == name)
                                           .values(password_hash=password_hash))
            await _revoke_all(session, name)
            return bool(result.rowcount)

    async def disable(self, name: str) -> bool:
        """Refuse the user's logins from now on and end their sessions; False if no active user has the name."""
        async with self._sessions.begin() as session:
            result = await session.execute(update(UserRow).where(UserRow.name == name, UserRow.disabled_at.is_(None))
                                           .values(disabled_at=datetime.now(UTC)))
            await _revoke_all(session, name)
            return bool(result.rowcount)

    async def open_session(self, digest: str, name: str, limits: SessionLimits) -> None:
        """Store a new session, and forget the sessions that have ended (so the table stays small)."""
        now = datetime.now(UTC)
        async with self._sessions.begin() as session:
            await session.execute(delete(WebSessionRow).where(or_(
                WebSessionRow.revoked_at.is_not(None), WebSessionRow.created_at < now - limits.absolute,
                WebSessionRow.last_seen_at < now - limits.idle)))
            session.add(WebSessionRow(digest=digest, user_name=name, created_at=now, last_seen_at=now))

    async def session_user(self, digest: str, limits: SessionLimits) -> UserRecord | None:
        """The active user of a valid session (its last use noted), None if unknown, revoked, expired or the
        user is disabled."""
        now = datetime.now(UTC)
        async with self._sessions.begin() as session:
            row = await session.get(WebSessionRow, digest)
            if row is None or row.revoked_at is not None:
                return None
            if now - row.last_seen_at > limits.idle or now - row.created_at > limits.absolute:
                row.revoked_at = now
                return None
            user = await session.get(UserRow, row.user_name)
            if user is None or user.disabled_at is not None:
                return None
            if now - row.last_seen_at > TOUCH_EVERY:
                row.last_seen_at = now
            return _user(user)

    async def close_session(self, digest: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(update(WebSessionRow).where(WebSessionRow.digest == digest,
                                                              WebSessionRow.revoked_at.is_(None))
                                  .values(revoked_at=datetime.now(UTC)))


async def _revoke_all(session: AsyncSession, name: str) -> None:
    await session.execute(update(WebSessionRow).where(WebSessionRow.user_name == name,
                                                      WebSessionRow.revoked_at.is_(None))
                          .values(revoked_at=datetime.now(UTC)))


def _user(row: UserRow) -> UserRecord:
    return UserRecord(row.name, row.role, row.password_hash, row.created_at, row.disabled_at)
