"""The event bus over Redis pub/sub, for several voicebot workers: every worker's subscribers hear every call.

Same interface as the in-process bus (:class:`voicebot.events.Bus`); ``events.bus = "redis"`` selects it.

* ``publish()`` never waits: the event goes to this worker's lossless subscribers at once, in process
  (pub/sub delivers at most once, so the call recorder never depends on Redis: each worker records its
  own calls), and onto a bounded outbox (oldest dropped, with a warning, while Redis is away) that one
  sender task ``PUBLISH``-es as JSON (:meth:`voicebot.events.CallEvent.to_json`) on the channel.
* One receiver task ``SUBSCRIBE``-s to the channel and hands every event it hears (this worker's too)
  to the plain subscribers, each with its own bounded queue, as the in-process bus does.
* Both tasks reconnect with exponential back-off (``reconnect_min_s`` doubling to ``reconnect_max_s``)
  when Redis goes away; events published on the channel meanwhile are not heard (pub/sub keeps none).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import structlog
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from voicebot.call.events import EventBus
from voicebot.events import CallEvent, from_json

log = structlog.get_logger(__name__)

CLOSE_TIMEOUT_S = 2.0  # at close, events still in the outbox get this long to reach Redis


class RedisEventBus:
    """:class:`voicebot.events.Bus` over Redis pub/sub. Create with ``await RedisEventBus.open(...)``."""

    def __init__(self, client: aioredis.Redis, channel: str, *, queue_size: int, reconnect_min_s: float,
                 reconnect_max_s: float) -> None:
        self._client = client
        self._channel = channel
        self._local = EventBus(queue_size)  # lossless subscribers: this worker's events, in process
        self._heard = EventBus(queue_size)  # plain subscribers: every worker's events, from Redis
        self._outbox: asyncio.Queue[str | None] = asyncio.Queue(queue_size)  # None: closing
        self._reconnect = (reconnect_min_s, reconnect_max_s)
        self._subscribed = asyncio.Event()
        self._dropped = 0
        self._sender: asyncio.Task[None] | None = None
        self._receiver: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, url: str, channel: str = "voicebot:events", *, queue_size: int = 1000,
                   reconnect_min_s: float = 0.1, reconnect_max_s: float = 5.0,
                   connect_timeout_s: float = 5.0) -> RedisEventBus:
        """Connect and subscribe. Redis down at start-up does not stop the service: the bus keeps trying
        (and this worker's records never need it)."""
        client = aioredis.from_url(url, health_check_interval=15, socket_connect_timeout=connect_timeout_s)
        bus = cls(client, channel, queue_size=queue_size, reconnect_min_s=reconnect_min_s,
                  reconnect_max_s=reconnect_max_s)
        bus._sender = asyncio.create_task(bus._send(), name="event-bus-redis-send")
        bus._receiver = asyncio.create_task(bus._receive(), name="event-bus-redis-receive")
        try:
            await asyncio.wait_for(bus._subscribed.wait(), connect_timeout_s)
        except TimeoutError:
            log.error("redis event bus not reachable at start-up; retrying in the background", channel=channel)
        return bus

    @property
    def connected(self) -> bool:
        """Whether the receiver is subscribed now."""
        return self._subscribed.is_set()

    def publish(self, event: CallEvent) -> None:
        self._local.publish(event)
        try:
            payload = json.dumps(event.to_json())
        except (TypeError, ValueError):
            log.exception("call event could not be encoded; not sent to redis", type=event.kind)
            return
        if self._outbox.full():
            self._outbox.get_nowait()
            if self._dropped % 100 == 0:
                log.warning("redis event bus is behind; dropped its oldest event", dropped=self._dropped + 1)
            self._dropped += 1
        self._outbox.put_nowait(payload)

    def subscribe(self, *, lossless: bool = False) -> AsyncIterator[CallEvent]:
        """Plain: every worker's events, through Redis. Lossless: this worker's events, every one."""
        return self._local.subscribe(lossless=True) if lossless else self._heard.subscribe()

    async def close(self) -> None:
        """Send what is in the outbox (for up to ``CLOSE_TIMEOUT_S``), stop, end every subscription."""
        await self._local.close()
        if self._outbox.full():
            self._outbox.get_nowait()
        self._outbox.put_nowait(None)
        if self._sender is not None:
            try:
                await asyncio.wait_for(self._sender, CLOSE_TIMEOUT_S)
            except TimeoutError:
                log.warning("redis event bus closed with events not sent", unsent=self._outbox.qsize())
        if self._receiver is not None:
            self._receiver.cancel()
            await asyncio.gather(self._receiver, return_exceptions=True)
        await self._heard.close()
        await self._client.aclose()

    async def _send(self) -> None:
        while (payload := await self._outbox.get()) is not None:
            delay = self._reconnect[0]
            while True:
                try:
                    await self._client.publish(self._channel, payload)
                    break
                except (RedisError, OSError) as error:
                    log.warning("redis event bus cannot publish; retrying", error=str(error), retry_s=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._reconnect[1])

    async def _receive(self) -> None:
        delay = self._reconnect[0]
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self._subscribed.set()
                delay = self._reconnect[0]
                log.info("redis event bus subscribed", channel=self._channel)
                async for message in pubsub.listen():
                    self._hear(message["data"])
            except (RedisError, OSError) as error:
                log.warning("redis event bus lost its subscription; reconnecting", error=str(error), retry_s=delay)
            finally:
                self._subscribed.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._reconnect[1])

    def _hear(self, data: bytes | str) -> None:
        try:
            event = from_json(json.loads(data))
        except ValueError as error:  # json.JSONDecodeError and pydantic's ValidationError are ValueErrors
            log.warning("not a call event on the redis channel; ignored", channel=self._channel, error=str(error))
            return
        self._heard.publish(event)
