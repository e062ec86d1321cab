"""The API token check through a database outage (web/auth.py ``store_lookup``): tokens the table accepted keep
working while it is unreachable, unknown ones get a 503 (never a 500), and a token revoked before the outage
stays refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import HTTPException
from sqlalchemy.exc import OperationalError

from voicebot.store.tokens import TokenRecord
from voicebot.web.auth import Scope, store_lookup


class FlakyTokens:
    """A token table that can be made unreachable."""

    def __init__(self) -> None:
        self.rows = {"d-dialplan": TokenRecord("asterisk", ("dialplan",), "vbt_ab", datetime.now(UTC), None)}
        self.down = False

    async def active(self, digest: str) -> TokenRecord | None:
        if self.down:
            raise OperationalError("SELECT", {}, ConnectionRefusedError("connection refused"))
        return self.rows.get(digest)


async def test_a_known_token_works_through_an_outage_and_an_unknown_one_waits() -> None:
    tokens = FlakyTokens()
    lookup = store_lookup(tokens)  # type: ignore[arg-type]
    accepted = await lookup("d-dialplan")
    assert accepted is not None and accepted.scopes == frozenset({Scope.DIALPLAN})
    tokens.down = True
    assert await lookup("d-dialplan") == accepted
    with pytest.raises(HTTPException) as refused:
        await lookup("d-stranger")
    assert refused.value.status_code == 503


async def test_a_token_revoked_before_the_outage_stays_refused() -> None:
    tokens = FlakyTokens()
    lookup = store_lookup(tokens)  # type: ignore[arg-type]
    assert await lookup("d-dialplan") is not None
    del tokens.rows["d-dialplan"]  # revoked
    assert await lookup("d-dialplan") is None
    tokens.down = True
    with pytest.raises(HTTPException):
        await lookup("d-dialplan")


async def test_only_the_last_accepted_tokens_are_remembered() -> None:
    tokens = FlakyTokens()
    for n in range(3):
        tokens.rows[f"d-{n}"] = TokenRecord(f"t{n}", ("read",), "vbt_x", datetime.now(UTC), None)
    lookup = store_lookup(tokens, remembered=2)  # type: ignore[arg-type]
    for n in range(3):
        await lookup(f"d-{n}")
    tokens.down = True
    assert await lookup("d-2") is not None and await lookup("d-1") is not None
    with pytest.raises(HTTPException):
        await lookup("d-0")
