"""Bounded inputs on the web API: big or many-field announcements, out-of-range paging, UUID spellings."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from voicebot.call.directory import MemoryCallDirectory
from voicebot.call.events import EventBus
from voicebot.store import database
from voicebot.store.queries import SqlCallQueries
from voicebot.web.app import ANNOUNCE_MAX_BYTES, ANNOUNCE_MAX_FIELDS, create_app
from voicebot.web.auth import store_lookup
from voicebot.web.context import WebContext

from fakes import FakeTokens, store_ok


@pytest.fixture
async def api(tmp_path: Path):
    engine = database.connect(f"sqlite+aiosqlite:///{tmp_path / 'voicebot.db'}")
    await database.upgrade(engine)
    directory = MemoryCallDirectory()
    ctx = WebContext(calls=SqlCallQueries(engine), directory=directory, bus=EventBus(),
                     flow_names=lambda: ["banking"], routable=lambda name: True, active_calls=lambda: 0,
                     principal_for=store_lookup(FakeTokens()), store_health=store_ok)
    with TestClient(create_app(ctx), headers=FakeTokens.HEADERS) as client:
        yield client, directory
    await engine.dispose()


async def test_oversized_announcements_are_refused_before_they_are_read(api) -> None:
    client, directory = api
    call_id = str(uuid.uuid4())
    huge = "caller_id=1&pad=" + "x" * 2_200_000
    assert client.post(f"/api/calls/{call_id}/announce", content=huge).status_code == 413

    def chunks():  # no Content-Length: the server must stop reading at the limit
        for _ in range(1000):
            yield b"x" * 4096

    assert client.post(f"/api/calls/{call_id}/announce", content=chunks()).status_code == 413
    assert (await directory.take(call_id)).caller_id == ""  # nothing was announced


async def test_fields_are_capped_in_number_and_size(api) -> None:
    client, directory = api
    call_id = str(uuid.uuid4())
    many = "&".join(f"f{i}=1" for i in range(ANNOUNCE_MAX_FIELDS + 1))
    assert client.post(f"/api/calls/{call_id}/announce", content=many).status_code == 422
    assert client.post(f"/api/calls/{call_id}/announce", content="tier=" + "g" * 513).status_code == 422
    assert client.post(f"/api/calls/{call_id}/announce", content="k" * 65 + "=1").status_code == 422
    assert client.post(f"/api/calls/{call_id}/announce?" + many).status_code == 422
    assert (await directory.take(call_id)).caller_id == ""  # nothing was announced
    fits = "&".join(f"f{i}=" + "v" * 512 for i in range(ANNOUNCE_MAX_FIELDS))
    assert len(fits) > ANNOUNCE_MAX_BYTES
    assert client.post(f"/api/calls/{call_id}/announce", content=fits).status_code == 413
    assert client.post(f"/api/calls/{call_id}/announce", content="caller_id=%2B1555&tier=gold").status_code == 204
    assert (await directory.take(call_id)).variables == {"tier": "gold"}


@pytest.mark.parametrize("query", ["offset=18446744073709551615", "offset=-1", "limit=0", "limit=501",
                                   "limit=18446744073709551615", "offset=abc", "outcome=" + "x" * 100])
async def test_paging_out_of_range_is_a_422_not_a_500(api, query: str) -> None:
    client, _ = api
    assert client.get(f"/api/calls?{query}").status_code == 422
    assert client.get("/api/calls?offset=1000000000&limit=500").status_code == 200


async def test_a_uuid_in_another_spelling_reaches_the_same_call(api) -> None:
    client, directory = api
    call_id = uuid.uuid4()
    for spelling in (str(call_id).upper(), call_id.hex, f"{{{call_id}}}", f"urn:uuid:{call_id}"):
        assert client.post(f"/api/calls/{spelling}/announce", content="caller_id=7").status_code == 204
        info = await directory.take(str(call_id))  # normalised: the call's AudioSocket UUID finds it
        assert info.caller_id == "7", spelling
    for bad in ("not-a-uuid", "x" * 5000, "1234"):
        assert client.post(f"/api/calls/{bad}/announce", content="caller_id=7").status_code == 422
        assert client.get(f"/api/calls/{bad}").status_code == 422
        assert client.get(f"/api/calls/{bad}/handoff").status_code == 422
