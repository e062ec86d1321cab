"""A ticket's contact through the web app (real app, SQLite file, the PII masker on as by default): opened with a
number from the list's form, shown on the ticket page and the list unmasked, changed on the ticket page (a text
that is no number gets a clear 422 and changes nothing), and given by ``GET /api/tickets`` as its OpenAPI schema
says."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from logins import log_in
from web_context import site_context

from voicebot.config import WebSettings
from voicebot.nlu.pii import PiiMasker, PiiRules
from voicebot.store.repo import SqlCallStore
from voicebot.store.tickets import SqlTicketStore
from voicebot.store.tokens import SqlTokenStore
from voicebot.store.users import SqlUserStore
from voicebot.types import now
from voicebot.web.app import create_app
from voicebot.web.auth import Role, Scope, issue_token
from voicebot.web.context import People
from voicebot.web.logins import add_user

PASSWORD = "correct horse battery"


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[TestClient, str, str]]:
    """The web app with tickets over a SQLite file: one call, a supervisor and an agent, a read token."""
    store = await SqlCallStore.open(f"sqlite+aiosqlite:///{tmp_path / 'voicebot.db'}", tmp_path / "spool")
    call = str(uuid.uuid4())
    await store.call_started(call, "+12025550143", "banking", now())
    await store.call_ended(call, "handoff", now(), None)
    await store.flush()
    users, tokens = SqlUserStore(store.engine), SqlTokenStore(store.engine)
    for name, role in {"sue": Role.SUPERVISOR, "ann": Role.AGENT}.items():
        await add_user(users, name, role, PASSWORD)
    token = (await issue_token(tokens, "tickets-script", frozenset({Scope.READ}))).secret
    tickets = SqlTicketStore(store.engine, PiiMasker(PiiRules()).mask)
    ctx = site_context(store.engine, tokens, people=People(users, tokens, WebSettings(), tickets=tickets))
    try:
        with TestClient(create_app(ctx), follow_redirects=False) as client:
            yield client, call, token
    finally:
        await store.close()


def test_the_contact_is_opened_shown_changed_validated_and_read_by_scripts(
        site: tuple[TestClient, str, str]) -> None:
    client, call, token = site
    csrf = log_in(client, "sue", PASSWORD)
    opened = client.post("/tickets", data={"csrf": csrf, "title": "Call back about the card", "call_id": call,
                                           "description": "Call +1 202 555 0143 after five.", "assignee": "ann",
                                           "contact": "+1 (202) 555-0143"})
    assert opened.status_code == 303, opened.text
    ticket_url = opened.headers["location"]
    page = client.get(ticket_url).text
    assert 'href="tel:+12025550143">+12025550143</a>' in page
    assert "Call [phone] after five." in page  # free text stays masked; the contact field is what carries the number
    assert "+12025550143" in client.get("/tickets").text

    refused = client.post("/tickets", data={"csrf": csrf, "title": "x", "contact": "call me later"})
    assert refused.status_code == 422 and "a contact number is 3 to 15 digits" in refused.text

    csrf = log_in(client, "ann", PASSWORD)  # the assignee may correct the number
    wrong = client.post(ticket_url, data={"csrf": csrf, "status": "in_progress", "contact": "PJSIP/1001"})
    assert wrong.status_code == 422 and "Not saved: a contact number is 3 to 15 digits" in wrong.text
    assert '<dd id="ticket-status">open</dd>' in client.get(ticket_url).text  # the refused form changed nothing
    changed = client.post(ticket_url, data={"csrf": csrf, "status": "open", "contact": "+44 20 7946 0018"})
    assert changed.status_code == 200 and "contact: +12025550143 → +442079460018" in changed.text

    client.cookies.clear()
    listed = client.get("/api/tickets", params={"call": call}, headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    [ticket] = listed.json()["tickets"]
    assert (ticket["contact"], ticket["description"]) == ("+442079460018", "Call [phone] after five.")
    schema = client.get("/openapi.json").json()
    answer = schema["paths"]["/api/tickets"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    listing = schema["components"]["schemas"][answer["$ref"].rsplit("/", 1)[1]]
    item = schema["components"]["schemas"][listing["properties"]["tickets"]["items"]["$ref"].rsplit("/", 1)[1]]
    assert item["properties"]["contact"]["type"] == "string" and "contact" in item["required"]
