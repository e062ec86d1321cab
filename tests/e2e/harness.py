"""End-to-end harness: a real `voicebot serve` process on free ports with a temporary database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class RunningService:
    audiosocket_port: int
    web_url: str
    db_path: Path
    log_path: Path
    process: subprocess.Popen

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_service(workdir: Path, extra_env: dict[str, str] | None = None, timeout_s: float = 180) -> RunningService:
    """Start `voicebot serve` as a user would, wait until /healthz answers."""
    audiosocket_port, web_port = free_port(), free_port()
    db_path = workdir / "voicebot.db"
    env = {
        **os.environ,
        "VOICEBOT_AUDIOSOCKET__PORT": str(audiosocket_port),
        "VOICEBOT_WEB__PORT": str(web_port),
        "VOICEBOT_STORE__URL": f"sqlite+aiosqlite:///{db_path}",
        "VOICEBOT_STORE__SPOOL_DIR": str(workdir / "spool"),
        "VOICEBOT_DIALOG__DIR": str(ROOT / "dialogs"),
        "VOICEBOT_MODELS_DIR": str(ROOT / "models"),
        "VOICEBOT_SPEECH__PROMPT_CACHE_DIR": str(ROOT / "var" / "prompt-cache"),
        "VOICEBOT_AUDIOSOCKET__SHUTDOWN_GRACE_S": "5",
        **(extra_env or {}),
    }
    log_path = workdir / "serve.log"
    log_file = log_path.open("w")
    process = subprocess.Popen([sys.executable, "-m", "voicebot", "serve"], cwd=workdir, env=env,
                               stdout=log_file, stderr=subprocess.STDOUT)
    web_url = f"http://127.0.0.1:{web_port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"voicebot serve exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{web_url}/healthz", timeout=1).status_code == 200:
                return RunningService(audiosocket_port, web_url, db_path, log_path, process)
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"voicebot serve did not become ready in {timeout_s} s:\n{log_path.read_text()}")


def stop_service(service: RunningService) -> int:
    service.process.terminate()
    try:
        return service.process.wait(30)
    except subprocess.TimeoutExpired:
        service.process.kill()
        return service.process.wait()


