"""The web API requires credentials: API tokens, hashed at rest, scoped (dialplan / read / admin), over a real
SQLite file and the real web app."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from voicebot.call.directory import MemoryCallDirectory
from voicebot.call.events import EventBus
from voicebot.store import database
from voicebot.store.queries import SqlCallQueries
from voicebot.store.tokens import SqlTokenStore
from voicebot.web.app import create_app
from voicebot.web.auth import Scope, issue_token, store_lookup
from voicebot.web.context import WebContext

from fakes import store_ok

CALL = str(uuid.uuid4())
READ_PATHS = ["/api/calls", f"/api/calls/{CALL}", "/api/flows"]
DIALPLAN_PATHS = [("GET", f"/api/calls/{CALL}/handoff"), ("POST", f"/api/calls/{CALL}/announce")]


@pytest.fixture
async def api(tmp_path: Path):
    engine = database.connect(f"sqlite+aiosqlite:///{tmp_path / 'voicebot.db'}")
    await database.upgrade(engine)
    tokens = SqlTokenStore(engine)
    secrets = {name: (await issue_token(tokens, name, frozenset(scopes))).secret
               for name, scopes in {"asterisk": {Scope.DIALPLAN}, "qa-script": {Scope.READ},
                                    "ops": {Scope.ADMIN}}.items()}
    ctx = WebContext(calls=SqlCallQueries(engine), directory=MemoryCallDirectory(), bus=EventBus(),
                     flow_names=lambda: ["banking"], routable=lambda name: True, active_calls=lambda: 0,
                     principal_for=store_lookup(tokens), store_health=store_ok)
    with TestClient(create_app(ctx)) as client:
        yield client, secrets, tokens, tmp_path / "voicebot.db"
    await engine.dispose()


def _send(client: TestClient, method: str, path: str, secret: str | None = None, header: str | None = None):
    headers = {"Authorization": header or f"Bearer {secret}"} if (secret or header) else {}
    return client.request(method, path, headers=headers, content="caller_id=1" if method == "POST" else None)


async def test_nothing_with_call_content_answers_without_a_token(api) -> None:
    client, *_ = api
    for method, path in [("GET", p) for p in READ_PATHS] + DIALPLAN_PATHS:
        for header in (None, "Bearer", "Bearer vbt_not-a-token", "Basic YWRtaW46YWRtaW4=", "vbt_x"):
            response = _send(client, method, path, header=header)
            assert response.status_code == 401, (method, path, header)
            assert response.headers["www-authenticate"] == "Bearer"
    # health checks and metrics carry no call content
    assert client.get("/healthz").status_code == 200 and client.get("/metrics").status_code == 200


async def test_each_scope_opens_exactly_its_paths(api) -> None:
    client, secrets, *_ = api
    for path in READ_PATHS:
        assert _send(client, "GET", path, secrets["asterisk"]).status_code == 403
        assert _send(client, "GET", path, secrets["qa-script"]).status_code in (200, 404)
        assert _send(client, "GET", path, secrets["ops"]).status_code in (200, 404)
    for method, path in DIALPLAN_PATHS:
        assert _send(client, method, path, secrets["asterisk"]).status_code in (200, 204)
        assert _send(client, method, path, secrets["qa-script"]).status_code == 403
        assert _send(client, method, path, secrets["ops"]).status_code in (200, 204)


async def test_a_revoked_token_is_refused_at_once(api) -> None:
    client, secrets, tokens, _ = api
    assert _send(client, "GET", "/api/calls", secrets["qa-script"]).status_code == 200
    assert await tokens.revoke("qa-script")
    assert _send(client, "GET", "/api/calls", secrets["qa-script"]).status_code == 401


async def test_secrets_are_not_stored_in_clear(api) -> None:
    _, secrets, _, db = api
    raw = db.read_bytes() + b"".join(p.read_bytes() for p in db.parent.glob("voicebot.db-*"))
    rows = sqlite3.connect(db).execute("SELECT name, digest, hint FROM api_tokens").fetchall()
    assert len(rows) == 3
    for name, digest, hint in rows:
        assert secrets[name].encode() not in raw and digest != secrets[name] and len(hint) <= 8


def test_the_cli_creates_lists_and_revokes_tokens(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    def voicebot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "voicebot", "token", *args, "--url", url],
                              capture_output=True, text=True, timeout=120)

    created = voicebot("create", "asterisk", "--scope", "dialplan")
    assert created.returncode == 0 and created.stdout.startswith("vbt_") and len(created.stdout.split()) == 1
    assert voicebot("create", "asterisk", "--scope", "read").returncode == 2  # names are unique
    assert "unknown scope" in voicebot("create", "other", "--scope", "root").stderr
    listed = voicebot("list").stdout
    assert "asterisk\tdialplan\t" in listed and created.stdout.strip() not in listed and "active" in listed
    assert voicebot("revoke", "asterisk").returncode == 0
    assert "revoked" in voicebot("list").stdout and voicebot("revoke", "asterisk").returncode == 1
