"""Secrets never reach the record in clear: a real call keys an account number, speaks a PIN and asks for
an agent; the call record, its events, the handoff packet, the API and the service's log are searched."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from pathlib import Path

import httpx
from harness import auth, call, start_service, stop_service

ACCOUNT, PIN = "12345678", "4567"
# The secrets in any form they could be shown, but not digits inside a longer token: a random hex id
# ("…c4567e…"), a float or a timestamp ("0.84567"), a port, base64 of a hash or a token.
CLEAR = re.compile(r"(?<![\w.+/=:-])(?:1\W?2\W?3\W?4\W?5\W?6\W?7\W?8|4\W?5\W?6\W?7)(?![\w+/=])|four five six seven",
                   re.IGNORECASE)


async def test_a_keyed_account_and_a_spoken_pin_are_masked_everywhere(tmp_path: Path) -> None:
    service = await asyncio.to_thread(start_service, tmp_path)
    try:
        result, record = await call(service, [
            {"wait_for_bot": {"timeout": 20}},
            {"say": "I want to check my balance"},
            {"wait_for_bot": {"timeout": 20}},
            {"dtmf": ACCOUNT},
            {"wait_for_bot": {"timeout": 20}},  # "That's ****5678 ..." is what the record may say
            {"say": "yes"},
            {"wait_for_bot": {"timeout": 20}},
            {"say": "four five six seven"},
            {"wait_for_bot": {"timeout": 20}},
            {"say": "I want to speak to an agent"},
            {"wait_for_bot": {"timeout": 30}},
        ], timeout=150)
        async with httpx.AsyncClient(base_url=service.web_url, timeout=10, headers=auth(service)) as client:
            listed = (await client.get("/api/calls")).text
    finally:
        await asyncio.to_thread(stop_service, service)
    assert result.ok, result.errors
    assert record is not None and record["outcome"] == "handoff"
    bot = " ".join(t["bot_text"] for t in record["turns"])
    assert "2431.57" in bot, bot  # the secrets were used: Maria was verified with them
    assert "****5678" in bot  # the read-back of the account number, masked but for its last four
    packet = record["handoff"]
    assert packet["slots"]["pin"] == "****" and packet["slots"]["account_number"] == "****5678"
    served = json.dumps(record) + listed
    assert not CLEAR.search(served), CLEAR.search(served)
    # keys at a sensitive question are not kept key by key (the menu had none: the account was keyed)
    assert not [e for e in record["events"] if e["kind"] == "dtmf"]
    stored = sqlite3.connect(service.db_path)
    dump = "\n".join(stored.iterdump())
    assert not CLEAR.search(dump), CLEAR.search(dump)
    log = service.log_text()
    assert not CLEAR.search(log), CLEAR.search(log)
