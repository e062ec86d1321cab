"""Start ``voicebot serve`` as a child process, as a user would: for e2e and audio tests and benchmarks.

The service gets free ports, a SQLite database and a spool under ``workdir`` and its log in
``workdir/serve.log``; it is ready when its AudioSocket port accepts and ``GET /healthz`` answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from voicebot.web.auth import Scope, create_token_at

HOST = "127.0.0.1"


class ServeError(RuntimeError):
    """``voicebot serve`` exited or did not become ready."""


@dataclass(frozen=True, slots=True)
class RunningService:
    """A started ``voicebot serve``: where to call it, its database, its log, its process."""

    audiosocket_port: int
    web_url: str
    db_path: Path
    log_path: Path
    process: subprocess.Popen
    api_token: str  # a dialplan + read token created in its database before it started

    @property
    def db_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.db_path}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


async def start(workdir: Path, env: Mapping[str, str] | None = None, command: Sequence[str] | None = None,
                ready_timeout: float = 180.0, cwd: Path | None = None) -> RunningService:
    """Start ``voicebot serve`` (or ``command``) with ``env`` over this process's environment; wait until
    it is ready. Raises :class:`ServeError` (with the log's tail) if it exits first or times out."""
    audiosocket_port, web_port = free_port(), free_port()
    db_path = workdir / "voicebot.db"
    full_env = {**os.environ, "VOICEBOT_AUDIOSOCKET__PORT": str(audiosocket_port),
                "VOICEBOT_WEB__PORT": str(web_port), "VOICEBOT_STORE__URL": f"sqlite+aiosqlite:///{db_path}",
                "VOICEBOT_STORE__SPOOL_DIR": str(workdir / "spool"),
                "VOICEBOT_RECORDINGS__DIR": str(workdir / "recordings"), **(env or {})}
    token = await create_token_at(f"sqlite+aiosqlite:///{db_path}", f"launcher-{os.getpid()}-{audiosocket_port}",
                                  frozenset({Scope.DIALPLAN, Scope.READ}))
    log_path = workdir / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(list(command or (sys.executable, "-m", "voicebot", "serve")), cwd=cwd,
                                   env=full_env, stdout=log, stderr=subprocess.STDOUT)
    service = RunningService(audiosocket_port, f"http://{HOST}:{web_port}", db_path, log_path, process,
                             token.secret)
    try:
        await _wait_ready(service, ready_timeout)
    except BaseException:
        await asyncio.to_thread(stop, service)
        raise
    return service


async def _wait_ready(service: RunningService, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient(timeout=2.0) as client:
        while loop.time() < deadline:
            if (code := service.process.poll()) is not None:
                raise ServeError(f"voicebot serve exited with {code} before it was ready:\n"
                                 f"{service.log_text()[-3000:]}")
            try:
                _, writer = await asyncio.open_connection(HOST, service.audiosocket_port)
                writer.close()
                await writer.wait_closed()
                if (await client.get(f"{service.web_url}/healthz")).status_code == 200:
                    return
            except (OSError, httpx.HTTPError):
                pass
            await asyncio.sleep(0.25)
    raise ServeError(f"voicebot serve was not ready after {timeout:g} s (log: {service.log_path}):\n"
                     f"{service.log_text()[-3000:]}")


def stop(service: RunningService, grace_s: float = 30.0) -> int:
    """SIGTERM, then SIGKILL after ``grace_s``; the exit code. Blocking."""
    if service.process.poll() is None:
        service.process.terminate()
    try:
        return service.process.wait(grace_s)
    except subprocess.TimeoutExpired:
        service.process.kill()
        return service.process.wait()


@contextlib.asynccontextmanager
async def serving(workdir: Path, env: Mapping[str, str] | None = None, command: Sequence[str] | None = None,
                  ready_timeout: float = 180.0) -> AsyncIterator[RunningService]:
    """:func:`start` for the block's duration, then :func:`stop`."""
    service = await start(workdir, env, command, ready_timeout)
    try:
        yield service
    finally:
        await asyncio.to_thread(stop, service)
