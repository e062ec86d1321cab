"""Two real `voicebot serve` workers on one PostgreSQL database with the Redis bus, behind no balancer that keeps
a call on one worker (docs/scaling.md): each call is announced to one worker's web API and connects over AudioSocket
to the other, and runs the announced flow with the announced caller id; a worker stopped while its call is in
progress waits for that call's handoff lookup, and hears it answered by the other worker's web API."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from scale_support import Witness, api_token, json_log, two_workers

from voicebot.caller.launcher import stop
from voicebot.caller.script import parse_script
from voicebot.caller.simulator import place_call
from voicebot.events import CallStarted

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

GREETED = parse_script({"steps": [{"wait_for_bot": {"timeout": 60}}, "hangup"]})
STAYS_ON = parse_script({"steps": [{"wait_for_bot": {"timeout": 60}}, {"pause": 40}]})  # until the worker stops


async def test_announced_on_one_worker_connected_to_the_other(scale_database: str, tmp_path: Path) -> None:
    url = scale_database
    token = await api_token(url, "scale-directory")
    channel = f"voicebot-directory-test:{uuid.uuid4().hex}"
    async with Witness.on(channel) as witness, two_workers(tmp_path, url, channel) as workers:
        first, second = workers.first, workers.second
        # (announced to, connected to, caller id, flow): retail is not the default flow (banking)
        plan = [(first, second, "+15557770001", "retail"), (second, first, "+15557770002", "logistics"),
                (first, second, "+15557770003", "banking")]
        call_ids = [str(uuid.uuid4()) for _ in plan]
        async with httpx.AsyncClient(timeout=10, headers={"Authorization": f"Bearer {token}"}) as client:
            for call_id, (web, _, caller_id, flow) in zip(call_ids, plan, strict=True):
                announced = await client.post(f"{web.web_url}/api/calls/{call_id}/announce", data={
                    "caller_id": caller_id, "dnis": "5551000", "flow": flow, "tier": "gold"})
                assert announced.status_code == 204
        results = await asyncio.gather(*(
            place_call("127.0.0.1", worker.audiosocket_port, GREETED, call_id=call_id, timeout=150)
            for call_id, (_, worker, _, _) in zip(call_ids, plan, strict=True)))
        # A call in progress on worker 1 when it stops: handed to a person, its lookup made on worker 2
        staying = str(uuid.uuid4())
        call = asyncio.create_task(place_call("127.0.0.1", first.audiosocket_port, STAYS_ON, call_id=staying,
                                              timeout=150, web_url=second.web_url, api_token=token))
        for _ in range(600):
            if any(isinstance(e, CallStarted) and e.call_id == staying for e in witness.events):
                break
            await asyncio.sleep(0.1)
        first_code = await asyncio.to_thread(stop, first)
        stayed = await call
    assert workers.codes == [first_code, 0] and first_code == 0, workers.codes
    for result in results:
        assert result.ok, result.errors
    started = {e.call_id: e for e in witness.events if isinstance(e, CallStarted)}
    for call_id, (_, _, caller_id, flow) in zip(call_ids, plan, strict=True):
        assert (started[call_id].caller_id, started[call_id].flow) == (caller_id, flow), started[call_id]
    connected = {w: {line["call_id"] for line in json_log(w) if line.get("event") == "call connected"}
                 for w in (first, second)}
    assert connected[first] == {call_ids[1], staying} and connected[second] == {call_ids[0], call_ids[2]}
    assert stayed.hangup_by == "bot" and stayed.handoff and stayed.handoff.get("queue"), (stayed.hangup_by,
                                                                                        stayed.handoff)
    waited = [line for line in json_log(first) if line.get("event") == "handoff lookups after shutdown"]
    assert [(line["calls"], line["not_looked_up"]) for line in waited] == [(1, 0)], waited
