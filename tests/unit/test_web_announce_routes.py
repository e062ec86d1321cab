"""The dialplan's announcement through the real web app: hidden flows cannot be asked for by name, and the
demo back office opens the database its own setting names."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

from fastapi.testclient import TestClient

from voicebot.app import web_context
from voicebot.call.directory import FlowRouter
from voicebot.config import Settings
from voicebot.web.app import create_app

from fakes import FakeTokens, stand_in_service

FLOWS = ["banking", "example", "retail"]


def _client(tmp_path: Path, router: FlowRouter) -> tuple[TestClient, SimpleNamespace]:
    settings = Settings(web={"demo_db": tmp_path / "backoffice.db"})
    service = stand_in_service(settings, FLOWS, router=router)
    return TestClient(create_app(web_context(service)), headers=FakeTokens.HEADERS), service


async def test_hidden_flows_cannot_be_announced_and_routed_ones_can(tmp_path: Path) -> None:
    client, service = _client(tmp_path, FlowRouter("banking", {"5552000": "retail"}, frozenset({"example"})))
    call_id = str(uuid.uuid4())
    hidden = client.post(f"/api/calls/{call_id}/announce", content="flow=example&dnis=5552000")
    assert hidden.status_code == 422 and "hidden" in hidden.text and "example" not in hidden.text.split(";")[1]
    assert client.post(f"/api/calls/{call_id}/announce", content="flow=nope").status_code == 422
    assert client.post(f"/api/calls/{call_id}/announce", content="flow=retail&dnis=1000&tier=gold").status_code == 204
    info = await service.directory.take(call_id)
    assert (info.flow, info.dnis, info.variables) == ("retail", "1000", {"tier": "gold"})
    assert (tmp_path / "backoffice.db").exists()  # the demo back office's own setting, nowhere else


def test_a_configured_example_flow_can_be_announced(tmp_path: Path) -> None:
    client, _ = _client(tmp_path, FlowRouter("banking", {"100": "example"}, frozenset({"example"})))
    assert client.post(f"/api/calls/{uuid.uuid4()}/announce", content="flow=example").status_code == 204
