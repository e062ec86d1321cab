"""Unmasked originals stay shut: sealed at rest, readable only by the roles allowed, and every read audited
(a real SQLite file through the migrations, the real web app, people's sessions and API tokens); the vault on
PostgreSQL too."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from databases import recorded_call
from fakes import store_ok
from services import require_service
from voicebot.call.directory import MemoryCallDirectory
from voicebot.call.events import EventBus
from voicebot.config import PiiSettings, WebSettings
from voicebot.store.audit import Sealer, SqlPiiVault, new_key, sealer_for
from voicebot.store.models import PiiOriginalRow
from voicebot.store.queries import SqlCallQueries
from voicebot.store.repo import SqlCallStore
from voicebot.store.tokens import SqlTokenStore
from voicebot.store.users import SqlUserStore
from voicebot.types import Turn
from voicebot.web.app import create_app
from voicebot.web.auth import Role, Scope, issue_token, store_lookup
from voicebot.web.context import People, WebContext
from voicebot.web.logins import add_user
from voicebot.web.pii import PiiAccess

PASSWORD = "correct horse battery"
PEOPLE = {"sue": Role.SUPERVISOR, "quinn": Role.QA, "ada": Role.ADMIN}
CLEAR = "my card is 4111 1111 1111 1111"
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@asynccontextmanager
async def make_site(tmp_path: Path, qa_reads: bool = False, keep: bool = True,
                    ) -> AsyncIterator[tuple[TestClient, str, Path, dict[str, str]]]:
    """The web app over a SQLite file with one masked call and its sealed original, people and tokens."""
    db = tmp_path / "voicebot.db"
    store = await SqlCallStore.open(f"sqlite+aiosqlite:///{db}", tmp_path / "spool")
    call = await recorded_call(store, "completed",
                               Turn(index=1, caller_text="my card is [card ****1111]", bot_text="Thanks."))
    engine = store.engine
    sealer = sealer_for(PiiSettings(keep_unmasked=True, key=new_key())) if keep else None
    vault = SqlPiiVault(engine, sealer)
    if sealer is not None:
        await vault.keep(call, 1, sealer.seal({"caller_text": CLEAR, "bot_text": "Thanks.", "decision": "",
                                               "entities": {}}))
        await vault.close()  # the writer stored it
    users, tokens = SqlUserStore(engine), SqlTokenStore(engine)
    for name, role in PEOPLE.items():
        await add_user(users, name, role, PASSWORD)
    secrets = {"read": (await issue_token(tokens, "qa-script", frozenset({Scope.READ}))).secret,
               "admin": (await issue_token(tokens, "ops", frozenset({Scope.ADMIN}))).secret}
    ctx = WebContext(calls=SqlCallQueries(engine), directory=MemoryCallDirectory(), bus=EventBus(),
                     flow_names=lambda: ["banking"], routable=lambda name: True, active_calls=lambda: 0,
                     principal_for=store_lookup(tokens), store_health=store_ok,
                     people=People(users, tokens, WebSettings()), pii=PiiAccess(vault, qa_reads))
    try:
        with TestClient(create_app(ctx), follow_redirects=False) as client:
            yield client, call, db, secrets
    finally:
        await store.close()


def log_in(client: TestClient, name: str) -> None:
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]*)"', form.text).group(1)
    answer = client.post("/login", data={"username": name, "password": PASSWORD, "csrf": csrf, "next": "/"})
    assert answer.status_code == 303, answer.text


def audit_rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT actor, role, action, call_id FROM pii_audit ORDER BY at").fetchall()


def shows_card(text: str) -> bool:
    """The card number's first digits stand in ``text`` as a number of their own, not inside a random id, a
    float or sealed bytes ("…-12524111736a" is a call id)."""
    return bool(re.search(r"(?<![\w.+/=:-])4111", text))


async def test_the_original_is_sealed_at_rest(tmp_path: Path) -> None:
    async with make_site(tmp_path) as (_, _call, db, _secrets):
        with sqlite3.connect(db) as conn:
            dump = "\n".join(conn.iterdump())
    assert "pii_originals" in dump and not shows_card(dump)


@pytest.mark.parametrize("who", ["quinn", "sue"])
async def test_qa_and_supervisors_without_the_permission_cannot_read_originals(tmp_path: Path, who: str) -> None:
    async with make_site(tmp_path) as (client, call, db, _):
        log_in(client, who)
        assert client.get(f"/api/calls/{call}").status_code == 200  # the masked record, yes
        assert not shows_card(client.get(f"/api/calls/{call}").text)
        refused = client.get(f"/api/calls/{call}/unmasked")
        assert refused.status_code == 403 and not shows_card(refused.text)
        assert client.get("/api/pii/audit").status_code == 403
        assert audit_rows(db) == []  # nothing was read


async def test_a_read_token_cannot_read_originals_and_no_credentials_get_401(tmp_path: Path) -> None:
    async with make_site(tmp_path) as (client, call, db, secrets):
        headers = {"Authorization": f"Bearer {secrets['read']}"}
        assert client.get(f"/api/calls/{call}/unmasked", headers=headers).status_code == 403
        assert client.get(f"/api/calls/{call}/unmasked").status_code == 401
        assert client.get("/api/pii/audit").status_code == 401
        assert audit_rows(db) == []


async def test_an_admin_reading_an_original_leaves_an_audit_row(tmp_path: Path) -> None:
    async with make_site(tmp_path) as (client, call, db, secrets):
        log_in(client, "ada")
        answer = client.get(f"/api/calls/{call}/unmasked")
        assert answer.status_code == 200
        assert answer.json()["turns"][0]["caller_text"] == CLEAR
        exported = client.get(f"/api/calls/{call}/unmasked", params={"download": "true"})
        assert "attachment" in exported.headers["content-disposition"]
        token = {"Authorization": f"Bearer {secrets['admin']}"}
        assert client.get(f"/api/calls/{call}/unmasked", headers=token).status_code == 200
        assert audit_rows(db) == [("ada", "admin", "view", call), ("ada", "admin", "export", call),
                                  ("ops", "token", "view", call)]
        log = client.get("/api/pii/audit", params={"call_id": call}).json()["entries"]
        assert [(e["actor"], e["action"]) for e in log] == [("ops", "view"), ("ada", "export"), ("ada", "view")]
        assert log[0]["detail"] == "1 turns: 1"
        assert client.get("/api/pii/audit", params={"limit": 0}).status_code == 422
        assert client.get("/api/calls/not-a-uuid/unmasked").status_code == 422


async def test_qa_reads_originals_only_when_configured_and_is_audited(tmp_path: Path) -> None:
    async with make_site(tmp_path, qa_reads=True) as (client, call, db, _):
        log_in(client, "quinn")
        assert client.get(f"/api/calls/{call}/unmasked").json()["turns"][0]["caller_text"] == CLEAR
        assert audit_rows(db) == [("quinn", "qa", "view", call)]
        assert client.get("/api/pii/audit").status_code == 403  # the log is the admins'


async def test_without_kept_originals_there_is_nothing_to_read(tmp_path: Path) -> None:
    async with make_site(tmp_path, keep=False) as (client, call, db, _):
        log_in(client, "ada")
        assert client.get(f"/api/calls/{call}/unmasked").status_code == 404
        assert audit_rows(db) == []


async def test_a_database_that_refuses_originals_loses_them_with_an_error_and_keep_never_waits() -> None:
    from structlog.testing import capture_logs

    engine = create_async_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")  # nothing listens
    vault = SqlPiiVault(engine, Sealer(new_key()))
    try:
        with capture_logs() as logs:
            await asyncio.wait_for(vault.keep(str(uuid.uuid4()), 1, "token"), 0.05)  # queued, not written
            await asyncio.wait_for(vault.close(), 30)
    finally:
        await engine.dispose()
    assert [line["event"] for line in logs] == ["unmasked original not stored"]


def test_keep_unmasked_needs_a_valid_key() -> None:
    assert sealer_for(PiiSettings()) is None
    with pytest.raises(ValueError, match="pii.key"):
        sealer_for(PiiSettings(keep_unmasked=True))
    with pytest.raises(ValueError, match="not a Fernet key"):
        sealer_for(PiiSettings(keep_unmasked=True, key="not-a-key"))


@pytest.mark.postgres
async def test_the_vault_on_postgresql(tmp_path: Path) -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    schema = f"voicebot_test_{uuid.uuid4().hex[:10]}"
    store = await SqlCallStore.open(PG_URL, tmp_path / "spool", schema=schema)
    try:
        key = new_key()
        vault = SqlPiiVault(store.engine, Sealer(key))
        call = str(uuid.uuid4())
        await vault.keep(call, 2, Sealer(key).seal({"caller_text": CLEAR, "bot_text": "", "decision": "",
                                                    "entities": {"dtmf": "4111111111111111"}}))
        await vault.close()
        [original] = await vault.read(call, actor="ada", role="admin", action="export")
        assert original.caller_text == CLEAR and original.entities == {"dtmf": "4111111111111111"}
        [entry] = await vault.audit(call_id=call)
        assert (entry.actor, entry.role, entry.action, entry.detail) == ("ada", "admin", "export", "1 turns: 2")
        async with store.engine.connect() as conn:
            stored = (await conn.execute(select(PiiOriginalRow.sealed))).scalars().all()
        assert len(stored) == 1 and not shows_card(stored[0])
    finally:
        await store.close()
        engine = create_async_engine(PG_URL)
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


def test_voicebot_pii_key_prints_a_key_the_sealer_takes() -> None:
    from typer.testing import CliRunner

    from voicebot.cli import app

    result = CliRunner().invoke(app, ["pii", "key"])
    key = result.output.strip()
    assert result.exit_code == 0 and Sealer(key).open(Sealer(key).seal({"a": 1})) == {"a": 1}
