"""deploy/haproxy.cfg, run by a real HAProxy in front of two stand-in workers (real sockets: an AudioSocket
listener and a web server each): a call's announcement and its AudioSocket connection reach the same worker, calls
spread over both, a worker that fails its health check gets no new calls, and a connection that does not start
with an AudioSocket UUID message reaches no worker."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from services import REQUIRED
from voicebot.audio import audiosocket
from voicebot.caller.launcher import free_port

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "haproxy.cfg"


@dataclass
class StandIn:
    """A worker's two listeners; what reached them."""

    name: str
    audiosocket_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    calls: list[str] = field(default_factory=list)  # UUIDs of AudioSocket connections
    announced: list[str] = field(default_factory=list)  # UUIDs of announcements
    requests: list[str] = field(default_factory=list)  # other web paths
    healthy: bool = True

    async def serve(self) -> list[asyncio.Server]:
        return [await asyncio.start_server(self._audiosocket, "127.0.0.1", self.audiosocket_port),
                await asyncio.start_server(self._web, "127.0.0.1", self.web_port)]

    async def _audiosocket(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            head = await reader.readexactly(19)
            self.calls.append(str(uuid.UUID(bytes=head[3:])))
            writer.write(b"\x00\x00\x00")  # hang up, as voicebot does when it lets go
            await writer.drain()
        writer.close()

    async def _web(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            length = re.search(r"(?im)^content-length:\s*(\d+)", head)
            await reader.readexactly(int(length.group(1)) if length else 0)
            path = head.split(" ", 2)[1]
            status = "204 No Content"
            if path == "/healthz":
                status = "200 OK" if self.healthy else "503 Service Unavailable"
            elif match := re.fullmatch(r"/api/calls/([0-9a-f-]{36})/announce", path):
                self.announced.append(match.group(1))
            else:
                self.requests.append(path)
            writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
        writer.close()


def _config(workers: list[StandIn], audiosocket_port: int, web_port: int) -> str:
    """The shipped configuration with this test's addresses (and faster health checks)."""
    text = CONFIG.read_text()
    text = text.replace("bind :9092", f"bind 127.0.0.1:{audiosocket_port}").replace("bind :8080",
                                                                                  f"bind 127.0.0.1:{web_port}")
    # faster health checks, each given 1 s: the stand-ins answer from this test's event loop, which a loaded
    # machine may hold up past a check's default timeout (its interval, 200 ms), marking healthy workers down
    text = text.replace("inter 2s fall 2 rise 2", "inter 200ms fall 2 rise 2").replace(
        "timeout http-request 10s", "timeout http-request 10s\n    timeout check 1s")
    for w in workers:
        text = text.replace(f"{w.name}:9092 port 8080", f"127.0.0.1:{w.audiosocket_port} port {w.web_port}")
        text = text.replace(f"{w.name}:8080", f"127.0.0.1:{w.web_port}")
    assert "worker-1:" not in text and "worker-2:" not in text, "server lines of deploy/haproxy.cfg changed"
    return text


@dataclass
class Balancer:
    audiosocket_port: int
    web_port: int
    workers: list[StandIn]


@pytest.fixture
async def balancer(tmp_path: Path) -> AsyncIterator[Balancer]:
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        if REQUIRED:
            pytest.fail("haproxy is not installed (apt-get install haproxy); VOICEBOT_REQUIRE_SERVICES=1 needs it",
                        pytrace=False)
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    workers = [StandIn("worker-1"), StandIn("worker-2")]
    servers = [server for w in workers for server in await w.serve()]
    front = Balancer(free_port(), free_port(), workers)
    config = tmp_path / "haproxy.cfg"
    config.write_text(_config(workers, front.audiosocket_port, front.web_port))
    check = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    with open(tmp_path / "haproxy.log", "wb") as log:  # its request log, for a failing test's reader
        process = await asyncio.create_subprocess_exec(haproxy, "-db", "-f", str(config), stdout=log,
                                                       stderr=asyncio.subprocess.STDOUT)
    try:
        for _ in range(100):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", front.web_port)
                writer.close()
                break
            await asyncio.sleep(0.05)
        yield front
    finally:
        process.terminate()
        await process.wait()
        for server in servers:
            server.close()


async def _call(front: Balancer, client: httpx.AsyncClient, call_id: str) -> None:
    """As the dialplan does: announce, then connect AudioSocket and send the UUID."""
    response = await client.post(f"http://127.0.0.1:{front.web_port}/api/calls/{call_id}/announce",
                                 content="caller_id=%2B15550001&dnis=5551000")
    assert response.status_code == 204
    reader, writer = await asyncio.open_connection("127.0.0.1", front.audiosocket_port)
    writer.write(audiosocket.encode_uuid(call_id))
    await writer.drain()
    assert await asyncio.wait_for(reader.read(3), 5) == b"\x00\x00\x00"  # a worker took it and hung up
    writer.close()


async def test_announcement_and_audiosocket_of_a_call_reach_the_same_worker(balancer: Balancer) -> None:
    calls = [str(uuid.uuid4()) for _ in range(40)]
    async with httpx.AsyncClient(timeout=5) as client:
        for call_id in calls:
            await _call(balancer, client, call_id)
        pages = [await client.get(f"http://127.0.0.1:{balancer.web_port}/api/calls") for _ in range(4)]
    assert all(page.status_code == 204 for page in pages)
    for worker in balancer.workers:
        assert worker.calls == worker.announced  # each call's two connections, on one worker, in order
        assert worker.calls, "calls are spread over both workers"
    assert sorted(c for w in balancer.workers for c in w.calls) == sorted(calls)
    assert sum(len(w.requests) for w in balancer.workers) == 4  # the rest of the web: any worker


async def test_a_worker_failing_its_health_check_gets_no_new_calls(balancer: Balancer) -> None:
    first, second = balancer.workers
    second.healthy = False
    await asyncio.sleep(1.0)  # fall 2 checks, 200 ms apart
    calls = [str(uuid.uuid4()) for _ in range(10)]
    async with httpx.AsyncClient(timeout=5) as client:
        for call_id in calls:
            await _call(balancer, client, call_id)
    assert first.calls == first.announced == calls and not second.calls and not second.announced


async def test_a_connection_without_an_audiosocket_uuid_reaches_no_worker(balancer: Balancer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", balancer.audiosocket_port)
    writer.write(b"GET / HTTP/1.0\r\n\r\n\r\n")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by HAProxy
    writer.close()
    assert not any(w.calls for w in balancer.workers)
