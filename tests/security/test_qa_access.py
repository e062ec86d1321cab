"""The QA console keeps its pages and forms to supervisors, QA staff and admins: agents are refused, no
session means the login page (401 on the API), forms need their CSRF token, and bad input gets a clear 4xx
(never a 500); over a real SQLite file and the real web app."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from databases import recorded_call
from fastapi.testclient import TestClient
from logins import log_in
from web_context import site_context

from voicebot.config import CHECKOUT, QaSettings, WebSettings
from voicebot.qa.forms import load_forms
from voicebot.store.qa import SqlQaStore
from voicebot.store.repo import SqlCallStore
from voicebot.store.tokens import SqlTokenStore
from voicebot.store.users import SqlUserStore
from voicebot.types import Turn
from voicebot.web.app import create_app
from voicebot.web.auth import Role, Scope, issue_token
from voicebot.web.context import People, QaConsole
from voicebot.web.logins import add_user

PASSWORD = "correct horse battery"
PEOPLE = {"ann": Role.AGENT, "sue": Role.SUPERVISOR, "quinn": Role.QA, "ada": Role.ADMIN}


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[TestClient, str, str]]:
    """The web app with the QA console over a SQLite file: one banking call, four people, a read token."""
    store = await SqlCallStore.open(f"sqlite+aiosqlite:///{tmp_path / 'voicebot.db'}", tmp_path / "spool")
    call = await recorded_call(store, "completed", Turn(index=0, caller_text="my card was stolen", intent="lost_card",
                                                        bot_text="I am sorry to hear that.", state="lost_card"))
    users, tokens = SqlUserStore(store.engine), SqlTokenStore(store.engine)
    for name, role in PEOPLE.items():
        await add_user(users, name, role, PASSWORD)
    token = (await issue_token(tokens, "qa-script", frozenset({Scope.READ}))).secret
    qa = QaConsole(SqlQaStore(store.engine), load_forms(CHECKOUT / "dialogs" / "qa"), QaSettings())
    ctx = site_context(store.engine, tokens, people=People(users, tokens, WebSettings(), qa=qa))
    try:
        with TestClient(create_app(ctx), follow_redirects=False) as client:
            yield client, call, token
    finally:
        await store.close()


def pages(call: str) -> list[str]:
    return ["/calls", "/calls?words=stolen", f"/calls/{call}", "/qa/scores", "/qa/export", "/qa/export/banking.yaml"]


def forms(call: str, csrf: str) -> list[tuple[str, dict[str, str]]]:
    return [(f"/calls/{call}/turns/0/correction", {"csrf": csrf, "caller_text": "my card was stolen!",
                                                   "intent": "lost_card"}),
            (f"/calls/{call}/scores/service", {"csrf": csrf, "q_understood": "yes"})]


async def test_no_session_is_sent_to_log_in_and_the_api_wants_credentials(site) -> None:
    client, call, _ = site
    for path in pages(call):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=/"), path
    for path, fields in forms(call, "x"):
        assert client.post(path, data=fields).status_code in (303, 403)
    assert client.get("/api/qa/scores").status_code == 401


async def test_an_agent_is_refused_every_page_form_and_figure(site) -> None:
    client, call, _ = site
    csrf = log_in(client, "ann", PASSWORD)
    for path in pages(call):
        response = client.get(path)
        assert response.status_code == 403 and "stolen" not in response.text, path
    for path, fields in forms(call, csrf):
        assert client.post(path, data=fields).status_code == 403, path
    assert client.get("/api/qa/scores").status_code == 403
    log_in(client, "quinn", PASSWORD)
    assert "stolen" in client.get(f"/calls/{call}").text
    assert "Corrected by" not in client.get(f"/calls/{call}").text  # the agent's correction was not stored


async def test_readers_may_review_and_a_read_token_gets_the_figures(site) -> None:
    client, call, token = site
    for name in ("sue", "quinn", "ada"):
        csrf = log_in(client, name, PASSWORD)
        for path in pages(call)[:-1]:
            assert client.get(path).status_code == 200, (name, path)
    for path, fields in forms(call, csrf):
        assert client.post(path, data=fields).status_code == 303, path
    assert client.get("/qa/export/banking.yaml").text.count("my card was stolen!") == 1
    client.cookies.clear()
    scores = client.get("/api/qa/scores", headers={"Authorization": f"Bearer {token}"})
    assert scores.status_code == 200 and [s["flow"] for s in scores.json()["scores"]] == ["banking"]


async def test_forms_need_their_csrf_token_and_this_site(site) -> None:
    client, call, _ = site
    csrf = log_in(client, "quinn", PASSWORD)
    for path, fields in forms(call, csrf):
        assert client.post(path, data={**fields, "csrf": "forged"}).status_code == 403
        assert client.post(path, data=fields, headers={"Origin": "https://evil.example"}).status_code == 403
    assert "Corrected by" not in client.get(f"/calls/{call}").text


async def test_bad_input_gets_a_clear_4xx(site) -> None:
    client, call, _ = site
    csrf = log_in(client, "quinn", PASSWORD)
    for query in ("since=yesterday", "score_min=101", "contained=maybe", "page=x", f"flow={'f' * 65}",
                  f"words={'w' * 201}"):
        response = client.get(f"/calls?{query}")
        assert response.status_code == 422 and ("filter" in response.text or "page" in response.text), query
    for path in (f"/calls/{uuid.uuid4()}", "/calls/not-a-uuid", "/qa/export/nothing.yaml"):
        assert client.get(path).status_code == 404, path
    for query in ("period=year", "since=2026-13-01", "since=2026-12-01&until=2026-01-01"):
        assert client.get(f"/qa/scores?{query}").status_code == 422, query
        assert client.get(f"/api/qa/scores?{query}").status_code == 422, query
    bad_posts = [(f"/calls/{call}/turns/7/correction", {"caller_text": "x"}, 404),
                 (f"/calls/{call}/turns/0/correction", {"caller_text": "x" * 1001}, 422),
                 (f"/calls/{call}/turns/0/correction", {"caller_text": "ok", "intent": "<script>"}, 422),
                 (f"/calls/{call}/turns/0/correction", {"caller_text": "my card was stolen", "intent": "lost_card"},
                  422),  # nothing changed
                 (f"/calls/{call}/scores/nope", {}, 404),
                 (f"/calls/{call}/scores/service", {"q_tone": "9"}, 422)]
    for path, fields, status in bad_posts:
        response = client.post(path, data={"csrf": csrf, **fields})
        assert response.status_code == status, (path, fields, response.text[:300])
    scored = client.post(f"/calls/{call}/scores/service", data={"csrf": csrf, "q_understood": "na"})
    assert scored.status_code == 303  # every reviewer question N/A: the rules' answers still make a score
    assert "Scored 100 by quinn" in client.get(f"/calls/{call}").text
