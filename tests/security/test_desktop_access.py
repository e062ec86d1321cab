"""The agent desktop keeps a call to the agent it was connected to: another agent's event stream gets nothing of
it, nor may they act on it; supervisors see it; no session gets a 401 or the login page; forms need the session's
CSRF token. Over the real web app, the real AMI client and the AMI peer (voicebot/caller/desk_bench.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from logins import csrf_of

from voicebot.caller.desk_bench import PASSWORD, DeskSite, Person, desk_site, packet
from voicebot.web.auth import Role

ANN, BOB = "PJSIP/1001", "PJSIP/1002"


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeskSite]:
    people = {"ann": Person(Role.AGENT, ANN, (("banking", 0),)), "bob": Person(Role.AGENT, BOB, (("banking", 0),)),
              "sue": Person(Role.SUPERVISOR), "quinn": Person(Role.QA)}
    with desk_site(tmp_path_factory.mktemp("desk"), people) as site:
        yield site


def logged_in(desk: DeskSite, name: str) -> tuple[httpx.Client, str]:
    """A client with ``name``'s session, and the session's CSRF token."""
    client = httpx.Client(base_url=desk.url, timeout=httpx.Timeout(5.0, read=1.5))
    form = client.get("/login")
    answer = client.post("/login", data={"csrf": csrf_of(form.text), "username": name, "password": PASSWORD})
    assert answer.status_code == 303
    return client, csrf_of(client.get("/").text)


def popped(client: httpx.Client, trigger) -> list[dict]:  # noqa: ANN001
    """The messages an open event stream gets after ``trigger()``, until it is quiet for the read timeout."""
    with client.stream("GET", "/desktop/events") as stream:
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines).startswith("retry:")  # subscribed
        trigger()
        return messages(lines)


def messages(lines: Iterator[str]) -> list[dict]:
    got: list[dict] = []
    try:
        for line in lines:
            if line.startswith("data: "):
                got.append(json.loads(line[6:]))
    except httpx.ReadTimeout:  # quiet
        pass
    return got


def test_without_a_session_nothing_answers(desk: DeskSite) -> None:
    client = httpx.Client(base_url=desk.url, timeout=5.0)
    assert client.get("/desktop/events").status_code == 401
    for path, form in (("/desktop/presence", {"state": "available"}),
                       ("/desktop/actions", {"call_id": str(uuid.uuid4()), "kind": "note", "text": "x"})):
        assert client.post(path, data=form).status_code == 401
    home = client.get("/")
    assert home.status_code == 303 and home.headers["location"].startswith("/login")


def test_only_the_connected_agent_and_supervisors_get_the_pop(desk: DeskSite) -> None:
    ann, ann_csrf = logged_in(desk, "ann")
    bob, bob_csrf = logged_in(desk, "bob")
    sue, _ = logged_in(desk, "sue")
    for client, csrf in ((ann, ann_csrf), (bob, bob_csrf)):
        assert client.post("/desktop/presence", data={"csrf": csrf, "state": "available"}).status_code == 303
    call_id = str(uuid.uuid4())
    desk.hand_off(packet(call_id, "+15550190"))

    with bob.stream("GET", "/desktop/events") as bobs:
        bob_lines = bobs.iter_lines()
        assert bobs.status_code == 200 and next(bob_lines).startswith("retry:")
        to_ann = popped(ann, lambda: desk.connect(ANN, call_id))
        assert messages(bob_lines) == []  # bob's stream was open while ann's call popped: nothing came
    pops = [m for m in to_ann if m["type"] == "pop"]
    assert len(pops) == 1 and pops[0]["call_id"] == call_id and pops[0]["agent"] == "ann"
    assert pops[0]["slots"] == {"account_number": "****4321", "card_kind": "debit"}
    assert "+15550190" not in bob.get("/").text and "+15550190" in ann.get("/").text

    refused = bob.post("/desktop/actions", data={"csrf": bob_csrf, "call_id": call_id, "kind": "note",
                                                 "text": "peeking"})
    assert refused.status_code == 404
    assert ann.post("/desktop/actions", data={"csrf": "forged", "call_id": call_id, "kind": "note",
                                              "text": "x"}).status_code == 403
    assert ann.post("/desktop/actions", data={"csrf": ann_csrf, "call_id": call_id, "kind": "disposition",
                                              "disposition": "not a configured one"}).status_code == 422
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    for incomplete in ({"kind": "note", "text": " "}, {"kind": "ticket"}, {"kind": "callback", "number": "+1555"},
                       {"kind": "erase", "text": "x"},
                       {"kind": "callback", "number": "+1555", "when": "2020-01-01T10:00"},  # past
                       {"kind": "callback", "number": "+1555", "when": "2099-01-01T10:00"},  # too far
                       {"kind": "callback", "number": "+1555", "when": "tomorrow at ten"},
                       {"kind": "callback", "number": "1;DROP TABLE", "when": tomorrow},
                       {"kind": "callback", "number": "Local/1@x", "when": tomorrow}):
        answer = ann.post("/desktop/actions", data={"csrf": ann_csrf, "call_id": call_id, **incomplete})
        assert answer.status_code == 422, incomplete
    saved = ann.post("/desktop/actions", data={"csrf": ann_csrf, "call_id": call_id, "kind": "disposition",
                                               "disposition": "resolved"})
    assert saved.status_code == 303
    assert [(a.kind, a.user_name, a.data["disposition"]) for a in desk.run(desk.desks.actions(call_id))] == \
        [("disposition", "ann", "resolved")]

    desk.complete(ANN, call_id)
    second = str(uuid.uuid4())
    desk.hand_off(packet(second, "+15550191"))
    watched = popped(sue, lambda: desk.connect(BOB, second))  # a supervisor sees every pop
    assert any(m["type"] == "pop" and m["call_id"] == second and m["agent"] == "bob" for m in watched)


def test_qa_has_no_desktop_and_forms_need_their_csrf_token(desk: DeskSite) -> None:
    quinn, _ = logged_in(desk, "quinn")
    assert quinn.get("/desktop/events").status_code == 403
    ann, _ = logged_in(desk, "ann")
    assert ann.post("/desktop/presence", data={"state": "offline"}).status_code == 403
    other_site = ann.post("/desktop/presence", data={"csrf": "x", "state": "offline"},
                          headers={"Origin": "https://evil.example"})
    assert other_site.status_code == 403
