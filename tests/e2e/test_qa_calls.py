"""End to end: a call through the whole pipeline (a real `voicebot serve`, the simulator speaking and keying as
Asterisk would) reviewed in the QA console as a new QA reviewer would: found by a word the caller said, its
banking compliance rule answered from the record (the caller was verified before the balance was read), a
corrected line, a score card saved, the scores per flow on the API and the correction exported by
`voicebot qa export`."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

import httpx
import pytest
import yaml
from harness import BALANCE_VERIFIED, ROOT, auth, call
from logins import csrf_of

from voicebot.store import database
from voicebot.store.users import SqlUserStore
from voicebot.web.auth import Role
from voicebot.web.logins import add_user

pytestmark = pytest.mark.slow

PASSWORD = "a reviewer's long password"


async def test_a_reviewer_finds_scores_corrects_and_exports_a_real_call(service) -> None:
    result, record = await call(service, [*BALANCE_VERIFIED, {"wait_for_bot": {"timeout": 20}}, "hangup"],
                                caller_id="+15557770001")
    assert result.ok, result.errors
    call_id = record["id"]
    spoken = next(t for t in record["turns"] if "balance" in t["caller_text"].lower())
    engine = database.connect(service.db_url)
    try:
        await add_user(SqlUserStore(engine), "rita", Role.QA, PASSWORD)
    finally:
        await engine.dispose()

    async with httpx.AsyncClient(base_url=service.web_url, timeout=20) as client:
        form = await client.get("/login")
        await client.post("/login", data={"username": "rita", "password": PASSWORD, "csrf": csrf_of(form.text),
                                          "next": "/"})
        found = await client.get("/calls", params={"words": "balance", "flow": "banking"})
        assert found.status_code == 200 and f"/calls/{call_id}" in found.text
        page = await client.get(f"/calls/{call_id}")
        assert page.status_code == 200 and "Score card: Harbor Bank compliance" in page.text
        rule = re.search(r'data-answer="(\w+)">\w+</span>\s*The bot verified the caller before reading the balance',
                         page.text)
        assert rule is not None and rule.group(1) == "yes", page.text[-4000:]  # from the webhooks' order
        csrf = csrf_of(page.text)
        corrected = await client.post(f"/calls/{call_id}/turns/{spoken['index']}/correction",
                                      data={"csrf": csrf, "caller_text": "I want to check my balance please",
                                            "intent": "check_balance"})
        scored = await client.post(f"/calls/{call_id}/scores/banking_compliance",
                                   data={"csrf": csrf, "q_no_full_number": "yes", "q_disclosure": "yes"})
        assert (corrected.status_code, scored.status_code) == (303, 303)
        assert "Scored 100 by rita" in (await client.get(f"/calls/{call_id}")).text
        scores = await client.get("/api/qa/scores", params={"period": "day", "form": "banking_compliance"},
                                  headers=auth(service))
        assert scores.status_code == 200
        assert any(s["flow"] == "banking" and s["mean"] == 100.0 for s in scores.json()["scores"]), scores.json()

    exported = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "voicebot", "qa", "export", "--flow", "banking",
                         "--url", service.db_url], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert exported.returncode == 0, exported.stderr
    examples = yaml.safe_load(exported.stdout)["intents"]["check_balance"]["examples"]
    assert "I want to check my balance please" in examples
