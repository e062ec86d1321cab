"""End-to-end harness: a real `voicebot serve` process (voicebot.caller.launcher) on free ports with a temporary
database, the repository's flows and models."""

from __future__ import annotations

import asyncio
from pathlib import Path

from voicebot.caller.launcher import RunningService, start, stop

ROOT = Path(__file__).resolve().parents[2]
__all__ = ["ROOT", "RunningService", "auth", "start_service", "stop_service"]


def start_service(workdir: Path, extra_env: dict[str, str] | None = None, timeout_s: float = 180) -> RunningService:
    """Start `voicebot serve` as a user would (in ``workdir``), wait until it is ready. Blocking."""
    env = {
        "VOICEBOT_DIALOG__DIR": str(ROOT / "dialogs"),
        "VOICEBOT_MODELS_DIR": str(ROOT / "models"),
        "VOICEBOT_SPEECH__PROMPT_CACHE_DIR": str(ROOT / "var" / "prompt-cache"),
        "VOICEBOT_AUDIOSOCKET__SHUTDOWN_GRACE_S": "5",
        **(extra_env or {}),
    }
    return asyncio.run(start(workdir, env, ready_timeout=timeout_s, cwd=workdir))


def auth(service: RunningService) -> dict[str, str]:
    """The headers of the dialplan's (and a reader's) API token the launcher created."""
    return {"Authorization": f"Bearer {service.api_token}"}


def stop_service(service: RunningService) -> int:
    return stop(service)
