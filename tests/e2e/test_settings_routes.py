"""End to end: the shared `voicebot serve` runs in its own working directory with `VOICEBOT_*` pointing at
the checkout's flows and models; everything it writes goes where its settings say, and a call whose dialled
number has no route runs the default flow with one warning."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import httpx
import pytest
from harness import ROOT, RunningService, auth, ended_record

from voicebot.caller.script import parse_script
from voicebot.caller.simulator import place_call

pytestmark = pytest.mark.slow


def _log_events(service: RunningService, event: str) -> list[str]:
    return [line for line in service.log_text().splitlines() if event in line]


def test_paths_come_from_the_settings_not_the_working_directory(service: RunningService) -> None:
    workdir = service.db_path.parent  # the service's working directory, and where the harness put its data
    (paths,) = _log_events(service, "[info     ] paths ")
    assert f"flows={ROOT / 'dialogs'}" in paths and f"models={ROOT / 'models'}" in paths
    assert f"demo_db={workdir / 'demo.db'}" in paths  # beside the store it was given, not the spool
    written = {p.name for p in workdir.iterdir()}
    assert written <= {"serve.log", "voicebot.db", "voicebot.db-wal", "voicebot.db-shm", "spool", "demo.db",
                       "recordings"}, written


async def test_a_number_without_a_route_runs_the_default_flow_and_says_so(service: RunningService) -> None:
    call_id = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=service.web_url, timeout=10, headers=auth(service)) as client:
        hidden = await client.post(f"/api/calls/{call_id}/announce", content="flow=example")
        assert hidden.status_code == 422 and "hidden" in hidden.text
        announced = await client.post(f"/api/calls/{call_id}/announce",
                                      content=urlencode({"caller_id": "+15551230009", "dnis": "5559999"}))
        assert announced.status_code == 204
        result = await place_call("127.0.0.1", service.audiosocket_port,
                                  parse_script({"steps": [{"wait_for_bot": {"timeout": 20}}, "hangup"]}),
                                  call_id=call_id, timeout=60, web_url=service.web_url,
                                  api_token=service.api_token)
        assert result.ok, result.errors
        record = await ended_record(client, call_id)
    assert record is not None and record["flow"] == "banking"
    warnings = [line for line in _log_events(service, "no route for the dialled number") if "dnis=5559999" in line]
    assert len(warnings) == 1 and "flow=banking" in warnings[0], warnings
    assert record["caller_id"] == "+15551230009"
