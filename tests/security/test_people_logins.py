"""People's logins keep the pages and the API shut: argon2 hashes, server-side sessions (revocable, expiring,
hashed at rest), CSRF on every form, throttled logins, pages per role; over a real SQLite file, the real web
app and the real ``voicebot user`` command."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from databases import recorded_call
from fakes import stand_in_service
from fastapi.testclient import TestClient
from logins import csrf_of
from web_context import site_context

from voicebot.config import WebSettings
from voicebot.store import database
from voicebot.store.queries import SqlCallQueries
from voicebot.store.repo import SqlCallStore
from voicebot.store.tokens import SqlTokenStore
from voicebot.store.users import SqlUserStore
from voicebot.types import Turn, now
from voicebot.web.app import create_app
from voicebot.web.auth import SESSION_COOKIE, Role, Scope, issue_token
from voicebot.web.context import People
from voicebot.web.logins import LoginThrottle, add_user, hash_password, verify_password

PASSWORD = "correct horse battery"
PEOPLE = {"ann": Role.AGENT, "sue": Role.SUPERVISOR, "quinn": Role.QA, "ada": Role.ADMIN}
PAGES = ["/", "/calls", f"/calls/{uuid.uuid4()}"]


@asynccontextmanager
async def make_site(tmp_path: Path, base_url: str = "http://testserver",
                    **settings) -> AsyncIterator[tuple[TestClient, SqlUserStore, str, Path]]:
    """The web app (started) over a SQLite file with one call, the four people and an API token."""
    db = tmp_path / "voicebot.db"
    store = await SqlCallStore.open(f"sqlite+aiosqlite:///{db}", tmp_path / "spool")
    call = await recorded_call(store, "completed", Turn(index=0, caller_text="my card was stolen", intent="card_lost",
                                                        bot_text="I am sorry to hear that.", state="ask"))
    engine = store.engine
    users, tokens = SqlUserStore(engine), SqlTokenStore(engine)
    for name, role in PEOPLE.items():
        await add_user(users, name, role, PASSWORD)
    await issue_token(tokens, "qa-script", frozenset({Scope.READ}))
    ctx = site_context(engine, tokens, people=People(users, tokens, WebSettings(**settings)))
    try:
        with TestClient(create_app(ctx), base_url=base_url, follow_redirects=False) as client:
            yield client, users, call, db
    finally:
        await store.close()


@pytest.fixture
async def site(tmp_path: Path):
    async with make_site(tmp_path) as opened:
        yield opened


def log_in(client: TestClient, name: str, password: str = PASSWORD, **headers: str):
    form = client.get("/login")
    return client.post("/login", data={"username": name, "password": password, "csrf": csrf_of(form.text),
                                       "next": "/"}, headers=headers)


def test_passwords_are_argon2_hashes_and_checked() -> None:
    hashed = hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed and hash_password(PASSWORD) != hashed
    from voicebot.store.users import UserRecord

    person = UserRecord("ann", "agent", hashed, now(), None)
    assert verify_password(PASSWORD, person) and not verify_password(PASSWORD + "x", person)
    assert not verify_password(PASSWORD, None)  # an unknown name
    assert not verify_password(PASSWORD, UserRecord("ann", "agent", hashed, now(), now()))  # disabled
    with pytest.raises(ValueError, match="8 to 256"):
        hash_password("short")


async def test_pages_and_the_api_refuse_without_a_session(site) -> None:
    client, _, call, _ = site
    for path in [*PAGES, f"/calls/{call}"]:
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=/")
    for path in ["/api/calls", f"/api/calls/{call}", "/api/flows"]:
        assert client.get(path).status_code == 401
        client.cookies.set(SESSION_COOKIE, "forged-or-expired")
        assert client.get(path).status_code == 401
        client.cookies.clear()
    for path in ["/admin/users", "/admin/users/ann/disable", "/logout"]:
        assert client.post(path, data={"csrf": "x"}).status_code in (303, 403)
        assert "/login" in client.post(path, data={"csrf": "x"}).headers.get("location", "/login")
    page = client.get("/login")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


async def test_each_role_gets_its_home_page_and_only_its_pages(site) -> None:
    client, _, call, _ = site
    expected = {"ann": "Waiting for a call", "sue": "Latest calls", "quinn": "Latest calls",
                "ada": "Users and API tokens"}
    for name, heading in expected.items():
        client.cookies.clear()
        response = log_in(client, name)
        assert response.status_code == 303 and response.headers["location"] == "/"
        home = client.get("/")
        assert home.status_code == 200 and heading in home.text, name
        detail = client.get(f"/calls/{call}")
        api = client.get(f"/api/calls/{call}")  # the session opens the API for reading, like a read token
        if name == "ann":  # an agent reads only the call handed to her, on her desktop: not any call
            assert detail.status_code == 403 and "my card was stolen" not in detail.text
            assert api.status_code == 403 and "my card was stolen" not in api.text
        else:
            assert api.status_code == 200 and api.json()["turns"][0]["caller_text"] == "my card was stolen"
            assert detail.status_code == 200 and "my card was stolen" in detail.text
    client.cookies.clear()
    log_in(client, "quinn")
    refused = client.post("/admin/users", data={"csrf": csrf_of(client.get("/").text), "username": "eve",
                                                "role": "admin", "password": PASSWORD})
    assert refused.status_code == 403 and "eve" not in client.get("/calls").text


async def test_a_session_cookie_never_changes_anything_through_the_api(site) -> None:
    client, *_ = site
    log_in(client, "ada")
    assert client.get("/api/calls").status_code == 200
    # the dialplan's POST is for tokens only: a logged-in admin's browser cannot be made to announce a call
    assert client.post(f"/api/calls/{uuid.uuid4()}/announce", content="caller_id=1").status_code == 401


async def test_every_form_needs_its_csrf_token_and_this_origin(site) -> None:
    client, users, _, _ = site
    form = client.get("/login")
    no_token = client.post("/login", data={"username": "ada", "password": PASSWORD})
    assert no_token.status_code == 403 and SESSION_COOKIE not in no_token.cookies
    other_site = client.post("/login", data={"username": "ada", "password": PASSWORD, "csrf": csrf_of(form.text)},
                             headers={"Origin": "https://evil.example"})
    assert other_site.status_code == 403 and SESSION_COOKIE not in other_site.cookies
    assert log_in(client, "ada", Origin="http://testserver").status_code == 303
    good = csrf_of(client.get("/").text)
    new = {"username": "eve", "role": "qa", "password": PASSWORD}
    assert client.post("/admin/users", data=new).status_code == 403
    assert client.post("/admin/users", data={**new, "csrf": "0" * 64}).status_code == 403
    assert client.post("/admin/users", data={**new, "csrf": good},
                       headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post("/admin/users", data={**new, "csrf": good},
                       headers={"Referer": "https://evil.example/page"}).status_code == 403
    assert client.post("/admin/users/ann/disable", data={}).status_code == 403
    assert client.post("/logout", data={}).status_code == 403
    assert await users.get("eve") is None and (await users.get("ann")).disabled_at is None
    added = client.post("/admin/users", data={**new, "csrf": good}, headers={"Origin": "http://testserver"})
    assert added.status_code == 200 and "User eve added." in added.text and (await users.get("eve")).role == "qa"


async def test_admin_adds_and_disables_people_and_sees_the_tokens(site) -> None:
    client, users, _, _ = site
    log_in(client, "ada")
    page = client.get("/")
    assert "qa-script" in page.text and "read" in page.text and "vbt_" in page.text  # the hint, never a secret
    csrf = csrf_of(page.text)
    assert client.post("/admin/users", data={"csrf": csrf, "username": "ann", "role": "qa",
                                             "password": PASSWORD}).status_code == 422  # names are unique
    assert client.post("/admin/users", data={"csrf": csrf, "username": "x", "role": "root",
                                             "password": PASSWORD}).status_code == 422
    assert client.post("/admin/users/ada/disable", data={"csrf": csrf}).status_code == 422  # not yourself
    other = TestClient(client.app, follow_redirects=False)
    log_in(other, "ann")
    assert other.get("/").status_code == 200
    disabled = client.post("/admin/users/ann/disable", data={"csrf": csrf})
    assert disabled.status_code == 200 and "User ann disabled" in disabled.text
    assert other.get("/").status_code == 303  # her open session ended at once
    assert log_in(other, "ann").status_code == 401
    assert (await users.get("ann")).disabled_at is not None


async def test_logout_and_a_new_password_end_the_session(site) -> None:
    client, users, _, db = site
    log_in(client, "sue")
    secret = client.cookies[SESSION_COOKIE]
    raw = db.read_bytes() + b"".join(p.read_bytes() for p in db.parent.glob("voicebot.db-*"))
    assert secret.encode() not in raw and PASSWORD.encode() not in raw  # both hashed at rest
    assert client.post("/logout", data={"csrf": csrf_of(client.get("/").text)}).headers["location"] == "/login"
    client.cookies.set(SESSION_COOKIE, secret)  # a copy of the cookie kept by someone else
    assert client.get("/").status_code == 303 and client.get("/api/calls").status_code == 401
    log_in(client, "sue")
    assert client.get("/").status_code == 200
    await users.set_password("sue", hash_password("another good password"))
    assert client.get("/").status_code == 303
    assert log_in(client, "sue").status_code == 401
    assert log_in(client, "sue", "another good password").status_code == 303


async def test_sessions_expire_when_idle_and_after_the_absolute_limit(tmp_path: Path) -> None:
    async with make_site(tmp_path / "idle", session_idle_minutes=0.005) as (client, *_):  # 0.3 s
        log_in(client, "sue")
        assert client.get("/").status_code == 200
        await asyncio.sleep(0.5)
        assert client.get("/").status_code == 303
    # 5.4 s: the cookie's Max-Age is 5 s, and the client's cookie jar counts whole seconds (it may drop it after 4)
    async with make_site(tmp_path / "absolute", session_max_hours=0.0015) as (client, *_):
        response = log_in(client, "sue")
        assert int(re.search(r"Max-Age=(\d+)", response.headers["set-cookie"]).group(1)) == 5
        assert client.get("/").status_code == 200
        await asyncio.sleep(6)
        assert client.get("/").status_code == 303


@pytest.mark.parametrize("secure", [False, True])
async def test_the_session_cookie_is_httponly_lax_and_secure_when_set(tmp_path: Path, secure: bool) -> None:
    async with make_site(tmp_path, "https://testserver" if secure else "http://testserver",
                         cookie_secure=secure) as (client, *_):
        cookie = log_in(client, "sue").headers["set-cookie"]
    # a Secure cookie is not sent back over plain http: the login form's CSRF secret is one too
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert ("Secure" in cookie) is secure


async def test_failed_logins_lock_the_username_without_telling_whether_it_exists(site) -> None:
    client, *_ = site
    for name in ("sue", "nobody-here"):
        answers = [log_in(client, name, "wrong password") for _ in range(5)]
        assert [a.status_code for a in answers] == [401] * 5
        assert all("Wrong username or password." in a.text for a in answers)
        locked = log_in(client, name)  # even the right password, while locked
        assert locked.status_code == 429 and "Too many failed logins. Try again in 15 minutes." in locked.text
        assert SESSION_COOKIE not in locked.cookies
    assert log_in(client, "quinn").status_code == 303  # other people are not locked out


async def test_failed_logins_lock_a_client_address(tmp_path: Path) -> None:
    async with make_site(tmp_path, login_max_failures_per_address=6) as (client, *_):
        for index in range(6):
            assert log_in(client, f"guess{index}", "wrong password").status_code == 401
        assert log_in(client, "ada").status_code == 429


def test_the_throttle_unlocks_after_the_lock_time() -> None:
    clock = [0.0]
    throttle = LoginThrottle(lock_s=900, clock=lambda: clock[0])
    keys = [("user:sue", 5)]
    for _ in range(5):
        assert throttle.locked_for(keys) == 0
        throttle.failed(["user:sue"])
        clock[0] += 10
    assert throttle.locked_for(keys) == pytest.approx(890)  # 900 s after the last failure (at 40 s)
    clock[0] += 891
    assert throttle.locked_for(keys) == 0


def test_login_redirects_only_within_the_site() -> None:
    from voicebot.web.people import local

    assert local("/calls/1") == "/calls/1"
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example", "calls", ""):
        assert local(target) == "/"


def test_the_user_command_adds_lists_changes_and_disables(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    def voicebot(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "voicebot", "user", *args, "--url", url], input=stdin,
                              capture_output=True, text=True, timeout=120)

    assert voicebot("add", "root", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n").returncode == 0
    assert voicebot("add", "root", "--role", "qa", "--password-stdin", stdin=PASSWORD + "\n").returncode == 2
    assert "unknown role" in voicebot("add", "x", "--role", "god", "--password-stdin", stdin=PASSWORD).stderr
    assert "8 to 256" in voicebot("add", "y", "--role", "qa", "--password-stdin", stdin="short\n").stderr
    listed = voicebot("list")
    assert listed.stdout.startswith("root\tadmin\tcreated ") and "active" in listed.stdout
    assert listed.stdout.count("\n") == 1 and PASSWORD not in listed.stdout + listed.stderr
    assert voicebot("passwd", "root", "--password-stdin", stdin="a new long password\n").returncode == 0
    assert voicebot("passwd", "nobody", "--password-stdin", stdin="a new long password\n").returncode == 1
    assert voicebot("disable", "root").returncode == 0 and voicebot("disable", "root").returncode == 1
    assert "disabled" in voicebot("list").stdout
    stored = sqlite3.connect(tmp_path / "cli.db").execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and "a new long password" not in stored


async def test_an_unknown_call_is_a_page_that_says_so(site) -> None:
    client, *_ = site
    log_in(client, "quinn")
    for call_id in (str(uuid.uuid4()), "not-a-uuid"):
        missing = client.get(f"/calls/{call_id}")
        assert missing.status_code == 404 and f"There is no call {call_id}." in missing.text


async def test_the_service_serves_the_pages_for_people(tmp_path: Path) -> None:
    from voicebot.app import web_context
    from voicebot.config import Settings

    engine = database.connect(f"sqlite+aiosqlite:///{tmp_path / 'voicebot.db'}")
    await database.upgrade(engine)
    users, tokens = SqlUserStore(engine), SqlTokenStore(engine)
    await add_user(users, "sue", Role.SUPERVISOR, PASSWORD)
    settings = Settings(web={"demo_backend": False})
    service = stand_in_service(settings, ["banking"], queries=SqlCallQueries(engine), tokens=tokens,
                               people=People(users, tokens, settings.web))
    with TestClient(create_app(web_context(service)), follow_redirects=False) as client:
        assert client.get("/").headers["location"] == "/login?next=/"
        assert log_in(client, "sue").status_code == 303
        assert "Latest calls" in client.get("/").text and client.get("/api/calls").json() == []
        assert client.get("/static/style.css").status_code == 200
    await engine.dispose()
