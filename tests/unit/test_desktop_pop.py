"""What the agent desktop's pop reads besides the handoff packet: the customer profile from the flow's back office
(the demo back office through ASGI, no sockets) and the caller's previous calls from a real SQLite store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from voicebot.call.events import EventBus
from voicebot.config import DesktopSettings
from voicebot.demo.backend import create_demo_app
from voicebot.store.desktop import SqlDeskStore
from voicebot.store.queries import SqlCallQueries
from voicebot.store.repo import SqlCallStore
from voicebot.types import Turn
from voicebot.web.desktop import CustomerProfiles, DesktopHub

OWN = "http://voicebot.test"


def _service(tmp_path: Path, key: str) -> httpx.AsyncClient:
    app = FastAPI()
    app.mount("/demo", create_demo_app(tmp_path / "demo.db", desk_key=key))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app))


async def test_the_profile_comes_from_the_flows_back_office_with_the_desk_key(tmp_path: Path) -> None:
    backends = {"banking": f"{OWN}/demo", "example": None}
    profiles = CustomerProfiles(backends.get, OWN, "s3cret", _service(tmp_path, "s3cret"))
    maria = await profiles.lookup("banking", "+15550101001")
    assert maria is not None and maria["name"] == "Maria Garcia"
    assert await profiles.lookup("banking", "+15559990000") is None  # not a customer
    assert await profiles.lookup("banking", "") is None  # no caller id
    assert await profiles.lookup("example", "+15550101001") is None  # a flow without a back office
    await profiles.aclose()


async def test_a_back_office_elsewhere_never_gets_the_key_and_a_refusal_is_no_profile(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def elsewhere(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500)

    profiles = CustomerProfiles(lambda flow: "http://crm.example/api", OWN, "s3cret",
                                httpx.AsyncClient(transport=httpx.MockTransport(elsewhere)))
    assert await profiles.lookup("banking", "+1 555 010 1001") is None
    assert str(seen[0].url) == "http://crm.example/api/customers/by-phone/%2B1%20555%20010%201001"
    assert "x-desk-key" not in seen[0].headers
    wrong = CustomerProfiles(lambda flow: f"{OWN}/demo", OWN, "not-the-key", _service(tmp_path, "s3cret"))
    assert await wrong.lookup("banking", "+15550101001") is None  # 403 from the back office


async def test_previous_calls_newest_first_with_outcome_and_intent(tmp_path: Path) -> None:
    store = await SqlCallStore.open(f"sqlite+aiosqlite:///{tmp_path / 'voicebot.db'}", tmp_path / "spool")
    caller, now = "+15550101001", datetime.now(UTC)
    ids = [str(uuid.uuid4()) for _ in range(4)]
    for days, (call_id, intent) in enumerate(zip(ids, ("card_lost", None, "check_balance", "card_lost"), strict=True)):
        started = (now - timedelta(days=days)).timestamp()
        await store.call_started(call_id, caller, "banking", started)
        if intent is not None:
            await store.turn_completed(call_id, Turn(index=0, caller_text="hm"))  # nothing understood first
            await store.turn_completed(call_id, Turn(index=1, caller_text="...", intent=intent))
        await store.call_ended(call_id, "handoff" if days == 2 else "completed", started + 30, None)
    await store.call_started(str(uuid.uuid4()), "+15550000000", "banking", now.timestamp())  # someone else
    await store.flush()
    desk = SqlDeskStore(store.engine)
    previous = await desk.previous_calls(caller, but=ids[0], limit=2)
    assert [(p.id, p.outcome, p.intent) for p in previous] == [(ids[1], "completed", ""),
                                                                (ids[2], "handoff", "check_balance")]
    assert await desk.previous_calls("", but=ids[0]) == []
    assert await desk.flow_of(ids[3]) == "banking" and await desk.flow_of("nope") == ""
    await store.close()


async def test_a_calls_caller_id_for_a_ticket_comes_from_its_record_when_no_packet_was_heard(tmp_path: Path) -> None:
    store = await SqlCallStore.open(f"sqlite+aiosqlite:///{tmp_path / 'voicebot.db'}", tmp_path / "spool")
    call_id = str(uuid.uuid4())
    await store.call_started(call_id, "+15550101001", "banking", datetime.now(UTC).timestamp())
    await store.flush()
    hub = DesktopHub(SqlCallQueries(store.engine), SqlDeskStore(store.engine), EventBus(), None, DesktopSettings())
    assert await hub.caller_id(call_id) == "+15550101001"
    assert await hub.caller_id(str(uuid.uuid4())) == ""  # no such call: a ticket without a number
    await store.close()
