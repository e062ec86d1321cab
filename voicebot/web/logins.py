"""People's logins: argon2 password hashes (pwdlib), session secrets, CSRF tokens, the login throttle, and
the user commands (``voicebot user add|list|passwd|disable``).

A session cookie holds 32 random bytes; the database keeps only their SHA-256. Each session's CSRF token is
an HMAC of the cookie's secret, so it needs no storage and cannot be derived from the database.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from typing import TypeVar

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from voicebot.config import WebSettings
from voicebot.store import database
from voicebot.store.users import SessionLimits, SqlUserStore, UserRecord
from voicebot.web.auth import ROLE_SCOPES, Principal, Role, SessionLookup, token_digest

PASSWORD_MIN, PASSWORD_MAX = 8, 256
NAME_MAX = 64
THROTTLE_KEYS_MAX = 100_000  # failure counters kept; the oldest go first
T = TypeVar("T")


@cache
def _passwords() -> PasswordHash:
    return PasswordHash((Argon2Hasher(),))


@cache
def _dummy_hash() -> str:
    """Checked against when the username is unknown, so an unknown name takes as long as a wrong password."""
    return _passwords().hash(secrets.token_urlsafe(16))


def check_password_rules(password: str) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise ValueError(f"a password is {PASSWORD_MIN} to {PASSWORD_MAX} characters")


def hash_password(password: str) -> str:
    check_password_rules(password)
    return _passwords().hash(password)


def verify_password(password: str, user: UserRecord | None) -> bool:
    """True when ``user`` exists, is not disabled and ``password`` is theirs; as slow either way."""
    if len(password) > PASSWORD_MAX:
        return False
    ok = _passwords().verify(password, user.password_hash if user is not None else _dummy_hash())
    return ok and user is not None and user.disabled_at is None


def new_session_secret() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(secret: str) -> str:
    """The CSRF token of the session (or pre-login form) whose secret is ``secret``."""
    return hmac.new(secret.encode(), b"voicebot csrf", hashlib.sha256).hexdigest()


def csrf_ok(secret: str | None, sent: str | None) -> bool:
    return bool(secret and sent) and hmac.compare_digest(csrf_token(secret), sent)


def session_limits(settings: WebSettings) -> SessionLimits:
    return SessionLimits(idle=timedelta(minutes=settings.session_idle_minutes),
                         absolute=timedelta(hours=settings.session_max_hours))


def principal_of(user: UserRecord) -> Principal:
    role = Role(user.role)
    return Principal(user.name, ROLE_SCOPES[role], role)


def session_lookup(users: SqlUserStore, settings: WebSettings) -> SessionLookup:
    """Resolve a session cookie to the person it belongs to (None: unknown, ended, or the user disabled)."""
    limits = session_limits(settings)

    async def lookup(secret: str) -> Principal | None:
        user = await users.session_user(token_digest(secret), limits)
        return principal_of(user) if user is not None else None

    return lookup


@dataclass
class LoginThrottle:
    """Failed logins per key (a username, a client address): ``max_failures`` within ``lock_s`` lock the key
    until ``lock_s`` after the last of them. In memory, per web process."""

    lock_s: float
    clock: Callable[[], float] = time.monotonic
    _failures: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)

    def locked_for(self, limits: Iterable[tuple[str, int]]) -> float:
        """Seconds until every (key, max failures) given may try again; 0 when none is locked."""
        now, wait = self.clock(), 0.0
        for key, max_failures in limits:
            recent = self._recent(key, now)
            if len(recent) >= max_failures:
                wait = max(wait, recent[-1] + self.lock_s - now)
        return wait

    def failed(self, keys: Iterable[str]) -> None:
        now = self.clock()
        for key in keys:
            self._recent(key, now).append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > THROTTLE_KEYS_MAX:
            self._failures.popitem(last=False)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        recent = self._failures.setdefault(key, deque())
        while recent and recent[0] <= now - self.lock_s:
            recent.popleft()
        return recent


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > NAME_MAX or not name.isprintable() or " " in name:
        raise ValueError(f"a username is 1 to {NAME_MAX} printable characters without spaces")
    return name


async def add_user(users: SqlUserStore, name: str, role: Role, password: str) -> None:
    await users.add(check_name(name), role.value, hash_password(password))


async def _at(url: str, work: Callable[[SqlUserStore], Awaitable[T]]) -> T:
    """Run ``work`` on the users of the database at ``url``, brought up to date first."""
    engine = database.connect(url)
    try:
        await database.upgrade(engine)
        return await work(SqlUserStore(engine))
    finally:
        await engine.dispose()


async def add_user_at(url: str, name: str, role: Role, password: str) -> None:
    await _at(url, lambda users: add_user(users, name, role, password))


async def users_at(url: str) -> list[UserRecord]:
    return await _at(url, lambda users: users.list())


async def set_password_at(url: str, name: str, password: str) -> bool:
    password_hash = hash_password(password)
    return await _at(url, lambda users: users.set_password(name, password_hash))


async def disable_at(url: str, name: str) -> bool:
    return await _at(url, lambda users: users.disable(name))
