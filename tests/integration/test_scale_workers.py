"""Two real `voicebot serve` workers behind one PostgreSQL database with a Redis bus between them, as
docs/scaling.md runs them: each takes simulated calls over real AudioSocket; every call's record is in the database
exactly once; the web API of one worker answers the dialplan for a call on the other and hears its events; each
worker's /metrics counts its own calls; every log line names its worker and every line of a call names the call."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from harness import CALLER_VOICE
from prometheus_client.parser import text_string_to_metric_families
from scale_support import (
    Witness,
    api_token,
    assert_call_lines_named,
    assert_stored_exactly_once,
    json_log,
    stored_records,
    two_workers,
)

from voicebot.caller.script import parse_script
from voicebot.caller.simulator import place_call

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SERVED = parse_script({"caller_id": "+15551230001", "flow": "banking", "steps": [
    {"wait_for_bot": {"timeout": 30}},
    {"say": "I want to check my balance"},
    {"wait_for_bot": {"timeout": 30}},
    {"dtmf": "12345678"},
    {"wait_for_bot": {"timeout": 30, "quiet": 1.5}},
    "hangup",
]})
HANDED_OFF = parse_script({"caller_id": "+15551230002", "flow": "banking", "steps": [
    {"wait_for_bot": {"timeout": 30}},
    {"say": "I lost my card and I want to speak to a real person"},
    {"wait_for_bot": {"timeout": 30}},
    {"say": "agent please"},
    {"wait_for_bot": {"timeout": 30}},
    {"pause": 2},
]})


def _samples(text: str) -> dict[str, float]:
    return {s.name + str(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_two_workers_one_database_one_bus(scale_database: str, tmp_path: Path) -> None:
    url = scale_database
    token = await api_token(url, "scale-workers")
    channel = f"voicebot-scale-test:{uuid.uuid4().hex}"
    async with Witness.on(channel) as witness:
        async with two_workers(tmp_path, url, channel) as workers:
            first, second = workers.first, workers.second
            plan = [(first, SERVED, first), (first, HANDED_OFF, first), (second, SERVED, second),
                    (second, HANDED_OFF, first)]  # the last call's handoff is looked up on the other worker
            call_ids = [str(uuid.uuid4()) for _ in plan]
            async with httpx.AsyncClient(timeout=10, headers={"Authorization": f"Bearer {token}"}) as client:
                for call_id, (worker, script, _) in zip(call_ids, plan, strict=True):
                    # the announcement goes to the worker that takes the call (docs/scaling.md)
                    announced = await client.post(f"{worker.web_url}/api/calls/{call_id}/announce", data={
                        "caller_id": script.caller_id, "dnis": "5551000", "flow": "banking"})
                    assert announced.status_code == 204
                results = await asyncio.gather(*(
                    place_call("127.0.0.1", worker.audiosocket_port, script, call_id=call_id, timeout=150,
                               web_url=web.web_url, api_token=token, tts=CALLER_VOICE)
                    for call_id, (worker, script, web) in zip(call_ids, plan, strict=True)))
                for _ in range(100):  # the records are written in the background
                    records = await stored_records(url.replace("+asyncpg", ""), set(call_ids))
                    if len(records) == len(call_ids) and all(r.ends for r in records.values()):
                        break
                    await asyncio.sleep(0.2)
                metrics = [_samples((await client.get(f"{w.web_url}/metrics")).text) for w in (first, second)]
        expected = await witness.expected_records(set(call_ids))
    assert workers.codes == [0, 0]
    for result in results:
        assert result.ok, result.errors
    assert [r.hangup_by for r in results] == ["caller", "bot", "caller", "bot"]
    # worker 2's handoff, answered by worker 1's web API as the dialplan reads it
    assert results[3].handoff and results[3].handoff["queue"] in {"banking", "cards"}, results[3].handoff
    assert_stored_exactly_once(expected, await stored_records(url.replace("+asyncpg", ""), set(call_ids)))
    outcomes = [expected[call_id].outcome for call_id in call_ids]
    assert outcomes[1] == outcomes[3] == "handoff" and "handoff" not in (outcomes[0], outcomes[2]), outcomes
    for samples in metrics:  # each worker counts its own two calls; each heard all four calls' events
        assert samples["voicebot_calls_started_total[]"] == 2
        assert samples["voicebot_calls_total[('outcome', 'handoff')]"] == 1
        assert samples["voicebot_bus_lag_seconds_count[]"] >= sum(
            sum(r.events.values()) + len(r.turns) + 2 for r in expected.values())
        assert samples["voicebot_turn_stage_seconds_count[('stage', 'response')]"] >= 2
    for worker, worker_id, own in ((first, "worker-1", call_ids[:2]), (second, "worker-2", call_ids[2:])):
        lines = json_log(worker)
        assert assert_call_lines_named(lines, worker_id, set(own)) >= 2
        calls_here = {line["call_id"] for line in lines if line.get("event") == "call connected"}
        assert calls_here == set(own), calls_here  # the other worker's calls left no call lines here
