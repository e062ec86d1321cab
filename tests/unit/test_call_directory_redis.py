"""The call directory in Redis (call/directory_redis.py), against the real Redis at 127.0.0.1:6379: two
directories stand for two workers; and against a Redis that refuses connections or never answers."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis

from services import require_service
from voicebot.call.directory import CallInfo
from voicebot.call.directory_redis import RedisCallDirectory

REDIS_URL = "redis://127.0.0.1:6379/0"
INFO = CallInfo(caller_id="+15550001", dnis="5551000", flow="retail", variables={"tier": "gold"})


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    require_service("Redis", "127.0.0.1", 6379)
    name = f"voicebot-directory-test:{uuid.uuid4().hex}"
    yield name
    client = aioredis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(f"{name}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def workers(prefix: str) -> AsyncIterator[tuple[RedisCallDirectory, RedisCallDirectory]]:
    a = RedisCallDirectory.open(REDIS_URL, prefix, ttl_s=60, wait_s=0.5)
    b = RedisCallDirectory.open(REDIS_URL, prefix, ttl_s=60, wait_s=0.5)
    yield a, b
    await a.close()
    await b.close()


async def test_an_announcement_made_on_one_worker_is_taken_once_on_another(workers, prefix: str) -> None:
    a, b = workers
    call_id = str(uuid.uuid4())
    await a.announce(call_id.upper(), INFO)
    client = aioredis.from_url(REDIS_URL)
    try:
        assert 0 < await client.pttl(f"{prefix}:announce:{call_id}") <= 60_000  # expires if never taken
        assert await b.take(call_id) == INFO
        assert await client.exists(f"{prefix}:announce:{call_id}") == 0
    finally:
        await client.aclose()
    assert await a.take(call_id) == CallInfo()  # taken once only


async def test_take_waits_briefly_for_an_announcement_still_in_flight(workers) -> None:
    a, b = workers
    call_id = str(uuid.uuid4())

    async def announced_late() -> None:
        await asyncio.sleep(0.15)
        await a.announce(call_id, INFO)

    late = asyncio.create_task(announced_late())
    assert await b.take(call_id) == INFO
    await late
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await b.take(str(uuid.uuid4())) == CallInfo()  # never announced: empty after the wait
    assert 0.4 <= loop.time() - started < 2.0


async def test_two_workers_taking_one_call_at_once_give_it_to_one(workers) -> None:
    a, b = workers
    call_id = str(uuid.uuid4())
    takes = asyncio.gather(a.take(call_id), b.take(call_id))
    await asyncio.sleep(0.05)
    await a.announce(call_id, INFO)
    assert sorted(await takes, key=lambda info: info.caller_id) == [CallInfo(), INFO]


async def test_something_else_under_the_key_gives_an_empty_announcement(workers, prefix: str) -> None:
    a, _ = workers
    call_id = str(uuid.uuid4())
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.set(f"{prefix}:announce:{call_id}", b"{not json")
    finally:
        await client.aclose()
    assert await a.take(call_id) == CallInfo()


async def test_a_stopping_worker_hears_lookups_answered_by_another(workers) -> None:
    stopping, other = workers
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    await other.handoff_looked_up(first.upper())

    async def dialplan_asks_the_other_later() -> None:
        await asyncio.sleep(0.2)
        await other.handoff_looked_up(second)

    asker = asyncio.create_task(dialplan_asks_the_other_later())
    assert await stopping.wait_for_lookups([first, second], timeout_s=5.0) == set()
    await asker
    here, unasked = str(uuid.uuid4()), str(uuid.uuid4())
    await stopping.handoff_looked_up(here)  # asked on the stopping worker itself: heard too
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await stopping.wait_for_lookups([here, first, unasked], timeout_s=0.3) == {unasked}  # give up on it
    assert loop.time() - started < 2.0


def _silent_server() -> socket.socket:
    """A TCP server that accepts connections and never answers (a Redis hung or behind a dropped route)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    return server


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("down", ["refused", "silent"])
async def test_redis_out_of_reach_costs_no_call(down: str) -> None:
    server = _silent_server() if down == "silent" else None
    port = server.getsockname()[1] if server is not None else _closed_port()
    directory = RedisCallDirectory.open(f"redis://127.0.0.1:{port}/0", "voicebot-directory-test:down", wait_s=0.5,
                                        op_timeout_s=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        call_id, unknown = str(uuid.uuid4()), str(uuid.uuid4())
        await directory.announce(call_id, INFO)  # kept in this worker's memory
        assert await directory.take(call_id.upper()) == INFO
        assert await directory.take(unknown) == CallInfo()
        await directory.handoff_looked_up(call_id)
        assert await directory.wait_for_lookups([call_id, unknown], timeout_s=0.3) == {unknown}
    finally:
        await directory.close()
        if server is not None:
            server.close()
    assert loop.time() - started < 3.0  # every Redis command bounded by op_timeout_s
