"""A real `voicebot serve` for the tests that call it (voicebot.caller.launcher): free ports, a temporary database,
the repository's flows and models. The simulated callers speak with the project's voice, loaded once for the
session (``CALLER_VOICE``); ``call`` places a call as the dialplan does and reads its record back."""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx

from voicebot.caller.launcher import RunningService, start, stop
from voicebot.caller.script import parse_script
from voicebot.caller.simulator import CallResult, TextToSpeech, load_project_tts, place_call

ROOT = Path(__file__).resolve().parents[1]
__all__ = ["BALANCE_VERIFIED", "CALLER_VOICE", "ROOT", "RunningService", "auth", "bot_texts", "call", "ended_record",
           "service_env", "start_service", "stop_service"]


# The banking caller asks for her balance, keys Maria's account number (known to the demo backend), confirms it and
# keys her PIN: the bot reads the balance out next.
BALANCE_VERIFIED = [
    {"wait_for_bot": {"timeout": 20}},
    {"say": "I want to check my balance"},
    {"wait_for_bot": {"timeout": 20}},
    {"dtmf": "12345678"},
    {"wait_for_bot": {"timeout": 20}},
    {"say": "yes"},
    {"wait_for_bot": {"timeout": 20}},
    {"dtmf": "4567"},
]


def service_env(extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The repository's flows, models and prompt cache, and ``extra_env`` over them."""
    return {
        "VOICEBOT_DIALOG__DIR": str(ROOT / "dialogs"),
        "VOICEBOT_MODELS_DIR": str(ROOT / "models"),
        "VOICEBOT_SPEECH__PROMPT_CACHE_DIR": str(ROOT / "var" / "prompt-cache"),
        "VOICEBOT_AUDIOSOCKET__SHUTDOWN_GRACE_S": "5",
        **(extra_env or {}),
    }


def start_service(workdir: Path, extra_env: dict[str, str] | None = None, timeout_s: float = 180) -> RunningService:
    """Start `voicebot serve` as a user would (in ``workdir``), wait until it is ready. Blocking."""
    return asyncio.run(start(workdir, service_env(extra_env), ready_timeout=timeout_s, cwd=workdir))


def auth(service: RunningService) -> dict[str, str]:
    """The headers of the dialplan's (and a reader's) API token the launcher created."""
    return {"Authorization": f"Bearer {service.api_token}"}


def stop_service(service: RunningService) -> int:
    return stop(service)


class _CallerVoice:
    """The project's Piper voice, loaded on the first line a caller speaks and kept for the session (a call
    without it loads the voice again: seconds each time); one synthesis at a time, for calls rendered at once."""

    def __init__(self) -> None:
        self._voice: TextToSpeech | None = None
        self._lock = threading.Lock()

    def synthesize_pcm(self, text: str, sample_rate: int) -> bytes:
        with self._lock:
            if self._voice is None:
                self._voice = load_project_tts()
            return self._voice.synthesize_pcm(text, sample_rate)


CALLER_VOICE: TextToSpeech = _CallerVoice()  # place_call(..., tts=CALLER_VOICE)


async def ended_record(client: httpx.AsyncClient, call_id: str, tries: int = 50) -> dict | None:
    """The call's record from the API once it has ended (the store writes in the background), or None."""
    for _ in range(tries):
        response = await client.get(f"/api/calls/{call_id}")
        if response.status_code == 200 and response.json()["ended_at"]:
            return response.json()
        await asyncio.sleep(0.2)
    return None


async def call(service: RunningService, steps: list, *, flow: str = "banking", caller_id: str = "+15551230001",
               timeout: float = 90, fetch_record: bool = True, rate: int = 8000,
               options: dict | None = None) -> tuple[CallResult, dict | None]:
    """Announce the call as the dialplan does, place it, and return what the caller heard plus the record.
    ``options`` are the script's call options (``silence_frames``, ``first_audio_after``)."""
    call_id = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=service.web_url, timeout=10, headers=auth(service)) as client:
        announced = await client.post(f"/api/calls/{call_id}/announce",
                                      content=urlencode({"caller_id": caller_id, "dnis": "5551000", "flow": flow}))
        assert announced.status_code == 204
        result = await place_call("127.0.0.1", service.audiosocket_port,
                                  parse_script({**(options or {}), "steps": steps}), rate=rate,
                                  call_id=call_id, timeout=timeout, web_url=service.web_url,
                                  api_token=service.api_token, tts=CALLER_VOICE)
        record = await ended_record(client, call_id) if fetch_record else None
    assert record is not None or not fetch_record, f"no call record for {call_id}:\n{service.log_text()[-3000:]}"
    return result, record


def bot_texts(record: dict) -> str:
    return " ".join(turn["bot_text"] for turn in record["turns"]).lower()
