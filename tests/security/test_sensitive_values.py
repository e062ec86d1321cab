"""Secrets never reach the record in clear: a real call keys an account number, speaks a PIN and asks for
an agent; the call record, its events, the handoff packet, the API and the service's log are searched."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx

from voicebot.caller.launcher import start, stop
from voicebot.caller.script import parse_script
from voicebot.caller.simulator import place_call

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, PIN = "12345678", "4567"
CLEAR = re.compile(r"1\W?2\W?3\W?4\W?5\W?6\W?7\W?8|4\W?5\W?6\W?7|four five six seven", re.IGNORECASE)


async def test_a_keyed_account_and_a_spoken_pin_are_masked_everywhere(tmp_path: Path) -> None:
    env = {"VOICEBOT_DIALOG__DIR": str(ROOT / "dialogs"), "VOICEBOT_MODELS_DIR": str(ROOT / "models"),
           "VOICEBOT_SPEECH__PROMPT_CACHE_DIR": str(ROOT / "var" / "prompt-cache")}
    service = await start(tmp_path, env, cwd=tmp_path)
    call_id = str(uuid.uuid4())
    headers = {"Authorization": f"Bearer {service.api_token}"}
    try:
        async with httpx.AsyncClient(base_url=service.web_url, timeout=10, headers=headers) as client:
            await client.post(f"/api/calls/{call_id}/announce",
                              content=urlencode({"caller_id": "+15551230001", "flow": "banking"}))
            result = await place_call("127.0.0.1", service.audiosocket_port, parse_script({"steps": [
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
            ]}), call_id=call_id, timeout=150, web_url=service.web_url, api_token=service.api_token)
            record = None
            for _ in range(50):
                response = await client.get(f"/api/calls/{call_id}")
                if response.status_code == 200 and response.json()["ended_at"]:
                    record = response.json()
                    break
                await asyncio.sleep(0.2)
            listed = (await client.get("/api/calls")).text
    finally:
        await asyncio.to_thread(stop, service)
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
