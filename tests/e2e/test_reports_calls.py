"""End to end: calls through the whole pipeline (a real `voicebot serve`, the simulator speaking and keying as
Asterisk would) reach the reports: a self-served call whose caller keys 5 at the survey counts in CSAT, and the
same number calling again within a day takes that call out of the strict containment while the raw rate keeps
it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from harness import BALANCE_VERIFIED, auth, call

pytestmark = pytest.mark.slow


async def test_a_served_call_with_its_survey_and_a_call_back_in_the_reports(service):
    number = f"+1555{uuid.uuid4().int % 10**7:07d}"
    since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="seconds")
    result, record = await call(service, [
        *BALANCE_VERIFIED,
        {"wait_for_bot": {"timeout": 20}},
        {"say": "no that's it thanks"},
        {"wait_for_bot": {"timeout": 20}},
        {"dtmf": "5"},
        {"wait_for_bot": {"timeout": 20, "quiet": 1.5}},
    ], caller_id=number)
    assert result.ok, result.errors
    assert record["outcome"] == "completed", record["outcome"]
    answers = [e["data"] for e in record["events"] if e["kind"] == "survey_answered"]
    assert answers == [{"flow": "banking", "question": "satisfaction", "score": 5, "via": "dtmf"}], answers
    async with httpx.AsyncClient(base_url=service.web_url, timeout=10, headers=auth(service)) as client:
        params = {"from": since, "flow": "banking"}
        csat = (await client.get("/api/reports/csat", params=params)).json()
        assert csat["figures"]["responses"] >= 1 and csat["rows"][0]["score_5"] >= 1, csat
        before = (await client.get("/api/reports/containment", params=params)).json()["figures"]
        _, again = await call(service, [{"wait_for_bot": {"timeout": 20}}, "hangup"], caller_id=number)
        assert again["caller_id"] == number
        await asyncio.sleep(0.5)
        after = (await client.get("/api/reports/containment", params=params)).json()["figures"]
    assert after["repeat_called"] == before["repeat_called"] + 1, (before, after)
