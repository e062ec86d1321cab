"""The call directory in Redis, for several workers (``events.bus = redis``): a call's announcement, its
AudioSocket connection and its handoff lookup may each reach a different worker.

* ``announce`` stores the call's :class:`CallInfo` as JSON under ``<channel>:announce:<uuid>`` with the TTL;
  ``take`` reads and deletes it in one step (``GETDEL``), so exactly one worker gets it. An announcement not
  there yet (still in flight) is looked for again every ``poll_s`` for up to ``wait_s``.
* ``handoff_looked_up`` sets ``<channel>:lookup:<uuid>`` (with the TTL), so a stopping worker waiting for the
  lookups of the calls it handed over sees those another worker's web API answered.
* Redis out of reach never costs a call: every Redis command is bounded by ``op_timeout_s``; an announcement
  Redis refuses is kept in this worker's memory (found if the call connects here), a take finds only that,
  a lookup is noted in memory; each with a warning.

``<channel>`` is ``events.redis_channel``: deployments sharing a Redis with different channels do not mix.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Collection
from typing import TypeVar

import structlog
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from voicebot.call.directory import CallInfo, MemoryCallDirectory

log = structlog.get_logger(__name__)

T = TypeVar("T")


class RedisUnavailable(Exception):
    """A Redis command failed or took longer than ``op_timeout_s``."""


class RedisCallDirectory:
    """:class:`voicebot.call.directory.CallDirectory` shared through Redis. Create with :meth:`open`."""

    def __init__(self, client: aioredis.Redis, prefix: str, *, ttl_s: float, wait_s: float, poll_s: float,
                 op_timeout_s: float) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl_ms = max(1, round(ttl_s * 1000))
        self._wait_s, self._poll_s, self._op_timeout_s = wait_s, poll_s, op_timeout_s
        self._memory = MemoryCallDirectory(ttl_s)  # announcements Redis refused; lookups answered here

    @classmethod
    def open(cls, url: str, prefix: str, *, ttl_s: float = 120.0, wait_s: float = 0.5, poll_s: float = 0.02,
             op_timeout_s: float = 0.5) -> RedisCallDirectory:
        """Connects at its first command: Redis down at start-up does not stop the service."""
        client = aioredis.from_url(url, socket_connect_timeout=op_timeout_s, socket_timeout=op_timeout_s)
        return cls(client, prefix, ttl_s=ttl_s, wait_s=wait_s, poll_s=poll_s, op_timeout_s=op_timeout_s)

    def _key(self, kind: str, call_id: str) -> str:
        return f"{self._prefix}:{kind}:{call_id.lower()}"

    async def _redis(self, command: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self._op_timeout_s):
                return await command
        except (RedisError, OSError, TimeoutError) as error:
            raise RedisUnavailable(str(error) or type(error).__name__) from error

    async def announce(self, call_id: str, info: CallInfo) -> None:
        try:
            await self._redis(self._client.set(self._key("announce", call_id), json.dumps(info.to_json()),
                                               px=self._ttl_ms))
        except RedisUnavailable as error:
            log.warning("redis not reachable; announcement kept in this worker's memory only (the call finds it "
                        "only if it connects here)", call_id=call_id.lower(), error=str(error))
            self._memory.keep(call_id, info)

    async def take(self, call_id: str) -> CallInfo:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_s
        while True:
            if (kept := self._memory.pop(call_id)) is not None:
                return kept
            try:
                raw = await self._redis(self._client.getdel(self._key("announce", call_id)))
            except RedisUnavailable as error:
                log.warning("redis not reachable; the call runs without an announcement unless this worker kept "
                            "one", call_id=call_id.lower(), error=str(error))
                return CallInfo()
            if raw is not None:
                try:
                    return CallInfo.from_json(json.loads(raw))
                except ValueError as error:
                    log.warning("not a call announcement in redis; ignored", call_id=call_id.lower(),
                                error=str(error))
                    return CallInfo()
            if loop.time() + self._poll_s > deadline:
                return CallInfo()
            await asyncio.sleep(self._poll_s)

    async def handoff_looked_up(self, call_id: str) -> None:
        self._memory.note_lookup(call_id)
        try:
            await self._redis(self._client.set(self._key("lookup", call_id), b"1", px=self._ttl_ms))
        except RedisUnavailable as error:
            log.warning("redis not reachable; handoff lookup noted on this worker only", call_id=call_id.lower(),
                        error=str(error))

    async def wait_for_lookups(self, call_ids: Collection[str], timeout_s: float) -> set[str]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        waiting = {c.lower() for c in call_ids}
        while waiting := self._memory.not_looked_up(waiting):
            ordered = sorted(waiting)
            try:
                found = await self._redis(self._client.mget([self._key("lookup", c) for c in ordered]))
                waiting = {c for c, seen in zip(ordered, found, strict=True) if seen is None}
            except RedisUnavailable as error:
                log.warning("redis not reachable; waiting for handoff lookups answered here",
                            waiting=len(waiting), error=str(error))
            if not waiting or loop.time() >= deadline:
                break
            await self._memory.next_lookup(min(self._poll_s * 5, deadline - loop.time()))
        return waiting

    async def close(self) -> None:
        await self._client.aclose()
