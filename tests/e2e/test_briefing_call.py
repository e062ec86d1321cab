"""The agent's spoken briefing through a real `voicebot serve`: a call handed off to a queue with the briefing on
leaves an 8 kHz WAV named by the call's UUID, in the bot's voice, and the dialplan's handoff answer says so."""

from __future__ import annotations

import asyncio
import json
import uuid
import wave
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from harness import auth, start_service, stop_service
from voicebot.caller.script import parse_script
from voicebot.caller.simulator import place_call

pytestmark = pytest.mark.slow


async def test_a_handoff_to_a_briefed_queue_writes_the_briefing_and_says_so(tmp_path: Path) -> None:
    briefings = tmp_path / "briefings"
    service = await asyncio.to_thread(start_service, tmp_path, {
        "VOICEBOT_DESKTOP__BRIEFING_DIR": str(briefings),
        "VOICEBOT_DESKTOP__BRIEFING_QUEUES": json.dumps(["banking"])})
    try:
        call_id = str(uuid.uuid4())
        async with httpx.AsyncClient(base_url=service.web_url, timeout=10, headers=auth(service)) as client:
            announced = await client.post(f"/api/calls/{call_id}/announce",
                                          content=urlencode({"caller_id": "+15551230001", "dnis": "5551000",
                                                            "flow": "banking"}))
            assert announced.status_code == 204
            result = await place_call("127.0.0.1", service.audiosocket_port, parse_script({"steps": [
                {"wait_for_bot": {"timeout": 20}}, {"dtmf": "0"}, {"wait_for_bot": {"timeout": 20}}]}),
                call_id=call_id, timeout=60, web_url=service.web_url, api_token=service.api_token)
            path = briefings / f"{call_id}.wav"
            for _ in range(50):  # rendered while the bot's last prompt drains, written whole
                if path.exists():
                    break
                await asyncio.sleep(0.2)
            answer = (await client.get(f"/api/calls/{call_id}/handoff")).text
    finally:
        await asyncio.to_thread(stop_service, service)
    assert result.hangup_by == "bot", result.errors
    assert result.handoff == {"queue": "banking", "skill": "general", "priority": "0", "reason": "caller_request",
                              "briefing": "1"}
    assert answer == "queue=banking&skill=general&priority=0&reason=caller_request&briefing=1"
    with wave.open(str(path)) as made:
        assert (made.getframerate(), made.getnchannels(), made.getsampwidth()) == (8000, 1, 2)
        assert 1.0 < made.getnframes() / 8000 < 8.0  # "Caller not verified, … asked for an agent." spoken
