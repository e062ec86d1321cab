"""Who may call the web API: API tokens for machine clients, checked per scope.

A token is ``vbt_`` + 32 random bytes (URL-safe base64), shown once when created (``voicebot token
create``); only its SHA-256 is stored (a random secret of that length needs no slow hash), with a short
prefix to recognise it in listings. Clients send ``Authorization: Bearer <token>``. Scopes:

* ``dialplan`` — what Asterisk's dialplan does: announce a call, read its handoff answer;
* ``read`` — read calls, turns, events and handoff packets;
* ``admin`` — everything.

People's logins (``voicebot/web/people.py``) resolve to the same :class:`Principal`, with scopes from their
role (:data:`ROLE_SCOPES`), so every route states the scope it needs once (:func:`require`): a request carries
a token or a person's session cookie.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from fastapi import HTTPException, Request
from sqlalchemy.exc import SQLAlchemyError

from voicebot.store import database
from voicebot.store.tokens import SqlTokenStore, TokenRecord

log = structlog.get_logger(__name__)

TOKEN_PREFIX = "vbt_"
SESSION_COOKIE = "voicebot_session"  # a person's login (voicebot/web/people.py)


class Scope(enum.StrEnum):
    DIALPLAN = "dialplan"
    READ = "read"
    ADMIN = "admin"


class Role(enum.StrEnum):
    """What a person does in the call centre; it decides their pages and their scopes."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    QA = "qa"
    ADMIN = "admin"


# agent: the calls handed to them (for now: read); qa and supervisor: read; admin: everything
# An agent reads no call through the API: the desktop pops the call handed to them, and only that one.
ROLE_SCOPES: dict[Role, frozenset[Scope]] = {Role.AGENT: frozenset(),
                                             Role.SUPERVISOR: frozenset({Scope.READ}),
                                             Role.QA: frozenset({Scope.READ}), Role.ADMIN: frozenset({Scope.ADMIN})}


@dataclass(frozen=True, slots=True)
class Principal:
    """Whoever a request is made by: a named API token, or a person (``role`` set) logged in with a session."""

    name: str
    scopes: frozenset[Scope]
    role: Role | None = None

    def may(self, scope: Scope) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes


TokenLookup = Callable[[str], Awaitable[Principal | None]]  # digest → principal, None if unknown or revoked
SessionLookup = Callable[[str], Awaitable[Principal | None]]  # session cookie → the person, None if not valid


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token as created: ``secret`` is shown once and never stored."""

    name: str
    secret: str
    digest: str
    scopes: frozenset[Scope]


def new_token(name: str, scopes: frozenset[Scope]) -> NewToken:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return NewToken(name, secret, token_digest(secret), scopes)


async def issue_token(store: SqlTokenStore, name: str, scopes: frozenset[Scope]) -> NewToken:
    """Create and store a token; its secret is in the result only."""
    if not name.strip() or len(name) > 64:
        raise ValueError("a token name is 1 to 64 characters")
    if not scopes:
        raise ValueError(f"give at least one scope: {[s.value for s in Scope]}")
    token = new_token(name.strip(), scopes)
    await store.add(token.name, token.digest, tuple(s.value for s in scopes), token.secret[:8])
    return token


async def create_token_at(url: str, name: str, scopes: frozenset[Scope]) -> NewToken:
    """``voicebot token create``: bring the database up to date, then issue the token."""
    engine = database.connect(url)
    try:
        await database.upgrade(engine)
        return await issue_token(SqlTokenStore(engine), name, scopes)
    finally:
        await engine.dispose()


async def tokens_at(url: str) -> list[TokenRecord]:
    engine = database.connect(url)
    try:
        await database.upgrade(engine)
        return await SqlTokenStore(engine).list()
    finally:
        await engine.dispose()


async def revoke_at(url: str, name: str) -> bool:
    engine = database.connect(url)
    try:
        await database.upgrade(engine)
        return await SqlTokenStore(engine).revoke(name)
    finally:
        await engine.dispose()


def store_lookup(store: SqlTokenStore, remembered: int = 1000) -> TokenLookup:
    """Resolve a digest through the token table (revoked tokens resolve to None).

    While the database is unreachable, a token that the table accepted before still works (the dialplan must
    go on announcing calls and looking up handoffs through an outage; nobody can revoke a token meanwhile);
    an unknown one gets a 503. The last ``remembered`` accepted tokens are kept, in this process only."""
    known: OrderedDict[str, Principal] = OrderedDict()

    async def lookup(digest: str) -> Principal | None:
        try:
            record = await store.active(digest)
        except (SQLAlchemyError, OSError) as error:
            if digest in known:
                return known[digest]
            log.warning("token check without the database", cause=type(error).__name__)
            raise HTTPException(503, "the token store is unavailable; try again") from None
        if record is None:
            known.pop(digest, None)
            return None
        principal = known[digest] = Principal(record.name, parse_scopes(record.scopes))
        known.move_to_end(digest)
        if len(known) > remembered:
            known.popitem(last=False)
        return principal

    return lookup


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(values: list[str] | tuple[str, ...]) -> frozenset[Scope]:
    """``["dialplan", "read"]`` → scopes; an unknown name raises ``ValueError`` naming the known ones."""
    try:
        return frozenset(Scope(v.strip()) for v in values if v.strip())
    except ValueError:
        raise ValueError(f"unknown scope in {list(values)}; known: {[s.value for s in Scope]}") from None


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    kind, _, value = header.partition(" ")
    return value.strip() if kind.lower() == "bearer" and value.strip() else None


def require(scope: Scope, lookup: TokenLookup,
            sessions: SessionLookup | None = None) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the request's principal if it may act in ``scope``; 401 without valid
    credentials, 403 with credentials that lack the scope. Credentials are an API token or, with
    ``sessions``, a person's session cookie; a cookie is taken for reading only (GET, HEAD), so no other site
    can make a logged-in browser change anything through the API."""

    async def dependency(request: Request) -> Principal:
        secret = bearer(request)
        principal = await lookup(token_digest(secret)) if secret else None
        cookie = request.cookies.get(SESSION_COOKIE)
        if principal is None and sessions is not None and cookie and request.method in ("GET", "HEAD"):
            principal = await sessions(cookie)
        if principal is None:
            raise HTTPException(401, "credentials required: an API token (Authorization: Bearer …) or a login",
                                headers={"WWW-Authenticate": "Bearer"})
        if not principal.may(scope):
            raise HTTPException(403, f"this {'login' if principal.role else 'token'} may not {scope.value}")
        request.state.principal = principal
        return principal

    return dependency
